//! The `stowage` administration commands, a real process against three real nodes: operator
//! raft list-peers and remove-peer; operator snapshot save, inspect and restore (and a truncated
//! archive refused); ACL bootstrap and namespaces with a token, through `NOMAD_ADDR` and
//! `NOMAD_TOKEN`; and an unreachable address as exit 1 with one line on stderr.

#[path = "support/cli.rs"]
mod support;

use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use stowage_testkit::acl_cluster::volume_json;
use stowage_testkit::{TestCluster, eventually, fast_timing};
use support::{addr_flag, claimable_spec, detail, http_get, http_put, stowage, table, volume_ids};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_raft_list_peers_shows_three_voters_and_one_leader() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    for node in cluster.running() {
        let out = stowage(&["operator", "raft", "list-peers", &addr_flag(&cluster, node)])
            .run()
            .await;
        let rows = table(out.ok());
        assert_eq!(
            rows[0],
            ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"],
            "{out:#?}"
        );
        assert_eq!(rows.len(), 4, "three peers: {out:#?}");
        let mut seen = Vec::new();
        for row in &rows[1..] {
            let id: u64 = row[1].parse().expect("a numeric ID");
            let state = if id == leader { "leader" } else { "follower" };
            let expected = [
                format!("node{id}"),
                id.to_string(),
                cluster.rpc_addr(id),
                state.to_string(),
                "true".to_string(),
                "3".to_string(),
            ];
            assert_eq!(row.as_slice(), expected.as_slice(), "{out:#?}");
            seen.push(id);
        }
        seen.sort();
        assert_eq!(seen, [1, 2, 3]);
    }
    let out = stowage(&[
        "operator",
        "raft",
        "remove-peer",
        &addr_flag(&cluster, leader),
        "-peer-id=9",
    ])
    .run()
    .await;
    assert!(
        out.failed()
            .contains("id \"9\" was not found in the Raft configuration"),
        "{out:#?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_snapshot_save_inspect_and_restore() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let follower = cluster.followers(leader)[0];
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = ["cli-snap-a", "cli-snap-b", "cli-snap-c"];
    for id in saved {
        http_put(
            &cluster,
            leader,
            &format!("/v1/volume/csi/{id}"),
            volume_json(id),
        )
        .await;
    }

    // Saved through a follower, inspected offline.
    let file = dir.path().join("backup.snap");
    let file_arg = file.to_str().expect("a UTF-8 path");
    let out = stowage(&[
        "operator",
        "snapshot",
        "save",
        &addr_flag(&cluster, follower),
        file_arg,
    ])
    .run()
    .await;
    assert!(out.ok().contains(file_arg), "{out:#?}");
    let archive = std::fs::read(&file).expect("save wrote the file");
    assert!(!archive.is_empty());
    assert!(
        !file.with_extension("partial").exists(),
        "no partial file left behind"
    );
    let out = stowage(&["operator", "snapshot", "inspect", file_arg])
        .run()
        .await;
    let text = out.ok();
    let volumes_line = format!("Volumes      = {}", saved.len());
    assert!(
        text.lines().any(|l| l == volumes_line),
        "{volumes_line:?} in:\n{text}"
    );
    let index: u64 = detail(text, "Index")
        .unwrap_or_else(|| panic!("an Index: {text}"))
        .parse()
        .expect("a numeric Index");
    assert!(index > 0, "{text}");

    // A volume made after the save is gone once the archive is restored (through the leader).
    http_put(
        &cluster,
        leader,
        "/v1/volume/csi/cli-snap-extra",
        volume_json("cli-snap-extra"),
    )
    .await;
    let out = stowage(&[
        "operator",
        "snapshot",
        "restore",
        &addr_flag(&cluster, leader),
        file_arg,
    ])
    .run()
    .await;
    assert!(out.ok().contains("Snapshot Restored"), "{out:#?}");
    for node in cluster.running() {
        eventually(
            &format!("node {node} serves the restored volumes"),
            Duration::from_secs(20),
            || {
                let cluster = &cluster;
                async move {
                    let (gone, _) = http_get(cluster, node, "/v1/volume/csi/cli-snap-extra").await;
                    let ids = volume_ids(cluster, node, "default").await;
                    (gone == StatusCode::NOT_FOUND && ids == saved).then_some(())
                }
            },
        )
        .await;
        for id in saved {
            let (status, v) = http_get(&cluster, node, &format!("/v1/volume/csi/{id}")).await;
            assert_eq!(status, StatusCode::OK, "node {node} {id}: {v}");
        }
    }

    // A truncated copy is refused before anything is sent, and changes nothing.
    http_put(
        &cluster,
        leader,
        "/v1/volume/csi/cli-snap-later",
        volume_json("cli-snap-later"),
    )
    .await;
    let before = volume_ids(&cluster, leader, "default").await;
    let truncated = dir.path().join("truncated.snap");
    std::fs::write(&truncated, &archive[..archive.len() / 2]).expect("write the truncated copy");
    let out = stowage(&[
        "operator",
        "snapshot",
        "restore",
        &addr_flag(&cluster, leader),
        truncated.to_str().expect("a UTF-8 path"),
    ])
    .run()
    .await;
    assert!(out.failed().contains("checksum"), "{out:#?}");
    assert_eq!(volume_ids(&cluster, leader, "default").await, before);
    assert!(before.contains(&"cli-snap-later".to_string()), "{before:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acl_bootstrap_then_namespaces_and_registers_need_the_token() {
    let cluster = TestCluster::start_with_acls(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let addr = format!("http://{}", cluster.http_addr(cluster.followers(leader)[0]));
    let dir = tempfile::tempdir().expect("tempdir");

    let out = stowage(&["acl", "bootstrap", &format!("-address={addr}")])
        .run()
        .await;
    let secret = detail(out.ok(), "Secret ID").unwrap_or_else(|| panic!("a Secret ID: {out:#?}"));
    assert_eq!(secret.len(), 36, "a UUID: {secret}");
    assert_eq!(detail(out.ok(), "Type").as_deref(), Some("management"));
    let out = stowage(&["acl", "bootstrap", &format!("-address={addr}")])
        .run()
        .await;
    assert!(
        out.failed().contains("ACL bootstrap already done"),
        "{out:#?}"
    );

    let with_token = |args: &[&str]| {
        stowage(args)
            .env("NOMAD_ADDR", &addr)
            .env("NOMAD_TOKEN", &secret)
    };
    with_token(&["namespace", "apply", "-description", "d", "team1"])
        .run()
        .await
        .ok();
    let out = with_token(&["namespace", "list"]).run().await;
    let rows = table(out.ok());
    assert_eq!(rows[0], ["Name", "Description"], "{out:#?}");
    assert!(
        rows.contains(&vec!["team1".to_string(), "d".to_string()]),
        "{out:#?}"
    );

    std::fs::write(dir.path().join("v.hcl"), claimable_spec("cli-acl-vol", "p"))
        .expect("write the spec");
    let out = stowage(&["volume", "register", "v.hcl"])
        .env("NOMAD_ADDR", &addr)
        .dir(dir.path())
        .run()
        .await;
    assert!(out.failed().contains("Permission denied"), "{out:#?}");
    let out = stowage(&["namespace", "apply", "team2"])
        .env("NOMAD_ADDR", &addr)
        .run()
        .await;
    assert!(out.failed().contains("Permission denied"), "{out:#?}");
    // The same file with the token goes through, so the refusal was the missing token's.
    with_token(&["volume", "register", "v.hcl"])
        .dir(dir.path())
        .run()
        .await
        .ok();
    let out = with_token(&["volume", "status", "-json", "cli-acl-vol"])
        .run()
        .await;
    let v: Value = serde_json::from_str(out.ok()).expect("JSON");
    assert_eq!(v["ID"], "cli-acl-vol");
    let out = with_token(&["namespace", "list"]).run().await;
    assert!(!out.ok().contains("team2"), "{out:#?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_address_fails_in_one_line() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port that was free a moment ago");
    let out = stowage(&["volume", "status", &format!("-address=http://{free}")])
        .run()
        .await;
    let line = out.failed();
    assert!(line.contains(&free.to_string()), "{line}");
    let out = stowage(&["operator", "raft", "list-peers"])
        .env("NOMAD_ADDR", &format!("http://{free}"))
        .run()
        .await;
    assert!(out.failed().contains(&free.to_string()), "{out:#?}");
}
