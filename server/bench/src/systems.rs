//! What each scenario sends to each system: the same operation, in stowage's Nomad API and in
//! etcd's HTTP/JSON gateway, carrying the same bytes.

use crate::http::Req;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::Method;
use serde_json::{Value, json};

/// Which system a figure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Stowage,
    Etcd,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stowage => "stowage",
            Kind::Etcd => "etcd",
        }
    }
}

/// The volumes that writes re-register, one per client; the keys etcd writes are the same names.
pub fn write_id(client: usize) -> String {
    format!("bench-w-{client:05}")
}

/// The volumes claim cycles use, one per client: apart from the written ones, so that every
/// register row writes the same bytes as etcd's put (a claimed volume also carries its claim
/// history, up to 32 events, which a re-registration rewrites).
pub fn claimed_id(client: usize) -> String {
    format!("bench-c-{client:05}")
}

/// The volumes that list pages read, loaded once.
pub fn listed_id(i: usize) -> String {
    format!("bench-l-{i:06}")
}

/// The plugin every volume names; registered before the run, so that claims find it healthy.
pub const PLUGIN: &str = "aws-ebs0";

/// The plugin as the plugin feed reports it: healthy on every node.
pub fn plugin_report() -> Req {
    let body = json!({"Provider": "ebs.csi.aws.com", "Version": "1.0.0", "ControllerRequired": false,
        "NodesHealthy": 3, "NodesExpected": 3});
    Req::with_body(
        Method::PUT,
        format!("/v1/plugin/csi/{PLUGIN}"),
        body.to_string(),
    )
}

/// The volume every blocking watcher waits on.
pub const WATCHED_ID: &str = "bench-watch";

/// A volume as Nomad's `volume register` sends it, of realistic size: an EBS-like volume with
/// capacity, capabilities, mount options, topology, parameters and context. `seq` changes its
/// context, so every re-registration is a real change.
pub fn volume(id: &str, seq: u64) -> Value {
    json!({
        "ID": id, "Name": id, "Namespace": "default",
        "ExternalID": format!("vol-{:017x}", id.len() * 7919), "PluginID": PLUGIN,
        "RequestedCapabilities": [
            {"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}
        ],
        "CapacityMin": 10737418240u64, "CapacityMax": 21474836480u64,
        "MountOptions": {"FSType": "ext4", "MountFlags": ["noatime"]},
        "RequestedTopologies": {"Required": [{"Segments": {"topology.ebs.csi.aws.com/zone": "eu-west-1a"}}]},
        "Parameters": {"type": "gp3", "iops": "3000"},
        "Context": {"seq": seq.to_string()}
    })
}

/// The bytes `volume register` would send for `ids`.
pub fn register_body(ids: &[String], seq: u64) -> Vec<u8> {
    let vols: Vec<Value> = ids.iter().map(|id| volume(id, seq)).collect();
    json!({"Volumes": vols}).to_string().into_bytes()
}

fn etcd_key(id: &str) -> String {
    B64.encode(format!("/volumes/{id}"))
}

fn etcd_post(path: &str, body: Value) -> Req {
    Req::with_body(Method::POST, path, body.to_string())
}

impl Kind {
    /// Registers (stowage) or puts (etcd) one client's volume.
    pub fn write(self, client: usize, seq: u64) -> Req {
        let id = write_id(client);
        let body = register_body(std::slice::from_ref(&id), seq);
        match self {
            Kind::Stowage => Req::with_body(Method::PUT, format!("/v1/volume/csi/{id}"), body),
            Kind::Etcd => etcd_post(
                "/v3/kv/put",
                json!({"key": etcd_key(&id), "value": B64.encode(body)}),
            ),
        }
    }

    /// Loads `ids` in one request: one register of many volumes, or one etcd transaction.
    pub fn load(self, ids: &[String]) -> Req {
        match self {
            Kind::Stowage => Req::with_body(Method::PUT, "/v1/volumes", register_body(ids, 0)),
            Kind::Etcd => {
                let puts: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        let value = register_body(std::slice::from_ref(id), 0);
                        json!({"requestPut": {"key": etcd_key(id), "value": B64.encode(value)}})
                    })
                    .collect();
                etcd_post("/v3/kv/txn", json!({"success": puts}))
            }
        }
    }

    /// Reads one volume: linearizable, or from the node's own copy (`stale`, etcd's
    /// serializable range).
    pub fn read(self, client: usize, stale: bool) -> Req {
        let id = write_id(client);
        match self {
            Kind::Stowage if stale => Req::get(format!("/v1/volume/csi/{id}?stale")),
            Kind::Stowage => Req::get(format!("/v1/volume/csi/{id}")),
            Kind::Etcd => etcd_post(
                "/v3/kv/range",
                json!({"key": etcd_key(&id), "serializable": stale}),
            ),
        }
    }

    /// A page of 100 loaded volumes starting at `first`, linearizable.
    pub fn page(self, first: usize) -> Req {
        let start = listed_id(first);
        match self {
            Kind::Stowage => Req::get(format!(
                "/v1/volumes?type=csi&prefix=bench-l-&per_page=100&next_token=default.{start}"
            )),
            Kind::Etcd => etcd_post(
                "/v3/kv/range",
                json!({"key": etcd_key(&start), "range_end": B64.encode("/volumes/bench-l."),
                    "limit": 100}),
            ),
        }
    }

    /// Whether a member answers its health check.
    pub fn health(self) -> Req {
        match self {
            Kind::Stowage => Req::get("/v1/agent/health"),
            Kind::Etcd => Req::get("/health"),
        }
    }
}

/// Asks a stowage node which node leads.
pub fn leader_request() -> Req {
    Req::get("/v1/status/leader")
}

/// The leader's RPC address an answer to `leader_request` names; `None` while there is none.
pub fn named_leader(answer: &crate::http::Answer) -> Option<String> {
    serde_json::from_slice::<String>(&answer.body)
        .ok()
        .filter(|l| !l.is_empty())
}

/// A claim (write mode, taken) or its release, for the volume of `client`.
pub fn claim(client: usize, alloc: &str, release: bool) -> Req {
    let id = claimed_id(client);
    let body = if release {
        json!({"AllocationID": alloc, "Claim": "read", "State": "ready-to-free",
            "AccessMode": "single-node-writer", "AttachmentMode": "file-system"})
    } else {
        json!({"AllocationID": alloc, "NodeID": format!("node-{client}"), "Claim": "write",
            "State": "taken", "AccessMode": "single-node-writer", "AttachmentMode": "file-system"})
    };
    Req::with_body(
        Method::PUT,
        format!("/v1/volume/csi/{id}/claim"),
        body.to_string(),
    )
}
