//! Claims on a real three-node cluster: the claim limit holds under racing claims from every node,
//! and claims and releases survive the loss of the leader.

use stowage_proto::rules::ClaimRequest;
use stowage_proto::{
    AccessMode, AttachmentMode, Capability, ClaimMode, ClaimState, Command, DomainError, Outcome,
    Plugin, VolumeKey,
};
use stowage_testkit::{TestCluster, fast_timing};

fn request(alloc: &str, node: &str, mode: ClaimMode, state: ClaimState) -> ClaimRequest {
    ClaimRequest {
        allocation_id: alloc.into(),
        node_id: node.into(),
        external_node_id: format!("ext-{node}"),
        mode,
        access_mode: AccessMode::MultiNodeSingleWriter,
        attachment_mode: AttachmentMode::FileSystem,
        state,
        job_id: String::new(),
        task_group: String::new(),
        name: String::new(),
    }
}

fn claim(alloc: &str, node: &str, mode: ClaimMode, state: ClaimState) -> Command {
    Command::Claim {
        namespace: "default".into(),
        volume_id: "vol".into(),
        request: request(alloc, node, mode, state),
        cas: None,
    }
}

async fn setup(cluster: &TestCluster, via: u64) {
    let plugin = Plugin {
        id: "plugin".into(),
        nodes_healthy: 3,
        nodes_expected: 3,
        ..Default::default()
    };
    cluster
        .write(via, Command::UpsertPlugin { plugin })
        .await
        .expect("plugin");
    let mut v = stowage_testkit::volume("vol");
    v.requested_capabilities = vec![Capability {
        access_mode: AccessMode::MultiNodeSingleWriter,
        attachment_mode: AttachmentMode::FileSystem,
    }];
    let resp = cluster
        .write(
            via,
            Command::RegisterVolumes {
                volumes: vec![v],
                cas: None,
            },
        )
        .await
        .expect("register");
    assert!(resp.result.is_ok());
}

/// The claims on `vol` as node `node` holds them, once it has applied every acknowledged write.
async fn claims_on(cluster: &TestCluster, node: u64) -> Vec<(String, ClaimMode, ClaimState)> {
    let forwarder = &cluster.agent(node).node.forwarder;
    forwarder.linearize().await.expect("linearizable");
    let key = VolumeKey::new("default", "vol");
    forwarder.reader().read(|s| {
        assert!(s.volumes.contains_key(&key), "volume missing");
        s.claims_of(&key)
            .map(|c| (c.allocation_id.clone(), c.mode, c.state))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_write_claims_through_three_nodes_have_one_winner() {
    let cluster = std::sync::Arc::new(TestCluster::start(fast_timing(5000)).await);
    cluster.leader().await;
    setup(&cluster, 1).await;
    let racers: Vec<_> = (0..50)
        .map(|i| {
            let cluster = cluster.clone();
            tokio::spawn(async move {
                let via = 1 + (i % 3) as u64;
                cluster
                    .write(
                        via,
                        claim(
                            &format!("alloc-{i:02}"),
                            &format!("node-{i}"),
                            ClaimMode::Write,
                            ClaimState::Taken,
                        ),
                    )
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for r in racers {
        match r
            .await
            .expect("join")
            .expect("every claim gets a definite answer")
            .result
        {
            Ok(Outcome::Claimed { changed: true, .. }) => winners += 1,
            Err(DomainError::ClaimRefused { reason, .. }) => {
                assert_eq!(reason, stowage_proto::rules::ClaimRefusal::MaxClaimsReached)
            }
            other => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    for node in 1..=3 {
        let writers = claims_on(&cluster, node)
            .await
            .into_iter()
            .filter(|(_, m, _)| *m == ClaimMode::Write)
            .count();
        assert_eq!(writers, 1, "node {node}");
    }
    match std::sync::Arc::try_unwrap(cluster) {
        Ok(c) => c.shutdown().await,
        Err(_) => panic!("cluster still shared"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_and_releases_survive_the_loss_of_the_leader() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let old = cluster.leader().await;
    setup(&cluster, old).await;
    cluster
        .write(
            old,
            claim("writer", "n1", ClaimMode::Write, ClaimState::Taken),
        )
        .await
        .expect("claim");
    cluster
        .write(
            old,
            claim("reader", "n2", ClaimMode::Read, ClaimState::Taken),
        )
        .await
        .expect("claim");
    cluster
        .write(
            old,
            claim("reader", "n2", ClaimMode::Read, ClaimState::NodeDetached),
        )
        .await
        .expect("release step");
    cluster.stop(old).await;

    let new = cluster.leader().await;
    let claims = claims_on(&cluster, new).await;
    assert!(
        claims.contains(&("writer".into(), ClaimMode::Write, ClaimState::Taken)),
        "{claims:?}"
    );
    assert!(
        claims.contains(&("reader".into(), ClaimMode::Read, ClaimState::NodeDetached)),
        "{claims:?}"
    );
    // The release started before the failover finishes after it.
    let via = cluster.followers(new)[0];
    cluster
        .write(
            via,
            claim("reader", "n2", ClaimMode::Read, ClaimState::ReadyToFree),
        )
        .await
        .expect("free");
    // The writer's node never comes back: detach frees its claim.
    let detach = Command::DetachNode {
        namespace: "default".into(),
        volume_id: "vol".into(),
        node_id: "n1".into(),
    };
    assert_eq!(
        cluster.write(via, detach).await.expect("detach").result,
        Ok(Outcome::Done)
    );
    assert!(claims_on(&cluster, new).await.is_empty());
    let key = VolumeKey::new("default", "vol");
    let volume = cluster
        .agent(new)
        .node
        .forwarder
        .reader()
        .read(|s| s.volumes[&key].clone());
    assert_eq!(
        volume.access_mode,
        AccessMode::Unset,
        "modes reset after the last claim"
    );
    cluster.restart(old).await;
    cluster.shutdown().await;
}
