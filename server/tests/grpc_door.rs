//! The RPC port is no way around the rules: a call without the cluster secret changes nothing,
//! a raw command is checked like any request, and every refusal the HTTP API gives is given, with
//! the same code and text, to a gRPC caller of the same operation.

use serde_json::{Value, json};
use std::time::Duration;
use stowage_proto::api::{
    ClaimSpec, ClaimVolumeRequest, CsiAnswer, CsiCall, CsiError, DeletePluginRequest,
    DeregisterRequest, DetachRequest, ErrorCode, ListQuery, PluginReport, RegisterRequest,
    VolumeSpec,
};
use stowage_proto::pb::cluster_service_client::ClusterServiceClient;
use stowage_proto::pb::raft_service_client::RaftServiceClient;
use stowage_proto::pb::{ChangeMembershipRequest, CsiRequest, RaftRequest, WriteRequest};
use stowage_proto::{ClaimMode, ClaimState, Command, Volume, codec};
use stowage_raft::ClusterSecret;
use stowage_testkit::{TestCluster, eventually, fast_timing};
use tonic::Code;

/// Every node's last log index: a refused call must not move any of them.
fn log_ends(cluster: &TestCluster) -> Vec<Option<u64>> {
    cluster
        .running()
        .into_iter()
        .map(|id| cluster.agent(id).node.status.metrics().last_log_index)
        .collect()
}

