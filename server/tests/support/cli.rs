//! Helpers shared by the `cli_*` tests: running the real `stowage` binary in a clean
//! environment and reading what it printed (tables, `key = value` details, sections), editing
//! volume specs, and plain HTTP calls to check what a command did.

// Each `cli_*` test binary compiles this whole module and uses only part of it.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use stowage_testkit::TestCluster;
use tokio::io::AsyncWriteExt;

/// What one run of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts the command succeeded; its standard output.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts the command failed with exit 1, printing nothing on stdout and exactly one line on
    /// stderr; that line.
    #[track_caller]
    pub fn failed(&self) -> &str {
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
pub struct Run {
    cmd: tokio::process::Command,
    stdin: Option<String>,
}

pub fn stowage(args: &[&str]) -> Run {
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
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_string());
        self
    }

    pub async fn run(mut self) -> Out {
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

pub fn addr_flag(cluster: &TestCluster, node: u64) -> String {
    format!("-address=http://{}", cluster.http_addr(node))
}

/// The cells of each line of a table whose columns are two or more spaces apart, header first.
pub fn table(text: &str) -> Vec<Vec<String>> {
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
pub fn detail(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The lines of the section that starts with the line `title`, up to the next blank line.
pub fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// `hcl` with the top-level attribute `key` set to the string `value`; it must be set exactly
/// once in the file.
pub fn set_attr(hcl: &str, key: &str, value: &str) -> String {
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
pub fn set_json_ids(spec: &mut Value, id: &str, plugin: &str) -> bool {
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
pub async fn http_get(cluster: &TestCluster, node: u64, path: &str) -> (StatusCode, Value) {
    let url = format!("http://{}{path}", cluster.http_addr(node));
    let r = reqwest::get(url).await.expect("the node answered");
    let status = r.status();
    let body = r.text().await.expect("body");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `PUT path` on node `node` with the JSON `body`, which must answer 200.
pub async fn http_put(cluster: &TestCluster, node: u64, path: &str, body: Value) {
    let url = format!("http://{}{path}", cluster.http_addr(node));
    let r = reqwest::Client::new()
        .put(url)
        .body(body.to_string())
        .send()
        .await
        .expect("the node answered");
    let status = r.status();
    let text = r.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "PUT {path}: {text}");
}

/// The IDs of the volumes of `namespace` that node `node` lists, sorted.
pub async fn volume_ids(cluster: &TestCluster, node: u64, namespace: &str) -> Vec<String> {
    let path = format!("/v1/volumes?type=csi&namespace={namespace}");
    let (status, list) = http_get(cluster, node, &path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|v| v["ID"].as_str().expect("ID").to_string())
        .collect();
    ids.sort();
    ids
}

/// A volume spec in Nomad's HCL that any number of allocations may claim for writing.
pub fn claimable_spec(id: &str, plugin: &str) -> String {
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
