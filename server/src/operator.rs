//! Operator commands over the internal gRPC API: show members, add a learner, change voters.

use anyhow::{Context, bail};
use std::time::Duration;
use stowage_proto::pb::cluster_service_client::ClusterServiceClient;
use stowage_proto::pb::{
    AddLearnerRequest, ChangeMembershipRequest, MembershipReply, NodeInfoReply, NodeInfoRequest,
};
use stowage_proto::{ClusterError, codec};
use stowage_raft::Member;
use tonic::transport::Channel;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum OperatorCmd {
    /// Show each member's id, addresses and role, and the leader.
    Members {
        /// Any node's RPC address.
        #[arg(long, default_value = "127.0.0.1:4647")]
        rpc_addr: String,
    },
    /// Add a node as a learner; it receives the log but does not vote yet.
    AddLearner {
        #[arg(long, default_value = "127.0.0.1:4647")]
        rpc_addr: String,
        #[arg(long)]
        id: u64,
        #[arg(long)]
        node_rpc_addr: String,
        #[arg(long)]
        node_http_addr: String,
    },
    /// Set the voters to exactly these ids (comma separated).
    ChangeMembership {
        #[arg(long, default_value = "127.0.0.1:4647")]
        rpc_addr: String,
        #[arg(long, value_delimiter = ',', required = true)]
        voters: Vec<u64>,
        /// Keep removed voters as learners.
        #[arg(long)]
        retain: bool,
    },
}

async fn connect(addr: &str) -> anyhow::Result<ClusterServiceClient<Channel>> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .with_context(|| format!("cannot reach {addr}"))?;
    Ok(ClusterServiceClient::new(ch))
}

async fn info(addr: &str) -> anyhow::Result<NodeInfoReply> {
    Ok(connect(addr)
        .await?
        .node_info(NodeInfoRequest {})
        .await?
        .into_inner())
}

/// Membership changes must be made on the leader; find it through any node.
async fn leader(addr: &str) -> anyhow::Result<ClusterServiceClient<Channel>> {
    let i = info(addr).await?;
    if !i.has_leader {
        bail!("the cluster has no leader right now; try again");
    }
    connect(&i.leader_rpc_addr).await
}

fn check(reply: MembershipReply) -> anyhow::Result<()> {
    if reply.error.is_empty() {
        println!("done at log index {}", reply.index);
        return Ok(());
    }
    match codec::decode::<ClusterError>(&reply.error) {
        Ok(e) => bail!("{e}"),
        Err(e) => bail!("undecodable error: {e}"),
    }
}

pub async fn run(cmd: OperatorCmd) -> anyhow::Result<u8> {
    match cmd {
        OperatorCmd::Members { rpc_addr } => {
            let i = info(&rpc_addr).await?;
            let members: Vec<Member> = codec::decode(&i.members)?;
            println!(
                "{:<4} {:<22} {:<22} {:<8} leader",
                "id", "rpc", "http", "role"
            );
            for m in members {
                let role = if m.voter { "voter" } else { "learner" };
                let lead = if i.has_leader && i.leader_id == m.id {
                    "*"
                } else {
                    ""
                };
                println!(
                    "{:<4} {:<22} {:<22} {:<8} {lead}",
                    m.id, m.rpc_addr, m.http_addr, role
                );
            }
        }
        OperatorCmd::AddLearner {
            rpc_addr,
            id,
            node_rpc_addr,
            node_http_addr,
        } => {
            let req = AddLearnerRequest {
                id,
                rpc_addr: node_rpc_addr,
                http_addr: node_http_addr,
            };
            check(
                leader(&rpc_addr)
                    .await?
                    .add_learner(req)
                    .await?
                    .into_inner(),
            )?;
        }
        OperatorCmd::ChangeMembership {
            rpc_addr,
            voters,
            retain,
        } => {
            let req = ChangeMembershipRequest { voters, retain };
            check(
                leader(&rpc_addr)
                    .await?
                    .change_membership(req)
                    .await?
                    .into_inner(),
            )?;
        }
    }
    Ok(0)
}
