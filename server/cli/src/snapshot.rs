//! `stowage operator snapshot save|restore|inspect`: an archive of every table, written to a
//! file and checked before it is kept, or checked and then restored onto a cluster. A progress
//! bar shows on a terminal.

use crate::client::Client;
use crate::table::pairs;
use anyhow::{Context, bail};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use stowage_proto::archive;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SnapshotCmd {
    /// Save a consistent archive of every table to a file.
    Save { file: PathBuf },
    /// Replace every table of the cluster with an archive's.
    Restore { file: PathBuf },
    /// Show what an archive holds, after checking it.
    Inspect { file: PathBuf },
}

/// A byte-counting bar on a terminal's stderr; hidden otherwise, so scripts see no noise.
fn progress(len: Option<u64>, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len.unwrap_or(0));
    let style =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what);
    bar
}

pub async fn run(client: &Client, cmd: SnapshotCmd) -> anyhow::Result<()> {
    match cmd {
        SnapshotCmd::Save { file } => save(client, &file).await,
        SnapshotCmd::Restore { file } => restore(client, &file).await,
        SnapshotCmd::Inspect { file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("Error reading {}", file.display()))?;
            let (h, _) = archive::open(&bytes)
                .with_context(|| format!("Error verifying snapshot file {}", file.display()))?;
            println!(
                "{}",
                pairs(&[
                    ("Index", h.index.to_string()),
                    ("Term", h.term.to_string()),
                    ("Created", h.created),
                    ("Node", h.node_id.to_string()),
                    ("Size", bytes.len().to_string()),
                    ("Volumes", h.volumes.to_string()),
                    ("Claims", h.claims.to_string()),
                    ("Plugins", h.plugins.to_string()),
                    ("Namespaces", h.namespaces.to_string()),
                    ("ACL Policies", h.acl_policies.to_string()),
                    ("ACL Tokens", h.acl_tokens.to_string()),
                    ("Version", h.version),
                ])
            );
            Ok(())
        }
    }
}

/// Streams the archive into `<file>.partial`, checks it, then renames it into place: a failed
/// or corrupt download never leaves a file that looks like a backup.
async fn save(client: &Client, file: &Path) -> anyhow::Result<()> {
    let resp = client
        .send(client.request(Method::GET, "/v1/operator/snapshot"))
        .await
        .context("Failed to get snapshot file")?;
    let bar = progress(resp.content_length(), "saving");
    let partial = file.with_extension("partial");
    let mut out = std::fs::File::create(&partial)
        .with_context(|| format!("Error creating {}", partial.display()))?;
    let mut bytes = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("Failed to get snapshot file: the download broke off")?;
        out.write_all(&chunk)
            .with_context(|| format!("Error writing {}", partial.display()))?;
        bytes.extend_from_slice(&chunk);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    out.sync_all()
        .with_context(|| format!("Error writing {}", partial.display()))?;
    if let Err(e) = archive::open(&bytes) {
        let _ = std::fs::remove_file(&partial);
        bail!("The snapshot received is not usable: {e}");
    }
    std::fs::rename(&partial, file)
        .with_context(|| format!("Error moving the snapshot to {}", file.display()))?;
    println!("State file written to {}", file.display());
    Ok(())
}

/// Checks the archive here first, so a damaged file is refused without a round trip, then sends
/// it in chunks that move the bar.
async fn restore(client: &Client, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("Error reading {}", file.display()))?;
    archive::open(&bytes)
        .with_context(|| format!("Error verifying snapshot file {}", file.display()))?;
    let bar = progress(Some(bytes.len() as u64), "restoring");
    let counter = bar.clone();
    let chunks: Vec<Vec<u8>> = bytes.chunks(1 << 20).map(<[u8]>::to_vec).collect();
    let stream = futures::stream::iter(chunks).map(move |c| {
        counter.inc(c.len() as u64);
        Ok::<_, std::io::Error>(c)
    });
    let req = client
        .request(Method::PUT, "/v1/operator/snapshot")
        .header(reqwest::header::CONTENT_LENGTH, bytes.len())
        .body(reqwest::Body::wrap_stream(stream));
    let sent = client.send(req).await;
    bar.finish_and_clear();
    sent.context("Error restoring snapshot")?;
    println!("Snapshot Restored");
    Ok(())
}
