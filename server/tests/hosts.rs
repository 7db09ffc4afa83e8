//! `deploy/hosts/agent.toml`, as written, on three network namespaces standing in for three
//! hosts joined by a bridge: the cluster forms, ACLs are on, a write on one host is read on
//! another, and losing a host leaves the other two writable. Needs root (network namespaces,
//! and a forwarding rule for the test's own bridge); elsewhere it is skipped with one line.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use stowage_testkit::eventually;

fn ip(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("ip").args(args).output()
}

fn must(args: &[&str]) {
    let out = ip(args).expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn iptables(args: &[&str]) {
    let out = Command::new("iptables")
        .args(args)
        .output()
        .expect("iptables runs");
    assert!(
        out.status.success(),
        "iptables {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Three namespaces on a bridge, 10.251.<net>.1-3, removed (with their agents) when dropped.
struct Hosts {
    tag: String,
    net: u8,
    agents: Vec<Child>,
}

impl Hosts {
    fn namespace(&self, host: u8) -> String {
        format!("{}h{host}", self.tag)
    }

    fn addr(&self, host: u8) -> String {
        format!("10.251.{}.{host}", self.net)
    }

    fn build() -> Hosts {
        let hosts = Hosts {
            tag: format!("sw{}", rand::random_range(1000..9999)),
            net: rand::random_range(1..250),
            agents: Vec::new(),
        };
        let bridge = format!("{}br", hosts.tag);
        must(&["link", "add", &bridge, "type", "bridge"]);
        must(&[
            "addr",
            "add",
            &format!("10.251.{}.254/24", hosts.net),
            "dev",
            &bridge,
        ]);
        must(&["link", "set", &bridge, "up"]);
        // Docker's FORWARD policy drops bridged traffic here (br_netfilter): let this bridge's
        // own traffic through, for as long as the test runs.
        iptables(&[
            "-I", "FORWARD", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT",
        ]);
        for h in 1..=3 {
            let ns = hosts.namespace(h);
            let veth = format!("{}v{h}", hosts.tag);
            must(&["netns", "add", &ns]);
            must(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            must(&["link", "set", &veth, "master", &bridge, "up"]);
            let cidr = format!("{}/24", hosts.addr(h));
            must(&["-n", &ns, "addr", "add", &cidr, "dev", "eth0"]);
            must(&["-n", &ns, "link", "set", "eth0", "up"]);
            must(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        hosts
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for a in &mut self.agents {
            let _ = a.kill();
            let _ = a.wait();
        }
        for h in 1..=3 {
            let _ = ip(&["netns", "del", &self.namespace(h)]);
        }
        let bridge = format!("{}br", self.tag);
        let _ = Command::new("iptables")
            .args([
                "-D", "FORWARD", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT",
            ])
            .output();
        let _ = ip(&["link", "del", &bridge]);
    }
}

/// The example config for host `host`: the file as shipped, with this test's addresses, node id,
/// data dir and secret file.
fn config_for(example: &str, hosts: &Hosts, host: u8, dir: &Path) -> String {
    example
        .replace("10.0.0.", &format!("10.251.{}.", hosts.net))
        .replace("node_id = 1", &format!("node_id = {host}"))
        .replace(
            "\"/var/lib/stowage\"",
            &format!("{:?}", dir.join(format!("data{host}"))),
        )
        .replace(
            "\"/etc/stowage/cluster-secret\"",
            &format!("{:?}", dir.join("cluster-secret")),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_host_example_forms_a_cluster_that_survives_a_host() {
    let iptables_here = Command::new("iptables").arg("-V").output().is_ok();
    if !rustix::process::geteuid().is_root() || ip(&["netns", "list"]).is_err() || !iptables_here {
        eprintln!("hosts test skipped: it needs root, iproute2 and iptables");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example =
        std::fs::read_to_string(repo.join("deploy/hosts/agent.toml")).expect("the example");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("cluster-secret"),
        "a-secret-the-three-hosts-share\n",
    )
    .expect("secret");
    let mut hosts = Hosts::build();
    for h in 1..=3u8 {
        let config = dir.path().join(format!("agent{h}.toml"));
        std::fs::write(&config, config_for(&example, &hosts, h, dir.path())).expect("config");
        let log = std::fs::File::create(dir.path().join(format!("agent{h}.log"))).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &hosts.namespace(h)])
            .arg(env!("CARGO_BIN_EXE_stowage"))
            .args(["agent", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the agent starts");
        hosts.agents.push(child);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let addrs: Vec<String> = (1..=3).map(|h| hosts.addr(h)).collect();
    let url = |h: u8, path: &str| format!("http://{}:4646{path}", addrs[usize::from(h) - 1]);

    let root: String = eventually(
        "host 1 bootstraps ACLs",
        Duration::from_secs(60),
        || async {
            let r = http.post(url(1, "/v1/acl/bootstrap")).send().await.ok()?;
            let v: serde_json::Value = r.json().await.ok()?;
            v["SecretID"].as_str().map(str::to_string)
        },
    )
    .await;
    let volume = |id: &str| {
        serde_json::json!({"Volumes": [{"ID": id, "PluginID": "p", "RequestedCapabilities":
            [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}]})
        .to_string()
    };
    let put = http
        .put(url(1, "/v1/volumes"))
        .header("X-Nomad-Token", &root)
        .body(volume("on-host-1"))
        .send()
        .await
        .expect("register");
    assert_eq!(put.status(), 200);
    let read = http
        .get(url(3, "/v1/volume/csi/on-host-1"))
        .header("X-Nomad-Token", &root)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), 200, "host 3 reads what host 1 wrote");
    let anonymous = http.get(url(3, "/v1/volume/csi/on-host-1")).send().await;
    assert_eq!(
        anonymous.expect("read").status(),
        403,
        "ACLs are on, as the file says"
    );

    // Host 1 lost for good: the other two still take writes.
    let _ = hosts.agents[0].kill();
    eventually(
        "hosts 2 and 3 take a write",
        Duration::from_secs(60),
        || async {
            let r = http
                .put(url(2, "/v1/volumes"))
                .header("X-Nomad-Token", &root)
                .body(volume("without-host-1"))
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(())
        },
    )
    .await;
}
