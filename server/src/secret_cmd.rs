//! `stowage secret`: makes sure a cluster secret file exists, owned by the nodes' user. A
//! compose cluster runs it once, as root, into the volume its nodes then read the secret from.

use crate::config::read_secret_file;
use crate::launch::write_secret_file;
use anyhow::Context;
use std::path::PathBuf;
use stowage_raft::ClusterSecret;

#[derive(Debug, Clone, clap::Args)]
pub struct SecretArgs {
    /// The secret file; one that already holds a secret is kept as it is.
    #[arg(long)]
    pub file: PathBuf,
    /// The numeric user id that must own the file (the nodes' user).
    #[arg(long)]
    pub owner: Option<u32>,
    /// The secret to write into a new file; a random one when not given.
    #[arg(long, env = "STOWAGE_CLUSTER_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

pub fn run(args: SecretArgs) -> anyhow::Result<u8> {
    if args.file.exists() {
        // The nodes' data belongs to the secret they started with: never replace it.
        read_secret_file(&args.file)?;
    } else {
        let secret = match args.secret.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => ClusterSecret::new(s).context("the secret given")?,
            None => ClusterSecret::generate(),
        };
        write_secret_file(&args.file, &secret)
            .with_context(|| format!("cannot write {}", args.file.display()))?;
    }
    if let Some(uid) = args.owner {
        give_to(&args.file, uid)?;
    }
    Ok(0)
}

/// Makes user `uid` the owner of `path` (the nodes' user, for files root wrote for them).
pub fn give_to(path: &std::path::Path, uid: u32) -> anyhow::Result<()> {
    rustix::fs::chown(path, Some(rustix::fs::Uid::from_raw(uid)), None)
        .with_context(|| format!("cannot give {} to user {uid}", path.display()))
}
