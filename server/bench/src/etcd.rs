//! etcd as the users' other choice: Debian's `etcd-server` as three members on loopback, with
//! etcd's defaults (fsync on every WAL write included); only logging is turned down.

use crate::procs::{Group, Launch, Member};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// Finds the etcd binary: `$ETCD`, then `etcd` on the path.
pub fn find_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("ETCD") {
        return Ok(PathBuf::from(p));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("etcd"))
        .find(|p| p.is_file())
        .context(
            "no etcd binary: install Debian's etcd-server (`cargo xtask bench` does), set \
             ETCD=/path/to/etcd, or pass --no-etcd",
        )
}

/// The version line etcd prints, for the report.
pub fn version(bin: &Path) -> String {
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// Three etcd members under `root`, not started yet.
pub fn group(bin: PathBuf, root: &Path) -> anyhow::Result<Group> {
    let launch: Launch = Box::new(move |m: &Member, all: &[Member]| {
        let cluster = all
            .iter()
            .map(|m| format!("m{}=http://{}", m.index + 1, m.peer))
            .collect::<Vec<_>>()
            .join(",");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)?;
        let client = format!("http://{}", m.client);
        let peer = format!("http://{}", m.peer);
        let mut cmd = Command::new(&bin);
        cmd.args(["--name", &format!("m{}", m.index + 1)])
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &cluster])
            .args([
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                "bench",
            ])
            .args(["--logger", "zap", "--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        Ok(cmd)
    });
    Group::new("etcd", root, launch)
}
