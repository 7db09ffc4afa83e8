//! The `stowage` command line as an operator runs it, a real process against three real nodes:
//! volume init, register (HCL file, JSON on stdin), status, claim, release, detach and
//! deregister; plugin status; operator raft list-peers; ACL bootstrap and namespaces with a token;
//! Nomad's single-dash flags and `NOMAD_ADDR`/`NOMAD_TOKEN`; and each failure as exit 1 with one
//! line on stderr.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use stowage_testkit::{TestCluster, fast_timing};
use tokio::io::AsyncWriteExt;

/// What one run of the binary did.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Asserts the command succeeded; its standard output.
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts the command failed with exit 1, printing nothing on stdout and exactly one line on
    /// stderr; that line.
    #[track_caller]
    fn failed(&self) -> &str {
        assert_eq!(self.code, Some(1), "expected exit 1: {self:#?}");
        assert_eq!(self.stdout, "", "nothing on stdout: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {self:#?}");
        assert!(self.stderr.ends_with('\n'), "{self:#?}");
        lines[0]
    }
}

/// One run of `stowage` with `args`, in an environment that names no address, token or
/// namespace unless the test sets one.
struct Run {
    cmd: tokio::process::Command,
    stdin: Option<String>,
}

fn stowage(args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stowage"));
    cmd.args(args);
    for var in [
        "NOMAD_ADDR",
        "NOMAD_TOKEN",
        "NOMAD_NAMESPACE",
        "RUST_LOG",
        "STOWAGE_LOG_LEVEL",
        "STOWAGE_LOG_JSON",
    ] {
        cmd.env_remove(var);
    }
    cmd.kill_on_drop(true);
    Run { cmd, stdin: None }
}

impl Run {
    fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    fn dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_string());
        self
    }

    async fn run(mut self) -> Out {
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("the stowage binary starts");
        if let Some(text) = self.stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(text.as_bytes()).await.expect("write stdin");
            drop(pipe);
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the command finished within a minute")
            .expect("the command ran");
        Out {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }
}

fn addr_flag(cluster: &TestCluster, node: u64) -> String {
    format!("-address=http://{}", cluster.http_addr(node))
}

/// The cells of each line of a table whose columns are two or more spaces apart, header first.
fn table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// The value of the `key = value` line for `key`, if there is one.
fn detail(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The lines of the section that starts with the line `title`, up to the next blank line.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// `hcl` with the top-level attribute `key` set to the string `value`; it must be set exactly
/// once in the file.
fn set_attr(hcl: &str, key: &str, value: &str) -> String {
    let mut found = 0;
    let lines: Vec<String> = hcl
        .lines()
        .map(|line| match line.split_once('=') {
            Some((k, _)) if !line.starts_with(char::is_whitespace) && k.trim() == key => {
                found += 1;
                format!("{key} = {value:?}")
            }
            _ => line.to_string(),
        })
        .collect();
    assert_eq!(found, 1, "`{key} = …` once at the top of:\n{hcl}");
    lines.join("\n") + "\n"
}

/// Sets the volume's id and plugin id in a JSON spec, in the first object that has an id (its
/// keys spelt as the spec spells them: `id`/`ID`, `plugin_id`/`PluginID`).
fn set_json_ids(spec: &mut Value, id: &str, plugin: &str) -> bool {
    let norm = |k: &str| k.replace('_', "").to_lowercase();
    match spec {
        Value::Object(map) if map.keys().any(|k| norm(k) == "id") => {
            let mut plugin_set = false;
            for (k, v) in map.iter_mut() {
                match norm(k).as_str() {
                    "id" => *v = json!(id),
                    "pluginid" => {
                        *v = json!(plugin);
                        plugin_set = true;
                    }
                    _ => {}
                }
            }
            assert!(plugin_set, "a plugin id beside the id: {map:?}");
            true
        }
        Value::Object(map) => map.values_mut().any(|v| set_json_ids(v, id, plugin)),
        Value::Array(items) => items.iter_mut().any(|v| set_json_ids(v, id, plugin)),
        _ => false,
    }
}

/// `GET path` on node `node`: the status and the body as JSON (null when it is not JSON).
async fn http_get(cluster: &TestCluster, node: u64, path: &str) -> (StatusCode, Value) {
    let url = format!("http://{}{path}", cluster.http_addr(node));
    let r = reqwest::get(url).await.expect("the node answered");
    let status = r.status();
    let body = r.text().await.expect("body");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A volume spec in Nomad's HCL that any number of allocations may claim for writing.
fn claimable_spec(id: &str, plugin: &str) -> String {
    format!(
        r#"id          = "{id}"
name        = "{id}"
type        = "csi"
plugin_id   = "{plugin}"
external_id = "ext-{id}"

capability {{
  access_mode     = "multi-node-multi-writer"
  attachment_mode = "file-system"
}}
"#
    )
}

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
    let url = format!(
        "http://{}/v1/plugin/csi/cli-claims",
        cluster.http_addr(leader)
    );
    let r = reqwest::Client::new()
        .put(url)
        .body(json!({"Provider": "test", "NodesHealthy": 2, "NodesExpected": 2}).to_string())
        .send()
        .await
        .expect("plugin report");
    assert_eq!(r.status(), StatusCode::OK);
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
