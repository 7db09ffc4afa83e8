//! TLS on both ports, with certificates made here by a CA of the test's own: members talk mutual
//! TLS on the RPC port, so a node or a client holding another CA's certificate can neither join
//! nor send Raft traffic; the API port serves HTTPS, and with `verify_https_client` only clients
//! with a certificate the CA signed get an answer; with TLS on, no cluster secret is needed.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use stowage_proto::pb::NodeInfoRequest;
use stowage_raft::{RpcTls, SERVER_NAME, TlsFiles};
use stowage_server::config::AgentArgs;
use stowage_server::tls::{NodeTls, TlsArgs, TlsFileArgs};
use stowage_testkit::acl_cluster::volume_json;
use stowage_testkit::{Shape, TestCluster, eventually, fast_timing};

/// A certificate authority of the test's own.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params.self_signed(&key).expect("self-signed").pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// Writes this CA's certificate and a new certificate and key for `name` under `dir`, naming
    /// `SERVER_NAME`, good for serving and for calling.
    fn issue(&self, dir: &Path, name: &str) -> TlsFiles {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec![SERVER_NAME.to_string(), "localhost".into()])
            .expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        let files = TlsFiles {
            ca_file: dir.join(format!("{name}-ca.pem")),
            cert_file: dir.join(format!("{name}.pem")),
            key_file: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&files.ca_file, &self.pem).expect("write");
        std::fs::write(&files.cert_file, cert.pem()).expect("write");
        std::fs::write(&files.key_file, key.serialize_pem()).expect("write");
        files
    }
}

/// `path` on the node `https_client` was made for.
fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://{SERVER_NAME}:{}{path}", addr.port())
}

fn node_tls(files: &TlsFiles, verify_https_client: bool) -> NodeTls {
    TlsArgs {
        files: TlsFileArgs {
            tls_ca_file: Some(files.ca_file.clone()),
            tls_cert_file: Some(files.cert_file.clone()),
            tls_key_file: Some(files.key_file.clone()),
        },
        tls_verify_https_client: verify_https_client,
    }
    .resolve(Default::default())
    .expect("TLS settings")
    .expect("TLS on")
}

/// An HTTPS client of the node at `addr`, reached as `SERVER_NAME` (see `url`), that trusts
/// `ca` and presents `identity`'s certificate if given.
fn https_client(addr: SocketAddr, ca: &Ca, identity: Option<&TlsFiles>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .resolve(SERVER_NAME, addr)
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("ca"))
        .timeout(Duration::from_secs(5));
    if let Some(files) = identity {
        let mut pem = std::fs::read(&files.cert_file).expect("cert");
        pem.extend(std::fs::read(&files.key_file).expect("key"));
        b = b.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
    }
    b.build().expect("client")
}

