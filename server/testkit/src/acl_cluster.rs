//! A real three-node cluster with ACLs on and bootstrapped, and HTTP calls to it as any caller:
//! the harness of the ACL tests over real sockets.

use crate::cluster::{TestCluster, fast_timing};
use crate::poll::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use stowage_proto::api::CsiError;
use stowage_proto::pb::WriteRequest;
use stowage_proto::{Command, CommandResponse, codec};

pub struct AclCluster {
    pub cluster: TestCluster,
    pub http: reqwest::Client,
    /// The bootstrap (management) token's secret.
    pub root: String,
    /// The node that led when the cluster started; management calls go there.
    pub leader: u64,
}

impl AclCluster {
    pub async fn start() -> AclCluster {
        let cluster = TestCluster::start_with_acls(fast_timing(5000)).await;
        let leader = cluster.leader().await;
        let http = reqwest::Client::new();
        let mut acls = AclCluster {
            cluster,
            http,
            root: String::new(),
            leader,
        };
        let r = acls
            .send(leader, None, "POST", "/v1/acl/bootstrap", None)
            .await;
        assert_eq!(r.0, StatusCode::OK, "{}", r.1);
        acls.root = json_of(&r.1)["SecretID"].as_str().expect("SecretID").into();
        acls
    }

    /// One call to node `node`, as the caller holding `token`; its status and body.
    pub async fn send(
        &self,
        node: u64,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let url = format!("http://{}{path}", self.cluster.http_addr(node));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.header("X-Nomad-Token", t);
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.expect("answered");
        let status = resp.status();
        (status, resp.text().await.expect("body"))
    }

    /// A call as the management token through the leader, which must succeed.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = self
            .send(self.leader, Some(&self.root), method, path, body)
            .await;
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            json_of(&text)
        }
    }

    /// Whether `path` exists, asked as the management token.
    pub async fn exists(&self, path: &str) -> bool {
        let (status, text) = self
            .send(self.leader, Some(&self.root), "GET", path, None)
            .await;
        match status {
            StatusCode::OK => true,
            StatusCode::NOT_FOUND => false,
            other => panic!("GET {path}: {other} {text}"),
        }
    }

    /// A client token holding one policy, `name`, with `rules`; returns its secret.
    pub async fn client_token(&self, name: &str, rules: &str) -> String {
        let policy = json!({"Name": name, "Rules": rules});
        self.admin("POST", &format!("/v1/acl/policy/{name}"), Some(policy))
            .await;
        let token = json!({"Name": name, "Type": "client", "Policies": [name]});
        let made = self.admin("POST", "/v1/acl/token", Some(token)).await;
        made["SecretID"].as_str().expect("SecretID").into()
    }

    /// The accessor of the token whose secret is `secret`.
    pub async fn accessor_of(&self, secret: &str) -> String {
        let me = self
            .send(self.leader, Some(secret), "GET", "/v1/acl/token/self", None)
            .await;
        json_of(&me.1)["AccessorID"]
            .as_str()
            .expect("AccessorID")
            .into()
    }

    /// Starts a blocking list of volumes on `node` as `secret`, past `index`, and returns once
    /// the node holds it waiting.
    pub async fn blocked_list(
        &self,
        node: u64,
        secret: &str,
        index: u64,
        wait: &str,
    ) -> tokio::task::JoinHandle<(StatusCode, String)> {
        let url = format!(
            "http://{}/v1/volumes?type=csi&index={index}&wait={wait}",
            self.cluster.http_addr(node)
        );
        let req = self.http.get(url).header("X-Nomad-Token", secret);
        let reader = self.cluster.agent(node).node.forwarder.reader().clone();
        let before = reader.blocked_watchers();
        let query = tokio::spawn(async move {
            let resp = req.send().await.expect("answered");
            (resp.status(), resp.text().await.expect("body"))
        });
        eventually("the query waits", Duration::from_secs(10), || async {
            assert!(!query.is_finished(), "the query answered at once");
            (reader.blocked_watchers() > before).then_some(())
        })
        .await;
        query
    }
}

pub fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A register body for volume `id` in `default`, for plugin `p`, that any number may claim.
pub fn volume_json(id: &str) -> Value {
    json!({"Volumes": [{"ID": id, "PluginID": "p", "RequestedCapabilities":
        [{"AccessMode": "multi-node-multi-writer", "AttachmentMode": "file-system"}]}]})
}

/// How a raw gRPC `Write` presents itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawWrite {
    /// As an outside caller of that node's RPC port.
    Direct,
    /// As a node forwarding a caller's write to the leader; `acl` when that node holds callers
    /// to ACLs.
    Forwarded { acl: bool },
}

/// Sends `command` over node `node`'s raw gRPC `Write` with `token`'s secret (none: empty).
pub async fn raw_write(
    cluster: &TestCluster,
    node: u64,
    token: Option<&str>,
    command: &Command,
    how: RawWrite,
) -> Result<CommandResponse, CsiError> {
    let mut client =
        stowage_raft::cluster_client(&cluster.rpc_addr(node), cluster.secret()).expect("client");
    let (forwarded, acl) = match how {
        RawWrite::Direct => (false, false),
        RawWrite::Forwarded { acl } => (true, acl),
    };
    let request = WriteRequest {
        command: codec::encode(command).expect("encode"),
        forwarded,
        token: token.unwrap_or_default().into(),
        acl,
    };
    let reply = client.write(request).await.expect("answered").into_inner();
    if reply.error.is_empty() {
        Ok(codec::decode(&reply.response).expect("decode response"))
    } else {
        Err(codec::decode(&reply.error).expect("decode error"))
    }
}
