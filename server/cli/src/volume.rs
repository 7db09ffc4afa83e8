//! `stowage volume …`: init, register, status, deregister, detach, claim and release, as
//! Nomad's `nomad volume` does them, over the public API.

use crate::client::{Client, encode};
use crate::output::{Output, print_json};
use crate::spec;
use crate::volume_view::{detail, stub_rows};
use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::json;
use std::io::Read as _;
use std::path::PathBuf;
use stowage_proto::api::{ApiVolume, VolumeStub};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum VolumeCmd {
    /// Write a commented example volume specification (volume.hcl, or volume.json with -json).
    Init {
        /// Write the example in JSON instead of HCL.
        #[arg(long)]
        json: bool,
        /// Where to write it.
        file: Option<PathBuf>,
    },
    /// Register or update a volume from a specification file (HCL or JSON), `-` for stdin.
    Register {
        /// The namespace of a spec that names none.
        #[command(flatten)]
        ns: NamespaceArg,
        /// Override soft-mandatory policies, as Nomad's flag of that name.
        #[arg(long)]
        policy_override: bool,
        file: String,
    },
    /// List volumes, or show one volume (by ID or unique ID prefix) with its claims.
    Status {
        #[command(flatten)]
        ns: NamespaceArg,
        #[command(flatten)]
        out: Output,
        /// Only volumes of this plugin (an ID prefix).
        #[arg(long = "plugin-id", alias = "plugin_id")]
        plugin_id: Option<String>,
        /// Show parameters, context, capabilities and requested capacity too.
        #[arg(long)]
        verbose: bool,
        id: Option<String>,
    },
    /// Remove a volume; with `-force`, even while claims are being released (never while one
    /// is still taken).
    Deregister {
        #[command(flatten)]
        ns: NamespaceArg,
        #[arg(long)]
        force: bool,
        id: String,
    },
    /// Free every claim a client node holds on a volume.
    Detach {
        #[command(flatten)]
        ns: NamespaceArg,
        id: String,
        node: String,
    },
    /// Claim a volume for an allocation on a node (what Nomad's clients do before mounting).
    Claim {
        #[command(flatten)]
        ns: NamespaceArg,
        #[arg(long = "alloc")]
        alloc: String,
        #[arg(long)]
        node: String,
        /// `read` or `write`.
        #[arg(long, default_value = "write")]
        mode: String,
        #[arg(long = "access-mode")]
        access_mode: Option<String>,
        #[arg(long = "attachment-mode")]
        attachment_mode: Option<String>,
        id: String,
    },
    /// Release an allocation's claim on a volume (marks it ready to free).
    Release {
        #[command(flatten)]
        ns: NamespaceArg,
        #[arg(long = "alloc")]
        alloc: String,
        /// The claim's node; found from the volume when left out.
        #[arg(long)]
        node: Option<String>,
        id: String,
    },
}

/// `-namespace`, or `NOMAD_NAMESPACE`; the server's default when neither is given.
#[derive(Debug, Clone, clap::Args)]
pub struct NamespaceArg {
    #[arg(long, env = "NOMAD_NAMESPACE")]
    pub namespace: Option<String>,
}

impl NamespaceArg {
    /// `?namespace=…` (or nothing), to append to a path that has no query yet.
    pub fn query(&self) -> String {
        self.namespace
            .as_deref()
            .map_or_else(String::new, |ns| format!("?namespace={}", encode(ns)))
    }
}

pub async fn run(client: &Client, cmd: VolumeCmd) -> anyhow::Result<()> {
    match cmd {
        VolumeCmd::Init { json, file } => init(json, file),
        VolumeCmd::Register {
            ns,
            policy_override,
            file,
        } => register(client, &ns, &file, policy_override).await,
        VolumeCmd::Status {
            ns,
            out,
            plugin_id,
            verbose,
            id,
        } => status(client, &ns, out, plugin_id, verbose, id).await,
        VolumeCmd::Deregister { ns, force, id } => {
            let sep = if ns.query().is_empty() { '?' } else { '&' };
            let force = if force {
                format!("{sep}force=true")
            } else {
                String::new()
            };
            let path = format!("/v1/volume/csi/{}{}{force}", encode(&id), ns.query());
            client
                .write::<()>(Method::DELETE, &path, None)
                .await
                .context("Error deregistering volume")?;
            println!("Successfully deregistered volume {id:?}");
            Ok(())
        }
        VolumeCmd::Detach { ns, id, node } => {
            let q = match ns.query() {
                q if q.is_empty() => format!("?node={}", encode(&node)),
                q => format!("{q}&node={}", encode(&node)),
            };
            let path = format!("/v1/volume/csi/{}/detach{q}", encode(&id));
            client
                .write::<()>(Method::DELETE, &path, None)
                .await
                .context("Error detaching volume")?;
            println!("Successfully detached volume {id:?} from node {node:?}");
            Ok(())
        }
        VolumeCmd::Claim {
            ns,
            alloc,
            node,
            mode,
            access_mode,
            attachment_mode,
            id,
        } => {
            let mut body = json!({
                "AllocationID": alloc, "NodeID": node, "Claim": mode, "State": "taken",
            });
            if let Some(a) = access_mode {
                body["AccessMode"] = json!(a);
            }
            if let Some(a) = attachment_mode {
                body["AttachmentMode"] = json!(a);
            }
            claim(client, &ns, &id, &body).await?;
            println!("Allocation {alloc:?} on node {node:?} claimed volume {id:?} for {mode}");
            Ok(())
        }
        VolumeCmd::Release {
            ns,
            alloc,
            node,
            id,
        } => release(client, &ns, &id, &alloc, node).await,
    }
}