/// Three nodes, each with a certificate `ca` signed, verifying HTTPS clients if `verify`.
async fn three_nodes(ca: &Ca, dir: &Path, verify: bool) -> TestCluster {
    let tls: BTreeMap<u64, NodeTls> = (1..=3)
        .map(|n| (n, node_tls(&ca.issue(dir, &format!("node{n}")), verify)))
        .collect();
    let shape = Shape {
        tls,
        ..Shape::default()
    };
    TestCluster::start_shaped(fast_timing(1000), shape).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_with_another_cas_certificate_cannot_join_or_send_raft_traffic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ours, theirs) = (Ca::new("stowage test CA"), Ca::new("another CA"));
    let mut c = three_nodes(&ours, dir.path(), false).await;
    let http = https_client(c.http_addr(1), &ours, None);
    let node1 = c.http_addr(1);
    let register = |id: String| {
        let (http, url) = (http.clone(), url(node1, &format!("/v1/volume/csi/{id}")));
        async move {
            eventually(
                &format!("{id} is registered"),
                Duration::from_secs(30),
                || {
                    let r = http.put(&url).json(&volume_json(&id)).send();
                    async move { r.await.ok().filter(|r| r.status().is_success()) }
                },
            )
            .await;
        }
    };
    register("before".into()).await;
    eventually(
        "node 3 applies the first write",
        Duration::from_secs(10),
        || async { (c.local_volume_ids(3) == ["before"]).then_some(()) },
    )
    .await;

    // Node 3 comes back holding a certificate another CA signed: it is no longer a member.
    let applied = c.applied(3);
    c.stop(3).await;
    let intruder = theirs.issue(dir.path(), "node3-intruder");
    c.config_mut(3).tls = Some(node_tls(&intruder, false));
    c.restart(3).await;
    let node3 = https_client(c.http_addr(3), &theirs, None);
    let up = node3
        .get(url(c.http_addr(3), "/v1/agent/health"))
        .send()
        .await;
    assert!(up.is_ok(), "node 3 is not serving: {up:?}");
    let ids: Vec<String> = (0..5).map(|n| format!("tls-{n}")).collect();
    for id in &ids {
        register(id.clone()).await;
    }
    eventually(
        "node 2 applies every write",
        Duration::from_secs(10),
        || async { (c.local_volume_ids(2).len() == ids.len() + 1).then_some(()) },
    )
    .await;
    // Nodes 1 and 2 committed between them; not one entry reached node 3.
    assert_eq!(c.local_volume_ids(3), ["before"]);
    assert_eq!(
        c.applied(3),
        applied,
        "node 3 applied entries it must never have received"
    );

    // Raft traffic from outside: only a caller holding a certificate our CA signed gets in,
    // whatever secret it carries.
    let rpc = c.rpc_addr(1);
    let ours_client = RpcTls::load(&ours.issue(dir.path(), "operator")).expect("tls");
    let mut member =
        stowage_raft::cluster_client_tls(&rpc, c.secret(), Some(&ours_client)).expect("client");
    assert!(member.node_info(NodeInfoRequest {}).await.is_ok());
    let intruder_tls = RpcTls::load(&intruder).expect("tls");
    let mut outsider =
        stowage_raft::cluster_client_tls(&rpc, c.secret(), Some(&intruder_tls)).expect("client");
    assert!(outsider.node_info(NodeInfoRequest {}).await.is_err());
    let mut plain = stowage_raft::cluster_client(&rpc, c.secret()).expect("client");
    assert!(plain.node_info(NodeInfoRequest {}).await.is_err());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_with_verify_https_client_answers_only_clients_the_ca_signed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ours, theirs) = (Ca::new("stowage test CA"), Ca::new("another CA"));
    let c = three_nodes(&ours, dir.path(), true).await;
    let addr = c.http_addr(c.leader().await);
    let leader = url(addr, "/v1/status/leader");

    let cli = ours.issue(dir.path(), "cli");
    let r = https_client(addr, &ours, Some(&cli))
        .get(&leader)
        .send()
        .await;
    assert_eq!(r.expect("an answer").status(), reqwest::StatusCode::OK);

    let stranger = theirs.issue(dir.path(), "stranger");
    let r = https_client(addr, &ours, Some(&stranger))
        .get(&leader)
        .send()
        .await;
    assert!(r.is_err(), "another CA's client was answered");
    let r = https_client(addr, &ours, None).get(&leader).send().await;
    assert!(r.is_err(), "a client without a certificate was answered");
    let plain = format!("http://{addr}/v1/status/leader");
    let r = reqwest::Client::new().get(&plain).send().await;
    assert!(r.is_err() || r.is_ok_and(|r| !r.status().is_success()));
    c.shutdown().await;
}

#[test]
fn with_tls_on_the_cluster_secret_is_optional() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("stowage test CA");
    let files = ca.issue(dir.path(), "node1");
    let args = |tls: bool| AgentArgs {
        node_id: Some(1),
        data_dir: Some(dir.path().join("data")),
        peers: vec!["1=127.0.0.1:4647".into()],
        bootstrap_expect: Some(1),
        tls: TlsArgs {
            files: TlsFileArgs {
                tls_ca_file: tls.then(|| files.ca_file.clone()),
                tls_cert_file: tls.then(|| files.cert_file.clone()),
                tls_key_file: tls.then(|| files.key_file.clone()),
            },
            tls_verify_https_client: false,
        },
        ..Default::default()
    };
    let err = args(false).resolve().expect_err("no secret, no TLS");
    assert!(
        err.to_string().contains("a cluster secret is required"),
        "{err}"
    );
    let a = args(true).resolve().expect("TLS stands in for the secret");
    let b = args(true).resolve().expect("again");
    // Every member holding the same CA derives the same value.
    assert_eq!(a.secret.expose(), b.secret.expose());
}