fn invalid_volume() -> Command {
    // No plugin and no capability: every door refuses this.
    Command::RegisterVolumes {
        volumes: vec![Volume {
            id: "sneaky".into(),
            namespace: "default".into(),
            ..Default::default()
        }],
        cas: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_raw_write_without_the_secret_or_breaking_the_rules_is_refused_and_never_logged() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let written = cluster.register(leader, "before").await;
    eventually(
        "every node applied the write",
        Duration::from_secs(10),
        || async {
            cluster
                .running()
                .into_iter()
                .all(|id| cluster.applied(id) >= written.index)
                .then_some(())
        },
    )
    .await;
    let before = log_ends(&cluster);
    let rpc = format!("http://{}", cluster.rpc_addr(leader));
    let write = |command: &Command| WriteRequest {
        command: codec::encode(command).expect("encode"),
        forwarded: false,
        token: String::new(),
        acl: false,
    };

    // No secret: the whole port refuses, whatever the call.
    let mut bare = ClusterServiceClient::connect(rpc.clone())
        .await
        .expect("connect");
    let valid = Command::RegisterVolumes {
        volumes: vec![stowage_testkit::volume("no-secret")],
        cas: None,
    };
    for command in [&valid, &invalid_volume()] {
        let status = bare.write(write(command)).await.expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    let status = bare
        .change_membership(ChangeMembershipRequest {
            voters: vec![1],
            retain: false,
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut raft = RaftServiceClient::connect(rpc.clone())
        .await
        .expect("connect");
    let status = raft
        .append_entries(RaftRequest {
            to: leader,
            payload: vec![],
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated);

    // A wrong secret is no secret.
    let wrong = ClusterSecret::generate();
    let mut guessing =
        stowage_raft::cluster_client(&cluster.rpc_addr(leader), &wrong).expect("client");
    let status = guessing.write(write(&valid)).await.expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated);

    // With the secret, through the leader and through a follower, a command that breaks the
    // rules is refused with the code an HTTP caller gets.
    for node in [leader, cluster.followers(leader)[0]] {
        let mut client = stowage_raft::cluster_client(&cluster.rpc_addr(node), cluster.secret())
            .expect("client");
        let reply = client
            .write(write(&invalid_volume()))
            .await
            .expect("answered")
            .into_inner();
        let refused: CsiError = codec::decode(&reply.error).expect("an encoded refusal");
        assert_eq!(refused.code(), ErrorCode::InvalidRequest);
        assert_eq!(
            refused.to_string(),
            "validation: missing plugin id, must include at least one capability block"
        );
    }

    assert_eq!(log_ends(&cluster), before, "nothing reached any log");
    for id in cluster.running() {
        assert_eq!(cluster.local_volume_ids(id), ["before"]);
    }
    cluster.shutdown().await;
}

/// One refusal, asked over HTTP and over gRPC.
struct Case {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    body: Value,
    call: CsiCall,
    code: ErrorCode,
}

fn spec(id: &str, plugin: &str, access: &str) -> VolumeSpec {
    serde_json::from_value(json!({"ID": id, "PluginID": plugin,
        "RequestedCapabilities": [{"AccessMode": access, "AttachmentMode": "file-system"}]}))
    .expect("a volume spec")
}

fn register(volume: VolumeSpec, namespace: &str) -> CsiCall {
    CsiCall::Register(RegisterRequest {
        namespace: namespace.into(),
        volumes: vec![volume],
        cas: None,
    })
}

fn claim(volume: &str, alloc: &str, mode: ClaimMode, state: ClaimState, attach: &str) -> CsiCall {
    CsiCall::Claim(ClaimVolumeRequest {
        namespace: "default".into(),
        volume_id: volume.into(),
        claim: ClaimSpec {
            allocation_id: alloc.into(),
            node_id: "n1".into(),
            external_node_id: String::new(),
            mode,
            state,
            access_mode: "single-node-writer".into(),
            attachment_mode: attach.into(),
            job_id: String::new(),
            task_group: String::new(),
            name: String::new(),
        },
        cas: None,
    })
}

fn claim_body(alloc: &str, mode: &str, state: &str, attach: &str) -> Value {
    json!({"AllocationID": alloc, "NodeID": "n1", "Claim": mode, "State": state,
        "AccessMode": "single-node-writer", "AttachmentMode": attach})
}

fn cases() -> Vec<Case> {
    let writer = ClaimMode::Write;
    vec![
        Case {
            what: "an invalid volume",
            method: "PUT",
            path: "/v1/volume/csi/bad",
            body: json!({"ID": "bad", "RequestedCapabilities": [{"AccessMode": "rw"}]}),
            call: register(
                serde_json::from_value(
                    json!({"ID": "bad", "RequestedCapabilities": [{"AccessMode": "rw"}]}),
                )
                .expect("spec"),
                "default",
            ),
            code: ErrorCode::InvalidRequest,
        },
        Case {
            what: "a nonexistent namespace",
            method: "PUT",
            path: "/v1/volume/csi/elsewhere?namespace=prod",
            body: json!({"ID": "elsewhere", "PluginID": "p",
                "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}),
            call: register(spec("elsewhere", "p", "single-node-writer"), "prod"),
            code: ErrorCode::NamespaceMissing,
        },
        Case {
            what: "an immutable field",
            method: "PUT",
            path: "/v1/volume/csi/held",
            body: json!({"ID": "held", "PluginID": "other",
                "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}),
            call: register(spec("held", "other", "single-node-writer"), "default"),
            code: ErrorCode::UpdateRefused,
        },
        Case {
            what: "a create of an existing volume",
            method: "PUT",
            path: "/v1/volume/csi/held?cas=0",
            body: json!({"ID": "held", "PluginID": "p",
                "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}),
            call: CsiCall::Register(RegisterRequest {
                namespace: "default".into(),
                volumes: vec![spec("held", "p", "single-node-writer")],
                cas: Some(0),
            }),
            code: ErrorCode::VolumeExists,
        },
        Case {
            what: "a second writer",
            method: "PUT",
            path: "/v1/volume/csi/held/claim",
            body: claim_body("b", "write", "taken", "file-system"),
            call: claim("held", "b", writer, ClaimState::Taken, "file-system"),
            code: ErrorCode::MaxClaimsReached,
        },
        Case {
            what: "another attachment mode",
            method: "PUT",
            path: "/v1/volume/csi/held/claim",
            body: claim_body("b", "read", "taken", "block-device"),
            call: claim(
                "held",
                "b",
                ClaimMode::Read,
                ClaimState::Taken,
                "block-device",
            ),
            code: ErrorCode::AttachmentModeConflict,
        },
        Case {
            what: "a release moving backwards",
            method: "PUT",
            path: "/v1/volume/csi/held/claim",
            body: claim_body("a", "write", "unpublishing", "file-system"),
            call: claim("held", "a", writer, ClaimState::Unpublishing, "file-system"),
            code: ErrorCode::ReleaseBackwards,
        },
        Case {
            what: "a claim on a volume whose plugin is unknown",
            method: "PUT",
            path: "/v1/volume/csi/orphan/claim",
            body: claim_body("c", "write", "taken", "file-system"),
            call: claim("orphan", "c", writer, ClaimState::Taken, "file-system"),
            code: ErrorCode::VolumeUnschedulable,
        },
        Case {
            what: "a claim on a missing volume",
            method: "PUT",
            path: "/v1/volume/csi/ghost/claim",
            body: claim_body("c", "write", "taken", "file-system"),
            call: claim("ghost", "c", writer, ClaimState::Taken, "file-system"),
            code: ErrorCode::VolumeNotFound,
        },
        Case {
            what: "a deregister of a volume in use",
            method: "DELETE",
            path: "/v1/volume/csi/held",
            body: Value::Null,
            call: CsiCall::Deregister(DeregisterRequest {
                namespace: "default".into(),
                id: "held".into(),
                force: false,
                cas: None,
            }),
            code: ErrorCode::VolumeInUse,
        },
        Case {
            what: "a deregister at the wrong index",
            method: "DELETE",
            path: "/v1/volume/csi/orphan?cas=1",
            body: Value::Null,
            call: CsiCall::Deregister(DeregisterRequest {
                namespace: "default".into(),
                id: "orphan".into(),
                force: false,
                cas: Some(1),
            }),
            code: ErrorCode::IndexMismatch,
        },
        Case {
            what: "a detach without a node",
            method: "DELETE",
            path: "/v1/volume/csi/held/detach",
            body: Value::Null,
            call: CsiCall::Detach(DetachRequest {
                namespace: "default".into(),
                volume_id: "held".into(),
                node_id: String::new(),
            }),
            code: ErrorCode::InvalidRequest,
        },
        Case {
            what: "a detach of a missing volume",
            method: "DELETE",
            path: "/v1/volume/csi/ghost/detach?node=n1",
            body: Value::Null,
            call: CsiCall::Detach(DetachRequest {
                namespace: "default".into(),
                volume_id: "ghost".into(),
                node_id: "n1".into(),
            }),
            code: ErrorCode::NoSuchVolume,
        },
        Case {
            what: "negative plugin counts",
            method: "PUT",
            path: "/v1/plugin/csi/p",
            body: json!({"NodesHealthy": -1}),
            call: CsiCall::UpsertPlugin(PluginReport {
                id: "p".into(),
                nodes_healthy: -1,
                ..Default::default()
            }),
            code: ErrorCode::InvalidRequest,
        },
        Case {
            what: "forgetting a missing plugin",
            method: "DELETE",
            path: "/v1/plugin/csi/ghost",
            body: Value::Null,
            call: CsiCall::DeletePlugin(DeletePluginRequest { id: "ghost".into() }),
            code: ErrorCode::PluginNotFound,
        },
        Case {
            what: "a filter that does not parse",
            method: "GET",
            path: "/v1/volumes?type=csi&filter=ID%20%3D%3D",
            body: Value::Null,
            call: CsiCall::Volumes(ListQuery {
                filter: Some("ID ==".into()),
                ..ListQuery::default()
            }),
            code: ErrorCode::InvalidRequest,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_refusal_over_http_is_the_same_over_grpc() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let node = cluster.followers(leader)[0];
    let http = reqwest::Client::new();
    let base = format!("http://{}", cluster.http_addr(node));
    let send = |method: &str, path: &str, body: &Value| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = http.request(method, format!("{base}{path}"));
        if !body.is_null() {
            req = req.json(body);
        }
        req.send()
    };
    // A healthy plugin, a single-writer volume whose writer "a" is being released (it still
    // counts), and a volume whose plugin nobody reported.
    for (method, path, body) in [
        ("PUT", "/v1/plugin/csi/p", json!({"NodesHealthy": 1})),
        (
            "PUT",
            "/v1/volume/csi/held",
            json!({"ID": "held", "PluginID": "p",
                "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}),
        ),
        (
            "PUT",
            "/v1/volume/csi/held/claim",
            claim_body("a", "write", "taken", "file-system"),
        ),
        (
            "PUT",
            "/v1/volume/csi/held/claim",
            claim_body("a", "write", "node-detached", "file-system"),
        ),
        (
            "PUT",
            "/v1/volume/csi/orphan",
            json!({"ID": "orphan", "PluginID": "nobody",
                "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}),
        ),
    ] {
        let r = send(method, path, &body).await.expect("sent");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    let mut grpc =
        stowage_raft::cluster_client(&cluster.rpc_addr(node), cluster.secret()).expect("client");
    for case in cases() {
        let r = send(case.method, case.path, &case.body)
            .await
            .expect("sent");
        let status = r.status();
        let header = r
            .headers()
            .get(stowage_proto::api::ERROR_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<ErrorCode>().ok());
        let text = r.text().await.expect("body");
        assert_eq!(
            header,
            Some(case.code),
            "{} over HTTP: {status} {text}",
            case.what
        );

        let request = CsiRequest {
            call: codec::encode(&case.call).expect("encode"),
            token: String::new(),
        };
        let reply = grpc.csi(request).await.expect("answered").into_inner();
        let answer: Result<CsiAnswer, CsiError> = codec::decode(&reply.answer).expect("decode");
        let refused = answer.expect_err(case.what);
        assert_eq!(
            refused.code(),
            case.code,
            "{} over gRPC: {refused}",
            case.what
        );
        assert_eq!(refused.to_string(), text, "{}: the same text", case.what);
    }
    cluster.shutdown().await;
}
