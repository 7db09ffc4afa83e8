//! `stowage operator raft …`: the cluster's members as Nomad's `operator raft` shows them, and
//! taking a dead member out, over the public API.

use crate::client::{Client, encode};
use crate::output::{Output, print_json};
use crate::table::columns;
use anyhow::{Context, bail};
use reqwest::Method;
use stowage_proto::api::ApiRaftConfiguration;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RaftCmd {
    /// Show the Raft peers: each member's node, ID, address, state and vote.
    ListPeers {
        /// Answer from the node asked, without confirming with the leader.
        #[arg(long)]
        stale: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Remove a member (a dead server, before its replacement joins) by ID or RPC address.
    RemovePeer {
        #[arg(long = "peer-id")]
        peer_id: Option<String>,
        #[arg(long = "peer-address")]
        peer_address: Option<String>,
    },
}

pub async fn run(client: &Client, cmd: RaftCmd) -> anyhow::Result<()> {
    match cmd {
        RaftCmd::ListPeers { stale, out } => {
            let path = if stale {
                "/v1/operator/raft/configuration?stale=true"
            } else {
                "/v1/operator/raft/configuration"
            };
            let config: ApiRaftConfiguration = client
                .get(path)
                .await
                .context("Failed to retrieve raft configuration")?;
            if out.json {
                return print_json(&config);
            }
            let rows: Vec<Vec<String>> = config
                .servers
                .iter()
                .map(|s| {
                    let state = if s.leader {
                        "leader"
                    } else if s.voter {
                        "follower"
                    } else {
                        "learner"
                    };
                    vec![
                        s.node.clone(),
                        s.id.clone(),
                        s.address.clone(),
                        state.into(),
                        s.voter.to_string(),
                        s.raft_protocol.clone(),
                    ]
                })
                .collect();
            println!(
                "{}",
                columns(
                    &["Node", "ID", "Address", "State", "Voter", "RaftProtocol"],
                    &rows
                )
            );
            Ok(())
        }
        RaftCmd::RemovePeer {
            peer_id,
            peer_address,
        } => {
            let (query, who) = match (peer_id, peer_address) {
                (Some(id), None) => (format!("id={}", encode(&id)), format!("ID {id:?}")),
                (None, Some(a)) => (format!("address={}", encode(&a)), format!("address {a:?}")),
                _ => bail!("Exactly one of -peer-id and -peer-address must be given"),
            };
            client
                .write::<()>(
                    Method::DELETE,
                    &format!("/v1/operator/raft/peer?{query}"),
                    None,
                )
                .await
                .context("Failed to remove raft peer")?;
            println!("Removed peer with {who}");
            Ok(())
        }
    }
}
