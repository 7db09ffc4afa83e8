//! Operator commands: `operator raft` over the HTTP API, as Nomad's; and, over the internal
//! gRPC API, show members, add a learner, change voters. Like every caller of that API, those
//! need the cluster secret, or, with TLS on, a certificate the cluster's CA signed.

use crate::config::read_secret_file;
use crate::tls::{FileTls, TlsFileArgs};
use anyhow::{Context, bail};
use std::path::PathBuf;
use stowage_cli::{ApiArgs, ApiCommand, RaftCmd, SnapshotCmd};
use stowage_proto::api::CsiError;
use stowage_proto::codec;
use stowage_proto::pb::{
    AddLearnerRequest, ChangeMembershipRequest, MembershipReply, NodeInfoReply, NodeInfoRequest,
};
use stowage_raft::{ClusterClient, ClusterSecret, Member, RpcTls};

/// How an operator command proves it may talk to the cluster.
#[derive(Debug, Clone, clap::Args)]
pub struct RpcArgs {
    /// A file holding the cluster secret (`stowage dev` keeps one in its data dir).
    #[arg(long, env = "STOWAGE_CLUSTER_SECRET_FILE", global = true)]
    pub cluster_secret_file: Option<PathBuf>,
    /// The cluster secret itself.
    #[arg(
        long,
        env = "STOWAGE_CLUSTER_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub cluster_secret: Option<ClusterSecret>,
    #[command(flatten)]
    pub tls: TlsFileArgs,
}

/// What every call to the RPC port carries.
struct Rpc {
    secret: ClusterSecret,
    tls: Option<RpcTls>,
}

impl RpcArgs {
    fn rpc(&self) -> anyhow::Result<Rpc> {
        let files = self.tls.clone().files(FileTls::default())?;
        let tls = files.map(|f| RpcTls::load(&f)).transpose()?;
        let secret = match (&self.cluster_secret, &self.cluster_secret_file, &tls) {
            (Some(s), ..) => s.clone(),
            (None, Some(f), _) => read_secret_file(f)?,
            // Members with TLS and no secret share the value derived from their CA.
            (None, None, Some(tls)) => tls.derived_secret(),
            (None, None, None) => bail!(
                "the cluster secret is required (--cluster-secret-file or STOWAGE_CLUSTER_SECRET), or TLS (--tls-ca-file, --tls-cert-file, --tls-key-file)"
            ),
        };
        Ok(Rpc { secret, tls })
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct OperatorArgs {
    #[command(subcommand)]
    pub cmd: OperatorCmd,
    #[command(flatten)]
    pub rpc: RpcArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum OperatorCmd {
    /// The Raft peers, and removing one, over the HTTP API (as `nomad operator raft`).
    Raft {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        cmd: RaftCmd,
    },
    /// Save, restore or inspect a snapshot archive over the HTTP API (as `nomad operator
    /// snapshot`).
    Snapshot {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        cmd: SnapshotCmd,
    },
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

fn connect(addr: &str, rpc: &Rpc) -> anyhow::Result<ClusterClient> {
    stowage_raft::cluster_client_tls(addr, &rpc.secret, rpc.tls.as_ref())
        .with_context(|| format!("cannot reach {addr}"))
}

async fn info(addr: &str, rpc: &Rpc) -> anyhow::Result<NodeInfoReply> {
    let reply = connect(addr, rpc)?
        .node_info(NodeInfoRequest {})
        .await
        .map_err(|s| anyhow::anyhow!("{addr}: {}", s.message()))?;
    Ok(reply.into_inner())
}

/// Membership changes must be made on the leader; find it through any node.
async fn leader(addr: &str, rpc: &Rpc) -> anyhow::Result<ClusterClient> {
    let i = info(addr, rpc).await?;
    if !i.has_leader {
        bail!("the cluster has no leader right now; try again");
    }
    connect(&i.leader_rpc_addr, rpc)
}

fn check(reply: Result<tonic::Response<MembershipReply>, tonic::Status>) -> anyhow::Result<()> {
    let reply = reply
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    if reply.error.is_empty() {
        println!("done at log index {}", reply.index);
        return Ok(());
    }
    match codec::decode::<CsiError>(&reply.error) {
        Ok(e) => bail!("{e}"),
        Err(e) => bail!("undecodable error: {e}"),
    }
}

pub async fn run(args: OperatorArgs) -> anyhow::Result<u8> {
    let (api, cmd) = match args.cmd {
        OperatorCmd::Raft { api, cmd } => (api, ApiCommand::Raft(cmd)),
        OperatorCmd::Snapshot { api, cmd } => (api, ApiCommand::Snapshot(cmd)),
        over_rpc => return over_grpc(over_rpc, &args.rpc).await,
    };
    stowage_cli::run(&api, cmd).await?;
    Ok(0)
}

/// The commands that talk to the internal gRPC API, with the cluster secret or a certificate.
async fn over_grpc(cmd: OperatorCmd, args: &RpcArgs) -> anyhow::Result<u8> {
    let rpc = args.rpc()?;
    match cmd {
        // `run` sends these over HTTP before it gets here.
        OperatorCmd::Raft { .. } | OperatorCmd::Snapshot { .. } => {
            bail!("operator raft and operator snapshot are HTTP commands")
        }
        OperatorCmd::Members { rpc_addr } => {
            let i = info(&rpc_addr, &rpc).await?;
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
            check(leader(&rpc_addr, &rpc).await?.add_learner(req).await)?;
        }
        OperatorCmd::ChangeMembership {
            rpc_addr,
            voters,
            retain,
        } => {
            let req = ChangeMembershipRequest { voters, retain };
            check(leader(&rpc_addr, &rpc).await?.change_membership(req).await)?;
        }
    }
    Ok(0)
}
