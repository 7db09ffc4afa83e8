//! What network faults do to a cluster's links, whatever carries them: the link proxies of a run
//! on this machine, or Docker's network under compose.

use crate::nodes::NodeAddrs;
use std::time::Duration;

#[allow(async_fn_in_trait)]
pub trait Network {
    /// The cluster's nodes and where the run reaches them.
    fn nodes(&self) -> &[NodeAddrs];

    /// The node whose advertised RPC address is `addr`.
    fn id_of(&self, addr: &str) -> Option<u64> {
        self.nodes()
            .iter()
            .find(|n| n.advertised == addr)
            .map(|n| n.id)
    }

    /// Cuts `victim` off from every other node, both ways. False if the cut could not be made.
    async fn cut_off(&self, victim: u64) -> bool;

    /// Makes `victim`'s links to and from every other node go silent: packets vanish, so calls
    /// time out. For where a node cannot be frozen. False where this network cannot, or the
    /// silence could not be made.
    async fn silence(&self, victim: u64) -> bool;

    /// `from` can no longer reach `to`'s RPC port; `to` still reaches `from`. False if the cut
    /// could not be made.
    async fn cut_one_way(&self, from: u64, to: u64) -> bool;

    /// Adds `delay` to every link. False where this network cannot.
    async fn delay_all(&self, delay: Duration) -> bool;

    /// Restores every link.
    async fn heal(&self);
}
