//! stowage-cli owns the operator's command line: `stowage <noun> <verb>`, modelled on `nomad`.
//! Every command speaks the public HTTP API of any node, as any other client does, and Nomad's
//! volume specification files (HCL or JSON) are read here.
//!
//! Must not depend on: rocksdb, openraft, stowage-raft, axum.

mod acl;
mod client;
mod output;
mod plugin;
mod raft;
mod snapshot;
pub mod spec;
mod table;
mod volume;
mod volume_view;

pub use acl::{AclCmd, NamespaceCmd};
pub use client::{ApiArgs, ApiError, Client, tls_client_builder};
pub use plugin::PluginCmd;
pub use raft::RaftCmd;
pub use snapshot::SnapshotCmd;
pub use volume::VolumeCmd;

use std::ffi::OsString;

/// One command of the API families, with where to send it.
#[derive(Debug, Clone)]
pub enum ApiCommand {
    Volume(VolumeCmd),
    Plugin(PluginCmd),
    Namespace(NamespaceCmd),
    Acl(AclCmd),
    Raft(RaftCmd),
    Snapshot(SnapshotCmd),
}

/// Runs `cmd` against the node `api` names.
pub async fn run(api: &ApiArgs, cmd: ApiCommand) -> anyhow::Result<()> {
    let client = Client::new(api)?;
    match cmd {
        ApiCommand::Volume(c) => volume::run(&client, c).await,
        ApiCommand::Plugin(c) => plugin::run(&client, c).await,
        ApiCommand::Namespace(c) => acl::namespace(&client, c).await,
        ApiCommand::Acl(c) => acl::run(&client, c).await,
        ApiCommand::Raft(c) => raft::run(&client, c).await,
        ApiCommand::Snapshot(c) => snapshot::run(&client, c).await,
    }
}

/// Nomad's flags take one dash (`-address=…`, `-json`); clap's long flags take two. A word of
/// two or more letters after a single dash is read as the long flag it names, so both spellings
/// work. `-` alone (stdin), `--…`, single-letter flags such as `-h`, everything after `--`, and
/// arguments that are not UTF-8 are left as they are. (A value that itself looks like a
/// one-dash word must be written `-flag=value`.)
pub fn nomad_style_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut rest_are_values = false;
    for arg in args {
        if rest_are_values || arg == "--" {
            rest_are_values = true;
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        let name = text.strip_prefix('-').filter(|r| !r.starts_with('-'));
        let long = name.is_some_and(|n| {
            let word = n.split('=').next().unwrap_or_default();
            word.len() >= 2
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        });
        out.push(if long { format!("-{text}").into() } else { arg });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_dash_words_become_long_flags() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            nomad_style_args(args(&[
                "stowage",
                "volume",
                "status",
                "-json",
                "-address=http://x:1",
                "-h",
                "-",
                "--verbose",
                "-5"
            ])),
            args(&[
                "stowage",
                "volume",
                "status",
                "--json",
                "--address=http://x:1",
                "-h",
                "-",
                "--verbose",
                "-5"
            ])
        );
        assert_eq!(
            nomad_style_args(args(&["stowage", "volume", "register", "--", "-odd-file"])),
            args(&["stowage", "volume", "register", "--", "-odd-file"])
        );
    }
}
