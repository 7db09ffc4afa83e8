//! The capability matrix with ACLs on, on three real nodes: every caller (management, none,
//! and client tokens of many shapes) against every endpoint, over real HTTP and over the raw gRPC
//! `Write`, each cell sent to a node in turn (followers included). A cell must answer as its
//! mark says, and change the state exactly when allowed.

use reqwest::StatusCode;
use serde_json::{Value, json};
use stowage_proto::acl::{AclPolicy, compile_policy_rules};
use stowage_proto::api::{ClaimSpec, CsiError};
use stowage_proto::{
    AccessMode, AttachmentMode, Capability, ClaimMode, ClaimState, Command, Namespace, Plugin,
    Volume,
};
use stowage_testkit::acl_cluster::{AclCluster, RawWrite, raw_write, volume_json};
use stowage_testkit::management_token;

/// The matrix's columns: who calls. `None` rules: the management token, or no token at all.
const CALLERS: &[(&str, Option<&str>)] = &[
    ("mgmt", None),
    ("anon", None),
    (
        "read",
        Some("namespace \"default\" { policy = \"read\" }\nplugin { policy = \"read\" }"),
    ),
    (
        "write",
        Some("namespace \"default\" { policy = \"write\" }\nplugin { policy = \"read\" }"),
    ),
    (
        "write-no-plugin",
        Some("namespace \"default\" { policy = \"write\" }"),
    ),
    (
        "list-only",
        Some("namespace \"default\" { capabilities = [\"csi-list-volume\"] }"),
    ),
    (
        "mount",
        Some(
            "namespace \"default\" { capabilities = [\"csi-mount-volume\"] }\nplugin { policy = \"read\" }",
        ),
    ),
    (
        "write-cap",
        Some(
            "namespace \"default\" { capabilities = [\"csi-write-volume\"] }\nplugin { policy = \"write\" }",
        ),
    ),
    (
        "prod",
        Some("namespace \"prod\" { policy = \"write\" }\nplugin { policy = \"write\" }"),
    ),
    (
        "glob-deny",
        Some(
            "namespace \"*\" { policy = \"write\" }\nnamespace \"default\" { policy = \"deny\" }\nplugin { policy = \"write\" }",
        ),
    ),
    ("plugin-list", Some("plugin { policy = \"list\" }")),
    (
        "jobs",
        Some("namespace \"default\" { capabilities = [\"list-jobs\", \"read-job\"] }"),
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    ListVolumes,
    ReadVolume,
    Register,
    Deregister,
    Claim,
    Detach,
    ListPlugins,
    ReadPlugin,
    FeedPlugin,
    DeletePlugin,
    ReadNamespace,
    WriteNamespace,
    DeleteNamespace,
    ReadPolicy,
    WritePolicy,
    DeletePolicy,
    ListTokens,
    CreateToken,
    DeleteToken,
    OwnToken,
}

/// Who may do what: one mark per caller, in `CALLERS`' order. Register needs plugin read and
/// csi-write-volume; deregister csi-write-volume; claim and detach csi-mount-volume and plugin
/// read; plugin writes plugin write (which implies read, and read implies list); a namespace
/// read any capability there; namespaces, policies and tokens a management token.
#[rustfmt::skip]
const MATRIX: &[(Op, &str)] = &[
    //                            mg an rd wr wn lo mo wc pr gd pl jb
    (Op::ListVolumes,      "Y  N  Y  Y  Y  Y  Y  N  N  N  N  Y"),
    (Op::ReadVolume,       "Y  N  Y  Y  Y  N  Y  N  N  N  N  Y"),
    (Op::Register,         "Y  N  N  Y  N  N  N  Y  N  N  N  N"),
    (Op::Deregister,       "Y  N  N  Y  Y  N  N  Y  N  N  N  N"),
    (Op::Claim,            "Y  N  N  Y  N  N  Y  N  N  N  N  N"),
    (Op::Detach,           "Y  N  N  Y  N  N  Y  N  N  N  N  N"),
    (Op::ListPlugins,      "Y  N  Y  Y  N  N  Y  Y  Y  Y  Y  N"),
    (Op::ReadPlugin,       "Y  N  Y  Y  N  N  Y  Y  Y  Y  N  N"),
    (Op::FeedPlugin,       "Y  N  N  N  N  N  N  Y  Y  Y  N  N"),
    (Op::DeletePlugin,     "Y  N  N  N  N  N  N  Y  Y  Y  N  N"),
    (Op::ReadNamespace,    "Y  N  Y  Y  Y  Y  Y  Y  N  N  N  Y"),
    (Op::WriteNamespace,   "Y  N  N  N  N  N  N  N  N  N  N  N"),
    (Op::DeleteNamespace,  "Y  N  N  N  N  N  N  N  N  N  N  N"),
    (Op::ReadPolicy,       "Y  N  N  N  N  N  N  N  N  N  N  N"),
    (Op::WritePolicy,      "Y  N  N  N  N  N  N  N  N  N  N  N"),
    (Op::DeletePolicy,     "Y  N  N  N  N  N  N  N  N  N  N  N"),
    (Op::ListTokens,       "Y  N  N  N  N  N  N  N  N  N  N  N"),
    (Op::CreateToken,      "Y  N  N  N  N  N  N  N  N  N  N  N"),
    (Op::DeleteToken,      "Y  N  N  N  N  N  N  N  N  N  N  N"),
    (Op::OwnToken,         "Y  Y  Y  Y  Y  Y  Y  Y  Y  Y  Y  Y"),
];

fn allowed(marks: &str) -> Vec<bool> {
    let marks: Vec<bool> = marks.split_whitespace().map(|m| m == "Y").collect();
    assert_eq!(marks.len(), CALLERS.len(), "one mark per caller");
    marks
}

/// Makes one client token per caller with rules, and returns every caller's secret.
async fn callers(acls: &AclCluster) -> Vec<Option<String>> {
    let mut secrets = Vec::new();
    for (name, rules) in CALLERS {
        secrets.push(match (*name, rules) {
            ("mgmt", _) => Some(acls.root.clone()),
            ("anon", _) => None,
            (_, Some(rules)) => Some(acls.client_token(name, rules).await),
            (_, None) => unreachable!("every other caller has rules"),
        });
    }
    secrets
}

/// What every cell needs before it runs: a healthy plugin, a volume every caller may claim,
/// the `prod` namespace and a policy nobody holds.
async fn common_setup(acls: &AclCluster) {
    let plugin = json!({"Provider": "ebs", "Version": "1", "NodesHealthy": 3, "NodesExpected": 3});
    acls.admin("PUT", "/v1/plugin/csi/p", Some(plugin)).await;
    acls.admin("PUT", "/v1/volume/csi/shared", Some(volume_json("shared")))
        .await;
    acls.admin("POST", "/v1/namespace/prod", Some(json!({"Name": "prod"})))
        .await;
    acls.admin(
        "POST",
        "/v1/acl/policy/spare",
        Some(json!({"Name": "spare", "Rules": ""})),
    )
    .await;
}

/// Prepares what caller `who`'s cell of `op` acts on; returns the path it calls.
async fn prepare(acls: &AclCluster, op: Op, who: &str) -> (&'static str, String, Option<Value>) {
    match op {
        Op::ListVolumes => ("GET", "/v1/volumes?type=csi&namespace=default".into(), None),
        Op::ReadVolume => ("GET", "/v1/volume/csi/shared".into(), None),
        Op::Register => (
            "PUT",
            format!("/v1/volume/csi/reg-{who}"),
            Some(volume_json(&format!("reg-{who}"))),
        ),
        Op::Deregister => {
            let id = format!("dereg-{who}");
            let path = format!("/v1/volume/csi/{id}");
            acls.admin("PUT", &path, Some(volume_json(&id))).await;
            ("DELETE", path, None)
        }
        Op::Claim => (
            "PUT",
            "/v1/volume/csi/shared/claim".into(),
            Some(claim_json(&format!("a-{who}"))),
        ),
        Op::Detach => {
            let node = format!("d-{who}");
            let claim = claim_json(&node);
            acls.admin("PUT", "/v1/volume/csi/shared/claim", Some(claim))
                .await;
            (
                "DELETE",
                format!("/v1/volume/csi/shared/detach?node={node}"),
                None,
            )
        }
        Op::ListPlugins => ("GET", "/v1/plugins?type=csi".into(), None),
        Op::ReadPlugin => ("GET", "/v1/plugin/csi/p".into(), None),
        Op::FeedPlugin => (
            "PUT",
            format!("/v1/plugin/csi/feed-{who}"),
            Some(plugin_json()),
        ),
        Op::DeletePlugin => {
            let path = format!("/v1/plugin/csi/del-{who}");
            acls.admin("PUT", &path, Some(plugin_json())).await;
            ("DELETE", path, None)
        }
        Op::ReadNamespace => ("GET", "/v1/namespace/default".into(), None),
        Op::WriteNamespace => (
            "POST",
            format!("/v1/namespace/ns-{who}"),
            Some(json!({"Name": format!("ns-{who}")})),
        ),
        Op::DeleteNamespace => {
            let name = format!("gone-{who}");
            let path = format!("/v1/namespace/{name}");
            acls.admin("POST", &path, Some(json!({"Name": name}))).await;
            ("DELETE", path, None)
        }
        Op::ReadPolicy => ("GET", "/v1/acl/policy/spare".into(), None),
        Op::WritePolicy => (
            "POST",
            format!("/v1/acl/policy/pol-{who}"),
            Some(json!({"Name": format!("pol-{who}"), "Rules": ""})),
        ),
        Op::DeletePolicy => {
            let name = format!("delpol-{who}");
            let path = format!("/v1/acl/policy/{name}");
            acls.admin("POST", &path, Some(json!({"Name": name, "Rules": ""})))
                .await;
            ("DELETE", path, None)
        }
        Op::ListTokens => ("GET", "/v1/acl/tokens".into(), None),
        Op::CreateToken => (
            "POST",
            "/v1/acl/token".into(),
            Some(json!({"Name": format!("tok-{who}"), "Type": "management"})),
        ),
        Op::DeleteToken => {
            let made = acls
                .admin(
                    "POST",
                    "/v1/acl/token",
                    Some(json!({"Name": format!("del-{who}"), "Type": "management"})),
                )
                .await;
            let accessor = made["AccessorID"].as_str().expect("AccessorID");
            ("DELETE", format!("/v1/acl/token/{accessor}"), None)
        }
        Op::OwnToken => ("GET", "/v1/acl/token/self".into(), None),
    }
}

/// Whether caller `who`'s cell of write `op` changed the state (`None` for reads), asked
/// as the management token. `path` is the one the cell called.
async fn happened(acls: &AclCluster, op: Op, who: &str, path: &str) -> Option<bool> {
    let shared_claims = || async {
        let v = acls.admin("GET", "/v1/volume/csi/shared", None).await;
        v["WriteAllocs"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    Some(match op {
        Op::Register | Op::FeedPlugin | Op::WriteNamespace | Op::WritePolicy => {
            acls.exists(path).await
        }
        Op::Deregister
        | Op::DeletePlugin
        | Op::DeleteNamespace
        | Op::DeletePolicy
        | Op::DeleteToken => !acls.exists(path).await,
        Op::Claim => shared_claims().await.contains(&format!("a-{who}")),
        Op::Detach => !shared_claims().await.contains(&format!("d-{who}")),
        Op::CreateToken => {
            let tokens = acls.admin("GET", "/v1/acl/tokens", None).await;
            let name = format!("tok-{who}");
            tokens
                .as_array()
                .expect("tokens")
                .iter()
                .any(|t| t["Name"] == name.as_str())
        }
        _ => return None,
    })
}

fn plugin_json() -> Value {
    json!({"Provider": "ebs", "Version": "1", "NodesHealthy": 1, "NodesExpected": 1})
}

/// A write claim by allocation `alloc` on a node of the same name.
fn claim_json(alloc: &str) -> Value {
    json!({"AllocationID": alloc, "NodeID": alloc, "Claim": "write", "State": "taken",
        "AccessMode": "multi-node-multi-writer", "AttachmentMode": "file-system"})
}

/// The raw gRPC command for caller `who`'s cell of write `op`, or `None` for a read.
fn command_for(op: Op, who: &str, accessor: &str) -> Option<Command> {
    let volume = |id: String| Volume {
        id,
        namespace: Namespace::DEFAULT.into(),
        plugin_id: "p".into(),
        requested_capabilities: vec![Capability {
            access_mode: AccessMode::MultiNodeMultiWriter,
            attachment_mode: AttachmentMode::FileSystem,
        }],
        ..Default::default()
    };
    let claim = |alloc: String| ClaimSpec {
        allocation_id: alloc.clone(),
        node_id: alloc,
        external_node_id: String::new(),
        mode: ClaimMode::Write,
        state: ClaimState::Taken,
        access_mode: "multi-node-multi-writer".into(),
        attachment_mode: "file-system".into(),
        job_id: String::new(),
        task_group: String::new(),
        name: String::new(),
    };
    let plugin = |id: String| Plugin {
        id,
        provider: "ebs".into(),
        version: "1".into(),
        nodes_healthy: 1,
        nodes_expected: 1,
        ..Default::default()
    };
    let namespace = |name: String| Namespace {
        name,
        ..Default::default()
    };
    let policy = |name: String| AclPolicy {
        name,
        description: String::new(),
        rules: String::new(),
        compiled: compile_policy_rules("").expect("empty rules"),
        create_index: 0,
        modify_index: 0,
    };
    Some(match op {
        Op::Register => Command::RegisterVolumes {
            volumes: vec![volume(format!("reg-{who}"))],
            cas: None,
        },
        Op::Deregister => Command::DeregisterVolume {
            namespace: Namespace::DEFAULT.into(),
            id: format!("dereg-{who}"),
            force: false,
            cas: None,
        },
        Op::Claim => Command::Claim {
            namespace: Namespace::DEFAULT.into(),
            volume_id: "shared".into(),
            request: claim(format!("a-{who}"))
                .to_request()
                .expect("a valid claim"),
            cas: None,
        },
        Op::Detach => Command::DetachNode {
            namespace: Namespace::DEFAULT.into(),
            volume_id: "shared".into(),
            node_id: format!("d-{who}"),
        },
        Op::FeedPlugin => Command::UpsertPlugin {
            plugin: plugin(format!("feed-{who}")),
        },
        Op::DeletePlugin => Command::DeletePlugin {
            id: format!("del-{who}"),
        },
        Op::WriteNamespace => Command::UpsertNamespace {
            namespace: namespace(format!("ns-{who}")),
        },
        Op::DeleteNamespace => Command::DeleteNamespace {
            name: format!("gone-{who}"),
        },
        Op::WritePolicy => Command::UpsertAclPolicies {
            policies: vec![policy(format!("pol-{who}"))],
        },
        Op::DeletePolicy => Command::DeleteAclPolicies {
            names: vec![format!("delpol-{who}")],
        },
        Op::CreateToken => Command::UpsertAclTokens {
            tokens: vec![management_token(
                &stowage_proto::acl::new_uuid(),
                &format!("tok-{who}"),
            )],
            create: true,
        },
        Op::DeleteToken => Command::DeleteAclTokens {
            accessor_ids: vec![accessor.into()],
        },
        _ => return None,
    })
}

/// The door a cell goes through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Door {
    Http,
    /// The raw gRPC `Write`, for the write operations.
    RawGrpc,
}

/// Sends caller `who`'s cell of `op` through `door` to node `node`, and says whether it was
/// answered as `may` calls for (allowed: success; denied: `Permission denied`), what the
/// answer was, and the path that says where to look for its effect. `None`: the door has no
/// such operation.
async fn send_cell(
    acls: &AclCluster,
    door: Door,
    (op, who, may): (Op, &str, bool),
    node: u64,
    token: Option<&str>,
) -> Option<(bool, String, String)> {
    if door == Door::RawGrpc && command_for(op, who, "").is_none() {
        return None;
    }
    // The HTTP preparation makes what the cell acts on, for either door.
    let (method, path, body) = prepare(acls, op, who).await;
    match door {
        Door::Http => {
            let (status, text) = acls.send(node, token, method, &path, body).await;
            let answered = if may {
                status.is_success()
            } else {
                (status, text.as_str()) == (StatusCode::FORBIDDEN, "Permission denied")
            };
            Some((answered, format!("{status} {text:?}"), path))
        }
        Door::RawGrpc => {
            let accessor = path.rsplit('/').next().unwrap_or_default();
            let command = command_for(op, who, accessor)?;
            let outcome = raw_write(&acls.cluster, node, token, &command, RawWrite::Direct).await;
            let answered = match &outcome {
                Ok(resp) => may && resp.result.is_ok(),
                Err(CsiError::PermissionDenied) => !may,
                Err(_) => false,
            };
            Some((answered, format!("{outcome:?}"), path))
        }
    }
}

/// Runs every cell of the matrix through `door`, each to the next node in turn (so two in three
/// land on a follower), and returns the cells answered or applied against their mark.
async fn run_matrix(acls: &AclCluster, door: Door) -> Vec<String> {
    common_setup(acls).await;
    let secrets = callers(acls).await;
    let nodes = acls.cluster.running();
    let mut cell = 0;
    let mut wrong = Vec::new();
    for (op, marks) in MATRIX {
        for (i, may) in allowed(marks).into_iter().enumerate() {
            let who = CALLERS[i].0;
            let node = nodes[cell % nodes.len()];
            let token = secrets[i].as_deref();
            let Some((answered, got, path)) =
                send_cell(acls, door, (*op, who, may), node, token).await
            else {
                continue;
            };
            cell += 1;
            let happened = happened(acls, *op, who, &path).await;
            if !answered || happened.is_some_and(|h| h != may) {
                wrong.push(format!(
                    "{op:?} as {who} via node {node}: expected {}, got {got}, changed: {happened:?}",
                    if may { "allowed" } else { "denied" }
                ));
            }
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_capability_matrix_holds_over_http_on_every_node() {
    let acls = AclCluster::start().await;
    let wrong = run_matrix(&acls, Door::Http).await;
    assert!(
        wrong.is_empty(),
        "{} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    acls.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_capability_matrix_holds_for_raw_grpc_writes_on_every_node() {
    let acls = AclCluster::start().await;
    let wrong = run_matrix(&acls, Door::RawGrpc).await;
    assert!(
        wrong.is_empty(),
        "{} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // A token that is no UUID, and one nobody has, are refused like no permission.
    let command = command_for(Op::Register, "stranger", "").expect("a write");
    for token in ["not-a-token", "00000000-0000-0000-0000-000000000000"] {
        let how = RawWrite::Direct;
        let outcome = raw_write(&acls.cluster, 2, Some(token), &command, how).await;
        assert_eq!(outcome.map(|_| ()), Err(CsiError::PermissionDenied));
    }
    assert!(!acls.exists("/v1/volume/csi/reg-stranger").await);
    acls.cluster.shutdown().await;
}
