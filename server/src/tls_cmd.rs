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
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    let tmp = to.with_extension("pem.tmp");
    // Left by an earlier run that stopped midway: made again below, with the mode from the start.
    let _ = std::fs::remove_file(&tmp);
    // Created with its final mode, so a key is never readable by others, even for a moment.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&bytes))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    // The mode asked for at creation passes through the umask; this one does not.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    if let Some(uid) = owner {
        crate::secret_cmd::give_to(&tmp, uid)?;
    }
    std::fs::rename(&tmp, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("installed")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn installs_certificates_and_keys_but_never_the_cas_key() {
        let from = tempfile::tempdir().expect("tempdir");
        let to = tempfile::tempdir().expect("tempdir");
        for name in [
            "ca.pem",
            "ca-key.pem",
            "node1.pem",
            "node1-key.pem",
            "notes.txt",
        ] {
            std::fs::write(from.path().join(name), name).expect("write");
        }
        let args = InstallArgs {
            from: from.path().to_path_buf(),
            to: to.path().join("tls"),
            owner: None,
        };
        assert_eq!(install(&args).expect("install"), 0);
        let dest = to.path().join("tls");
        assert_eq!(mode(&dest.join("ca.pem")), 0o444);
        assert_eq!(mode(&dest.join("node1.pem")), 0o444);
        assert_eq!(mode(&dest.join("node1-key.pem")), 0o400);
        assert_eq!(
            std::fs::read_to_string(dest.join("node1-key.pem")).expect("read"),
            "node1-key.pem"
        );
        assert!(!dest.join("ca-key.pem").exists());
        assert!(!dest.join("notes.txt").exists());
        // Run again (the next `up`): the copies are replaced, not refused.
        std::fs::write(from.path().join("node1.pem"), "renewed").expect("write");
        assert_eq!(install(&args).expect("install again"), 0);
        assert_eq!(
            std::fs::read_to_string(dest.join("node1.pem")).expect("read"),
            "renewed"
        );
    }

    #[test]
    fn a_directory_without_a_ca_is_refused_with_the_remedy() {
        let from = tempfile::tempdir().expect("tempdir");
        let args = InstallArgs {
            from: from.path().to_path_buf(),
            to: from.path().join("tls"),
            owner: None,
        };
        let err = install(&args).expect_err("no ca.pem");
        assert!(err.to_string().contains("make-certs.sh"), "{err}");
        assert!(!from.path().join("tls").exists());
    }
}
