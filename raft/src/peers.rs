//! One reusable gRPC channel per peer address, shared by Raft replication and forwarding.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// Largest message either side accepts; snapshots are chunked well below it.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

#[derive(Clone, Debug, Default)]
pub struct Peers {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    source: Option<IpAddr>,
}

impl Peers {
    pub fn new(source: Option<IpAddr>) -> Self {
        Peers {
            channels: Arc::default(),
            source,
        }
    }

    /// The channel for `addr`, created lazily: it connects on first use and reconnects itself.
    pub fn channel(&self, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ch) = map.get(addr) {
            return Ok(ch.clone());
        }
        let ch = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .local_address(self.source)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5))
            .connect_lazy();
        map.insert(addr.to_string(), ch.clone());
        Ok(ch)
    }

    /// Drops the cached channel after the peer proved unreachable, so the next call dials afresh
    /// instead of waiting out the old channel's reconnect backoff.
    pub fn invalidate(&self, addr: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(addr);
    }
}

/// True when a gRPC failure happened before the request could have been processed by the peer,
/// so a retry cannot duplicate it: the connection could not be made, the request was still queued
/// when the connection closed, or the peer refused the stream unprocessed (`REFUSED_STREAM`, or a
/// `GOAWAY` that excluded it).
pub fn never_sent(status: &tonic::Status) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NotFound
            )
        {
            return true;
        }
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_canceled())
        {
            return true;
        }
        if let Some(h2) = err.downcast_ref::<h2::Error>()
            && ((h2.is_go_away() && h2.is_remote())
                || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
        {
            return true;
        }
        if err.to_string().contains("tcp connect error") {
            return true;
        }
        source = err.source();
    }
    false
}