fn init(json: bool, file: Option<PathBuf>) -> anyhow::Result<()> {
    let (default, text) = if json {
        ("volume.json", spec::EXAMPLE_JSON)
    } else {
        ("volume.hcl", spec::EXAMPLE)
    };
    let path = file.unwrap_or_else(|| PathBuf::from(default));
    if path.exists() {
        bail!(
            "Volume specification file {:?} already exists",
            path.display().to_string()
        );
    }
    std::fs::write(&path, text).with_context(|| format!("Failed to write {}", path.display()))?;
    println!("Example volume specification written to {}", path.display());
    Ok(())
}

async fn register(
    client: &Client,
    ns: &NamespaceArg,
    file: &str,
    policy_override: bool,
) -> anyhow::Result<()> {
    let (text, origin) = if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("Error reading the specification from stdin")?;
        (text, "<stdin>".to_string())
    } else {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("Error reading file {file:?}"))?;
        (text, file.to_string())
    };
    let volume = spec::parse(&text, &origin).map_err(|e| anyhow::anyhow!("{e}"))?;
    if volume.id.is_empty() {
        bail!("{origin}: the volume has no id");
    }
    // The spec's own namespace wins; the flag (or NOMAD_NAMESPACE) places one that names none.
    let ns = NamespaceArg {
        namespace: Some(volume.namespace.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| ns.namespace.clone()),
    };
    let path = format!("/v1/volume/csi/{}{}", encode(&volume.id), ns.query());
    let body = json!({ "Volumes": [volume], "PolicyOverride": policy_override });
    client
        .write(Method::PUT, &path, Some(&body))
        .await
        .context("Error registering volume")?;
    println!("Volume {:?} registered", volume.id);
    Ok(())
}

async fn list(
    client: &Client,
    ns: &NamespaceArg,
    plugin_id: Option<&str>,
    prefix: Option<&str>,
) -> anyhow::Result<Vec<VolumeStub>> {
    let mut q = vec!["type=csi".to_string()];
    if let Some(ns) = &ns.namespace {
        q.push(format!("namespace={}", encode(ns)));
    }
    if let Some(p) = plugin_id {
        q.push(format!("plugin_id={}", encode(p)));
    }
    if let Some(p) = prefix {
        q.push(format!("prefix={}", encode(p)));
    }
    client
        .get(&format!("/v1/volumes?{}", q.join("&")))
        .await
        .context("Error querying volumes")
}

async fn status(
    client: &Client,
    ns: &NamespaceArg,
    out: Output,
    plugin_id: Option<String>,
    verbose: bool,
    id: Option<String>,
) -> anyhow::Result<()> {
    let Some(id) = id else {
        let volumes = list(client, ns, plugin_id.as_deref(), None).await?;
        if out.json {
            return print_json(&volumes);
        }
        if volumes.is_empty() {
            println!("No CSI volumes");
        } else {
            println!("{}", stub_rows(&volumes));
        }
        return Ok(());
    };
    let matches = list(client, ns, plugin_id.as_deref(), Some(&id)).await?;
    let chosen = match matches.iter().find(|v| v.id == id) {
        Some(exact) => exact,
        None => match matches.as_slice() {
            [] => bail!("No volumes with prefix or ID {id:?} found"),
            [one] => one,
            many => {
                bail!(
                    "Prefix matched multiple volumes: {}",
                    many.iter()
                        .map(|v| v.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        },
    };
    let path = format!(
        "/v1/volume/csi/{}?namespace={}",
        encode(&chosen.id),
        encode(&chosen.namespace)
    );
    let volume: ApiVolume = client.get(&path).await.context("Error querying volume")?;
    if out.json {
        return print_json(&volume);
    }
    println!("{}", detail(&volume, verbose));
    Ok(())
}

async fn claim(
    client: &Client,
    ns: &NamespaceArg,
    id: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let path = format!("/v1/volume/csi/{}/claim{}", encode(id), ns.query());
    client
        .write(Method::PUT, &path, Some(body))
        .await
        .context("Error claiming volume")?;
    Ok(())
}

/// Releases `alloc`'s claim: the mode comes from the volume, and so does the node unless given.
async fn release(
    client: &Client,
    ns: &NamespaceArg,
    id: &str,
    alloc: &str,
    node: Option<String>,
) -> anyhow::Result<()> {
    let path = format!("/v1/volume/csi/{}{}", encode(id), ns.query());
    let volume: ApiVolume = client.get(&path).await.context("Error querying volume")?;
    let mode = if volume.write_allocs.contains_key(alloc) {
        "write"
    } else if volume.read_allocs.contains_key(alloc) {
        "read"
    } else {
        bail!("Allocation {alloc:?} holds no claim on volume {id:?}");
    };
    let node = match node {
        Some(n) => n,
        None => volume
            .allocations
            .iter()
            .find(|a| a.id == alloc)
            .map(|a| a.node_id.clone())
            .with_context(|| {
                format!("the node of allocation {alloc:?} is not known: give -node")
            })?,
    };
    let body = json!({
        "AllocationID": alloc, "NodeID": node, "Claim": mode, "State": "ready-to-free",
    });
    claim(client, ns, id, &body).await?;
    println!("Allocation {alloc:?} released its {mode} claim on volume {id:?}");
    Ok(())
}
