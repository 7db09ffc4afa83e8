//! The docker-compose cluster, for real: the image built from this checkout, the repository's
//! `docker-compose.yml` in a project of the test's own, the gateway answering while the leader is
//! killed, data kept across `down` and `up` and forgotten with `down -v`, clean stops on SIGTERM,
//! and a non-root user; and the same cluster over TLS (`docker-compose.tls.yml`), with
//! certificates from `deploy/tls/make-certs.sh`, client certificates required, and Raft over
//! mutual TLS electing a new leader. Skipped, with one line, where no Docker engine answers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use stowage_testkit::eventually;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_path_buf()
}

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a command and returns its stdout; panics with its stderr when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One compose project of the test's own; dropping it removes its containers, network and
/// volumes, whatever happened.
struct Project {
    name: String,
    /// The image the project runs, removed with it.
    image: String,
    compose: Vec<String>,
    /// The compose files, the repository's own first.
    files: Vec<PathBuf>,
    env: Vec<(&'static str, String)>,
    /// `http`, or `https` for a project over TLS.
    scheme: &'static str,
    gateway: u16,
    node_ports: [u16; 3],
}

impl Project {
    /// A project of the repository's `docker-compose.yml` alone, its image built from this test
    /// build's binary.
    fn new() -> Project {
        Project::build(&[], Vec::new(), "http")
    }

    /// The same cluster over TLS (`docker-compose.tls.yml`) with the certificates in `certs`,
    /// every HTTPS port requiring a client certificate.
    fn over_tls(certs: &Path) -> Project {
        let env = vec![
            ("STOWAGE_TLS_DIR", certs.display().to_string()),
            ("STOWAGE_TLS_VERIFY_HTTPS_CLIENT", "true".into()),
        ];
        Project::build(&["docker-compose.tls.yml"], env, "https")
    }

