//! `stowage tls install`: puts a cluster's certificates where its containers read them, owned by
//! the nodes' user, each key readable by that user alone. A compose cluster over TLS runs it as
//! root before every start, from the host directory `deploy/tls/make-certs.sh` filled (files the
//! nodes' user could not read there), so renewed certificates reach the nodes on the next `up`.

use anyhow::{Context, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum TlsCmd {
    /// Copy the CA certificate and every certificate and key from one directory into another,
    /// leaving out the CA's key.
    Install(InstallArgs),
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The directory holding `ca.pem` and the `NAME.pem`/`NAME-key.pem` pairs.
    #[arg(long)]
    pub from: PathBuf,
    /// Where the containers read them.
    #[arg(long)]
    pub to: PathBuf,
    /// The numeric user id that must own the copies (the nodes' user).
    #[arg(long)]
    pub owner: Option<u32>,
}

/// The CA's private key signs certificates: it never goes where the nodes can read it.
const CA_KEY: &str = "ca-key.pem";

pub fn run(cmd: TlsCmd) -> anyhow::Result<u8> {
    match cmd {
        TlsCmd::Install(args) => install(&args),
    }
}

fn install(args: &InstallArgs) -> anyhow::Result<u8> {
    if !args.from.join("ca.pem").is_file() {
        bail!(
            "{} holds no ca.pem: make the certificates first, with \
             deploy/tls/make-certs.sh {} node1 node2 node3 gateway",
            args.from.display(),
            args.from.display()
        );
    }
    std::fs::create_dir_all(&args.to)
        .with_context(|| format!("cannot make {}", args.to.display()))?;
    let entries = std::fs::read_dir(&args.from)
        .with_context(|| format!("cannot list {}", args.from.display()))?;
    let mut copied = 0;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".pem") || name == CA_KEY || !path.is_file() {
            continue;
        }
        let mode = if name.ends_with("-key.pem") {
            0o400
        } else {
            0o444
        };
        copy(&path, &args.to.join(name), mode, args.owner)?;
        copied += 1;
    }
    println!("installed {copied} files into {}", args.to.display());
    Ok(0)
}

/// Copies `from` to `to` through a temporary file renamed into place, so that a node never reads
/// half a certificate, with `mode` and `owner` set before the rename.
fn copy(from: &Path, to: &Path, mode: u32, owner: Option<u32>) -> anyhow::Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    let tmp = to.with_extension("pem.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    if let Some(uid) = owner {
        crate::secret_cmd::give_to(&tmp, uid)?;
    }
    std::fs::rename(&tmp, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(())
}
