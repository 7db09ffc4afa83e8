//! The `stowage volume` commands as an operator runs them, a real process against three real
//! nodes: init, register (an HCL file, JSON on stdin, into the namespace `-namespace` names),
//! status as a table and as JSON, claim, release, detach and deregister, `plugin status`, and
//! each failure as exit 1 with one line on stderr.

#[path = "support/cli.rs"]
mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use stowage_testkit::{TestCluster, fast_timing};
use support::{
    addr_flag, claimable_spec, detail, http_get, http_put, section, set_attr, set_json_ids,
    stowage, table, volume_ids,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn volume_init_edit_register_and_status() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let addr = addr_flag(&cluster, leader);
    let dir = tempfile::tempdir().expect("tempdir");

    let out = stowage(&["volume", "init"]).dir(dir.path()).run().await;
    assert!(out.ok().contains("volume.hcl"), "{out:#?}");
    let spec = dir.path().join("volume.hcl");
    let example = std::fs::read_to_string(&spec).expect("volume init wrote volume.hcl");
    let out = stowage(&["volume", "init"]).dir(dir.path()).run().await;
    assert!(out.failed().contains("already exists"), "{out:#?}");
    assert_eq!(
        std::fs::read_to_string(&spec).expect("still there"),
        example,
        "a second init leaves the file alone"
    );

    let edited = set_attr(&example, "id", "cli-init-vol");
    let edited = set_attr(&edited, "plugin_id", "cli-plugin");
    std::fs::write(&spec, edited).expect("edit volume.hcl");
    let out = stowage(&["volume", "register", &addr, "volume.hcl"])
        .dir(dir.path())
        .run()
        .await;
    assert!(out.ok().contains("cli-init-vol"), "{out:#?}");
    let (status, v) = http_get(&cluster, leader, "/v1/volume/csi/cli-init-vol").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["PluginID"], "cli-plugin");

    // The list, through NOMAD_ADDR and another node.
    let other = cluster.followers(leader)[0];
    let out = stowage(&["volume", "status"])
        .env(
            "NOMAD_ADDR",
            &format!("http://{}", cluster.http_addr(other)),
        )
        .run()
        .await;
    let rows = table(out.ok());
    assert_eq!(rows[0][0], "ID", "{out:#?}");
    assert!(rows[0].iter().any(|h| h == "Plugin ID"), "{out:#?}");
    let row = rows
        .iter()
        .find(|r| r[0] == "cli-init-vol")
        .unwrap_or_else(|| panic!("a row for the volume: {out:#?}"));
    assert!(row.iter().any(|c| c == "cli-plugin"), "{row:?}");

    // One volume by a prefix of its ID.
    let out = stowage(&["volume", "status", &addr, "cli-init"])
        .run()
        .await;
    let text = out.ok();
    assert_eq!(
        detail(text, "ID").as_deref(),
        Some("cli-init-vol"),
        "{text}"
    );
    assert_eq!(
        detail(text, "Plugin ID").as_deref(),
        Some("cli-plugin"),
        "{text}"
    );
    assert_eq!(section(text, "Claims"), ["No claims"], "{text}");

    let out = stowage(&["volume", "status", "-json", &addr]).run().await;
    let list: Value = serde_json::from_str(out.ok()).expect("the list is JSON");
    let ids: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v["ID"].as_str().expect("ID"))
        .collect();
    assert_eq!(ids, ["cli-init-vol"]);
    let out = stowage(&["volume", "status", "-json", &addr, "cli-init-vol"])
        .run()
        .await;
    let one: Value = serde_json::from_str(out.ok()).expect("the volume is JSON");
    assert_eq!(
        (&one["ID"], &one["PluginID"]),
        (&json!("cli-init-vol"), &json!("cli-plugin"))
    );

    let out = stowage(&["volume", "status", &addr, "no-such"]).run().await;
    assert!(out.failed().contains("no-such"), "{out:#?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_json_from_stdin_and_refuse_a_malformed_file_in_one_line() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let addr = addr_flag(&cluster, leader);
    let dir = tempfile::tempdir().expect("tempdir");

    let out = stowage(&["volume", "init", "-json", "spec.json"])
        .dir(dir.path())
        .run()
        .await;
    out.ok();
    let text = std::fs::read_to_string(dir.path().join("spec.json")).expect("spec.json written");
    let mut spec: Value = serde_json::from_str(&text).expect("the JSON example is JSON");
    assert!(
        set_json_ids(&mut spec, "cli-json-vol", "cli-json-plugin"),
        "{spec}"
    );
    let out = stowage(&["volume", "register", &addr, "-"])
        .stdin(&spec.to_string())
        .run()
        .await;
    assert!(out.ok().contains("cli-json-vol"), "{out:#?}");
    let (status, v) = http_get(&cluster, leader, "/v1/volume/csi/cli-json-vol").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["PluginID"], "cli-json-plugin");

    // The API's own volume object, as `curl` would send it, is a JSON spec too.
    let api = json!({"ID": "cli-api-vol", "PluginID": "cli-json-plugin", "RequestedCapabilities":
        [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]});
    let out = stowage(&["volume", "register", &addr, "-"])
        .stdin(&api.to_string())
        .run()
        .await;
    assert!(out.ok().contains("cli-api-vol"), "{out:#?}");
    let (status, v) = http_get(&cluster, leader, "/v1/volume/csi/cli-api-vol").await;
    assert_eq!(
        (status, &v["PluginID"]),
        (StatusCode::OK, &json!("cli-json-plugin"))
    );

    // Malformed JSON on stdin: a missing colon on line 3.
    let out = stowage(&["volume", "register", &addr, "-"])
        .stdin("{\n  \"id\": \"cli-bad-json\",\n  \"plugin_id\" \"p\"\n}\n")
        .run()
        .await;
    let line = out.failed();
    assert!(line.contains("<stdin>:3:"), "{line}");

    // An attribute with no name on line 2.
    std::fs::write(
        dir.path().join("bad.hcl"),
        "id = \"cli-bad\"\n= \"p\"\nplugin_id = \"p\"\n",
    )
    .expect("write bad.hcl");
    let out = stowage(&["volume", "register", &addr, "bad.hcl"])
        .dir(dir.path())
        .run()
        .await;
    let line = out.failed();
    let at = line
        .find("bad.hcl:2:")
        .unwrap_or_else(|| panic!("names bad.hcl:2:<column>: {line}"));
    let column = &line[at + "bad.hcl:2:".len()..];
    assert!(column.starts_with(|c: char| c.is_ascii_digit()), "{line}");
    let (status, _) = http_get(&cluster, leader, "/v1/volume/csi/cli-bad").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let out = stowage(&["volume", "register", &addr, "missing.hcl"])
        .dir(dir.path())
        .run()
        .await;
    assert!(out.failed().contains("missing.hcl"), "{out:#?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claim_release_detach_and_deregister() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let addr = addr_flag(&cluster, leader);
    let dir = tempfile::tempdir().expect("tempdir");
    // Claims need a healthy plugin, which Nomad's clients would report.
    http_put(
        &cluster,
        leader,
        "/v1/plugin/csi/cli-claims",
        json!({"Provider": "test", "NodesHealthy": 2, "NodesExpected": 2}),
    )
    .await;
    let out = stowage(&["plugin", "status", &addr]).run().await;
    let rows = table(out.ok());
    assert_eq!(rows[0][0], "ID", "{out:#?}");
    assert!(rows.iter().any(|r| r[0] == "cli-claims"), "{out:#?}");

    let id = "cli-claimed";
    std::fs::write(
        dir.path().join("claimed.hcl"),
        claimable_spec(id, "cli-claims"),
    )
    .expect("write the spec");
    stowage(&["volume", "register", &addr, "claimed.hcl"])
        .dir(dir.path())
        .run()
        .await
        .ok();

    let out = stowage(&[
        "volume", "claim", &addr, "-alloc", "alloc-a", "-node", "N1", "-mode", "write", id,
    ])
    .run()
    .await;
    out.ok();
    let out = stowage(&[
        "volume", "claim", &addr, "-alloc", "alloc-b", "-node", "N2", "-mode", "read", id,
    ])
    .run()
    .await;
    out.ok();
    let claims = |text: &str| -> Vec<Vec<String>> { table(&section(text, "Claims").join("\n")) };
    let out = stowage(&["volume", "status", &addr, id]).run().await;
    assert_eq!(
        claims(out.ok()),
        [
            vec!["Allocation", "Node", "Mode"],
            vec!["alloc-a", "N1", "write"],
            vec!["alloc-b", "N2", "read"],
        ],
        "{out:#?}"
    );

    stowage(&["volume", "release", &addr, "-alloc", "alloc-a", id])
        .run()
        .await
        .ok();
    let out = stowage(&["volume", "status", &addr, id]).run().await;
    assert_eq!(
        claims(out.ok()),
        [
            vec!["Allocation", "Node", "Mode"],
            vec!["alloc-b", "N2", "read"]
        ],
        "{out:#?}"
    );
    let out = stowage(&["volume", "release", &addr, "-alloc", "alloc-a", id])
        .run()
        .await;
    assert!(out.failed().contains("alloc-a"), "{out:#?}");

    stowage(&["volume", "detach", &addr, id, "N2"])
        .run()
        .await
        .ok();
    let out = stowage(&["volume", "status", &addr, id]).run().await;
    assert_eq!(section(out.ok(), "Claims"), ["No claims"], "{out:#?}");

    stowage(&["volume", "deregister", &addr, id])
        .run()
        .await
        .ok();
    let (status, _) = http_get(&cluster, leader, &format!("/v1/volume/csi/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let out = stowage(&["volume", "deregister", &addr, id]).run().await;
    assert!(out.failed().contains(id), "{out:#?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_with_a_namespace_flag_puts_a_spec_without_one_there() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let addr = addr_flag(&cluster, leader);
    let dir = tempfile::tempdir().expect("tempdir");
    http_put(
        &cluster,
        leader,
        "/v1/namespace/team",
        json!({"Name": "team", "Description": "d"}),
    )
    .await;
    let id = "cli-ns-vol";
    let spec = claimable_spec(id, "cli-ns-plugin");
    assert!(!spec.contains("namespace"), "the spec names no namespace");
    std::fs::write(dir.path().join("ns.hcl"), spec).expect("write the spec");

    let out = stowage(&["volume", "register", &addr, "-namespace", "team", "ns.hcl"])
        .dir(dir.path())
        .run()
        .await;
    assert!(out.ok().contains(id), "{out:#?}");
    let (status, v) = http_get(
        &cluster,
        leader,
        &format!("/v1/volume/csi/{id}?namespace=team"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["Namespace"], &v["PluginID"]),
        (&json!("team"), &json!("cli-ns-plugin"))
    );
    assert_eq!(volume_ids(&cluster, leader, "team").await, [id]);
    assert_eq!(
        volume_ids(&cluster, leader, "default").await,
        Vec::<String>::new(),
        "nothing registered into the default namespace"
    );
    let out = stowage(&["volume", "status", "-json", &addr, "-namespace", "team", id])
        .run()
        .await;
    let one: Value = serde_json::from_str(out.ok()).expect("the volume is JSON");
    assert_eq!(
        (&one["ID"], &one["Namespace"]),
        (&json!(id), &json!("team"))
    );
    cluster.shutdown().await;
}