    /// A project of `docker-compose.yml` and the `overlays` (repository paths), with `env` added,
    /// reached over `scheme`, its image built from this test build's binary.
    fn build(overlays: &[&str], env: Vec<(&'static str, String)>, scheme: &'static str) -> Project {
        let plugin = Command::new("docker")
            .args(["compose", "version"])
            .output()
            .is_ok_and(|o| o.status.success());
        let compose = if plugin {
            vec!["docker".into(), "compose".into()]
        } else {
            vec!["docker-compose".into()]
        };
        let (gateway, node_ports) = (free_port(), [free_port(), free_port(), free_port()]);
        let name = format!("stowagetest{}", rand::random::<u32>());
        let image = format!("stowage-test:{name}");
        // The image holds this test build's own binary, under a tag of the test's own: nothing
        // compiles, the binary other tests are running is never replaced, and a user's
        // `stowage:local` is left alone.
        run(Command::new(repo().join("deploy/build-image.sh"))
            .current_dir(repo())
            .args(["--binary", env!("CARGO_BIN_EXE_stowage"), "--tag", &image]));
        let mut files = vec![repo().join("docker-compose.yml")];
        files.extend(overlays.iter().map(|f| repo().join(f)));
        Project {
            compose,
            files,
            scheme,
            env: vec![
                ("STOWAGE_IMAGE", image.clone()),
                ("STOWAGE_PORT", format!("127.0.0.1:{gateway}")),
                ("STOWAGE_NODE1_PORT", format!("127.0.0.1:{}", node_ports[0])),
                ("STOWAGE_NODE2_PORT", format!("127.0.0.1:{}", node_ports[1])),
                ("STOWAGE_NODE3_PORT", format!("127.0.0.1:{}", node_ports[2])),
            ]
            .into_iter()
            .chain(env)
            .collect(),
            gateway,
            node_ports,
            name,
            image,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.compose[0]);
        c.args(&self.compose[1..]).args(["-p", &self.name]);
        for f in &self.files {
            c.arg("-f").arg(f);
        }
        c.args(args).envs(self.env.iter().map(|(k, v)| (*k, v)));
        c
    }

    fn compose(&self, args: &[&str]) -> String {
        run(&mut self.cmd(args))
    }

    fn container(&self, service: &str) -> String {
        self.compose(&["ps", "-a", "-q", service])
    }

    fn url(&self, port: u16, path: &str) -> String {
        format!("{}://127.0.0.1:{port}{path}", self.scheme)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self
            .cmd(&["down", "-v", "--remove-orphans", "-t", "5"])
            .output();
        let _ = Command::new("docker").args(["rmi", &self.image]).output();
    }
}

async fn status(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

async fn until_healthy(p: &Project, http: &reqwest::Client) {
    let health = p.url(p.gateway, "/v1/agent/health");
    eventually(
        "the cluster answers healthy through the gateway",
        Duration::from_secs(90),
        || async { (status(http, &health).await == Some(200)).then_some(()) },
    )
    .await;
}

async fn volume_ids(p: &Project, http: &reqwest::Client, port: u16) -> Vec<String> {
    let r = http
        .get(p.url(port, "/v1/volumes?type=csi"))
        .send()
        .await
        .expect("list");
    let v: serde_json::Value = r.json().await.expect("json");
    v.as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["ID"].as_str().map(str::to_string))
        .collect()
}

fn volume(id: &str) -> String {
    serde_json::json!({"Volumes": [{"ID": id, "PluginID": "p", "RequestedCapabilities":
        [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}]}]})
    .to_string()
}

/// Registers volume `id` through the gateway, and reads it back on a node's own port (`node`):
/// the only volume there.
async fn registered_through_the_gateway(p: &Project, http: &reqwest::Client, id: &str, node: u16) {
    let put = http
        .put(p.url(p.gateway, "/v1/volumes"))
        .body(volume(id))
        .send()
        .await
        .expect("register");
    assert_eq!(put.status(), 200);
    assert_eq!(volume_ids(p, http, node).await, [id]);
}

/// Kills the leader's container, and returns its service once the gateway answers a read of
/// volume `kept` again and a write of volume `id` is acknowledged without it (another node
/// leads).
async fn survives_the_leader(p: &Project, http: &reqwest::Client, kept: &str, id: &str) -> String {
    // A node that has not yet heard from the leader names none: ask until one is named.
    let leader_url = p.url(p.gateway, "/v1/status/leader");
    let leader: String = eventually(
        "a node names the leader",
        Duration::from_secs(30),
        || async {
            let named: String = http.get(&leader_url).send().await.ok()?.json().await.ok()?;
            (!named.is_empty()).then_some(named)
        },
    )
    .await;
    let service = leader.split(':').next().expect("node name").to_string();
    run(Command::new("docker").args(["kill", &p.container(&service)]));
    let read = p.url(p.gateway, &format!("/v1/volume/csi/{kept}"));
    eventually(
        "reads answer through the gateway",
        Duration::from_secs(30),
        || async { (status(http, &read).await == Some(200)).then_some(()) },
    )
    .await;
    eventually(
        "a write is acknowledged without the old leader",
        Duration::from_secs(60),
        || async {
            let r = http
                .put(p.url(p.gateway, "/v1/volumes"))
                .body(volume(id))
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(())
        },
    )
    .await;
    service
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_cluster_survives_a_node_and_keeps_its_data() {
    if !docker_answers() {
        eprintln!("compose test skipped: no Docker engine answers here");
        return;
    }
    let p = Project::new();
    p.compose(&["up", "-d"]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    until_healthy(&p, &http).await;

    registered_through_the_gateway(&p, &http, "kept", p.node_ports[1]).await;

    let service = survives_the_leader(&p, &http, "kept", "after").await;
    p.compose(&["up", "-d", &service]);

    // SIGTERM stops a node cleanly within the grace period, as the non-root user.
    let node2 = p.container("node2");
    let user = run(Command::new("docker").args(["inspect", "-f", "{{.Config.User}}", &node2]));
    assert_eq!(user, "10001:10001");
    run(Command::new("docker").args(["stop", "-t", "15", &node2]));
    let code = run(Command::new("docker").args(["inspect", "-f", "{{.State.ExitCode}}", &node2]));
    assert_eq!(
        code, "0",
        "a stopped node exits 0, not killed at the grace period's end"
    );

    // `down` then `up` keeps the data; `down -v` forgets it.
    p.compose(&["down"]);
    p.compose(&["up", "-d"]);
    until_healthy(&p, &http).await;
    let mut ids = volume_ids(&p, &http, p.gateway).await;
    ids.sort();
    assert_eq!(ids, ["after", "kept"]);
    p.compose(&["down", "-v"]);
    p.compose(&["up", "-d"]);
    until_healthy(&p, &http).await;
    assert!(volume_ids(&p, &http, p.gateway).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_cluster_runs_over_tls_with_client_certificates() {
    if !docker_answers() {
        eprintln!("compose TLS test skipped: no Docker engine answers here");
        return;
    }
    let certs = tempfile::tempdir().expect("a certificate dir");
    run(Command::new(repo().join("deploy/tls/make-certs.sh"))
        .arg(certs.path())
        .args(["node1", "node2", "node3", "gateway"]));
    let p = Project::over_tls(certs.path());
    p.compose(&["up", "-d"]);
    let client = |ca: bool, identity: bool| {
        let ca = ca.then(|| certs.path().join("ca.pem"));
        let (cert, key) = (
            certs.path().join("cli.pem"),
            certs.path().join("cli-key.pem"),
        );
        let identity = identity.then_some((cert.as_path(), key.as_path()));
        stowage_cli::tls_client_builder(ca.as_deref(), identity)
            .expect("TLS material")
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client")
    };
    let https = client(true, true);
    until_healthy(&p, &https).await;

    // HTTPS both ways through the gateway, and on a node's own port.
    registered_through_the_gateway(&p, &https, "sealed", p.node_ports[2]).await;

    // The containers' own health checks, `stowage health` with the containers' TLS variables,
    // pass against ports that require a client certificate.
    for service in ["node1", "node2", "node3", "gateway"] {
        let c = p.container(service);
        eventually(
            &format!("{service}'s health check passes over HTTPS"),
            Duration::from_secs(60),
            || async {
                let out = Command::new("docker")
                    .args(["inspect", "-f", "{{.State.Health.Status}}", &c])
                    .output()
                    .ok()?;
                (String::from_utf8_lossy(&out.stdout).trim() == "healthy").then_some(())
            },
        )
        .await;
    }

    // Nobody without a certificate the CA signed gets an answer, on the gateway or a node:
    // not plain HTTP, not a client without a certificate, not one that trusts no such CA.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for port in [p.gateway, p.node_ports[0]] {
        let path = "/v1/volumes?type=csi";
        let http_url = format!("http://127.0.0.1:{port}{path}");
        assert!(
            status(&plain, &http_url).await.is_none(),
            "plain HTTP on {port}"
        );
        assert!(
            status(&client(true, false), &p.url(port, path))
                .await
                .is_none(),
            "no client certificate on {port}"
        );
        assert!(
            status(&client(false, true), &p.url(port, path))
                .await
                .is_none(),
            "a client that does not trust the cluster's CA on {port}"
        );
    }

    // Raft runs over mutual TLS: with the leader killed, the other two elect one and commit.
    let service = survives_the_leader(&p, &https, "sealed", "after").await;
    p.compose(&["up", "-d", &service]);
    let mut ids = volume_ids(&p, &https, p.gateway).await;
    ids.sort();
    assert_eq!(ids, ["after", "sealed"]);
}
