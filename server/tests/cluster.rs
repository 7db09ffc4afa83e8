//! Cluster behaviour through real RocksDB, real gRPC on loopback and three nodes in one process.

use std::time::Duration;
use stowage_proto::acl::Token;
use stowage_proto::api::{CsiApi, CsiError, VolumeQuery};
use stowage_proto::{ClusterError, Command};
use stowage_testkit::{TestCluster, eventually, fast_timing};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn write_through_a_follower_is_readable_on_every_node() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let follower = cluster.followers(leader)[0];
    let resp = cluster.register(follower, "via-follower").await;
    assert!(resp.index > 0);

    for id in cluster.running() {
        // A default read on any node sees an acknowledged write at once.
        let read = cluster
            .agent(id)
            .node
            .csi
            .volume(
                &Token::anonymous(),
                VolumeQuery {
                    namespace: "default".into(),
                    id: "via-follower".into(),
                    options: Default::default(),
                },
            )
            .await
            .expect("linearizable read");
        let index = read.index;
        match read.value {
            Some(v) => assert_eq!((v.create_index, v.modify_index), (resp.index, resp.index)),
            None => panic!("node {id} did not see the write"),
        }
        assert!(
            index >= resp.index,
            "node {id} table index {index} < write index {}",
            resp.index
        );
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_elects_a_new_one_that_accepts_writes() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let old = cluster.leader().await;
    cluster.register(old, "before").await;
    cluster.stop(old).await;

    let new = cluster.leader().await;
    assert_ne!(new, old);
    let survivor = cluster.followers(new)[0];
    cluster.register(survivor, "after").await;

    cluster.restart(old).await;
    eventually(
        "the old leader catches up",
        Duration::from_secs(20),
        || async {
            let ids = cluster.local_volume_ids(old);
            (ids == ["after", "before"]).then_some(())
        },
    )
    .await;
    cluster.shutdown().await;
}

/// A leader that is stopped (not killed) hands leadership over before it goes: when its stop
/// returns, a successor already leads, instead of everyone following the stopped leader until an
/// election timeout passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_leader_hands_leadership_over_before_it_goes() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let old = cluster.leader().await;
    cluster.register(old, "before").await;
    let term = cluster.agent(old).node.status.metrics().current_term;
    cluster.stop(old).await;

    // Without a handover both would still name the stopped leader here, until an election
    // timeout passed; with one, the successor already leads, a term later.
    let leading: Vec<u64> = cluster
        .running()
        .into_iter()
        .filter(|id| {
            let m = cluster.agent(*id).node.status.metrics();
            m.current_leader == Some(*id) && m.current_term == term + 1
        })
        .collect();
    assert_eq!(
        leading.len(),
        1,
        "one successor leads the moment the old leader has stopped"
    );
    let new = leading[0];
    cluster.register(new, "after").await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_node_restarts_from_disk_with_its_data() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    for i in 0..5 {
        cluster.register(leader, &format!("v{i}")).await;
    }
    let node = cluster.followers(leader)[0];
    eventually(
        "the follower applied the writes",
        Duration::from_secs(10),
        || async { (cluster.local_volume_ids(node).len() == 5).then_some(()) },
    )
    .await;
    let applied_before = cluster.applied(node);
    cluster.stop(node).await;
    cluster.register(leader, "while-down").await;

    cluster.restart(node).await;
    // Straight from its own disk, before hearing from anyone: what it had applied is there.
    assert!(cluster.applied(node) >= applied_before);
    assert!(cluster.local_volume_ids(node).len() >= 5);
    eventually(
        "the restarted node catches up",
        Duration::from_secs(20),
        || async { (cluster.local_volume_ids(node).len() == 6).then_some(()) },
    )
    .await;

    // The whole cluster stops and starts again with everything it acknowledged.
    for id in cluster.running() {
        cluster.stop(id).await;
    }
    for id in 1..=3 {
        cluster.restart(id).await;
    }
    let leader = cluster.leader().await;
    let ids = cluster.read_volume_ids(leader, false).await.expect("read");
    assert_eq!(ids.len(), 6);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_follower_catches_up_by_snapshot_after_the_log_was_purged() {
    let mut cluster = TestCluster::start(fast_timing(20)).await;
    let leader = cluster.leader().await;
    for i in 0..60 {
        cluster.register(leader, &format!("v{i:02}")).await;
    }
    // openraft purges only what no replication stream still needs, so with everyone up the
    // leader compacts its log behind each snapshot.
    let purged = eventually(
        "the leader purged its log behind a snapshot",
        Duration::from_secs(20),
        || async {
            cluster
                .agent(leader)
                .node
                .status
                .metrics()
                .purged
                .as_ref()
                .map(|p| p.index())
                .filter(|i| *i > 10)
        },
    )
    .await;

    // A follower loses its disk. The entries it would need are gone from the leader's log.
    let node = cluster.followers(leader)[0];
    cluster.stop(node).await;
    cluster.wipe(node);
    cluster.restart(node).await;
    eventually(
        "the wiped follower holds every volume",
        Duration::from_secs(30),
        || async { (cluster.local_volume_ids(node).len() == 60).then_some(()) },
    )
    .await;
    let snapshot = cluster.agent(node).node.status.metrics().snapshot;
    assert!(
        snapshot.is_some_and(|s| s.index() >= purged),
        "the follower must have installed a snapshot past {purged}"
    );

    // And it keeps up with ordinary replication afterwards.
    cluster.register(leader, "after-wipe").await;
    eventually(
        "the follower applies new writes",
        Duration::from_secs(10),
        || async { (cluster.local_volume_ids(node).len() == 61).then_some(()) },
    )
    .await;
    let state = |id: u64| {
        cluster
            .agent(id)
            .node
            .forwarder
            .reader()
            .read(|s| s.clone())
    };
    let leader_state = state(leader);
    eventually(
        "the follower's state equals the leader's",
        Duration::from_secs(10),
        || async { (state(node) == leader_state).then_some(()) },
    )
    .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_quorum_writes_and_reads_answer_no_leader_within_a_bound() {
    let mut cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let kept = cluster.register(leader, "kept").await;
    // A leader stopping with both followers up hands leadership to one of them. The other is
    // left alone when that one stops too: with no quorum to hand over to, it just stops.
    cluster.stop(leader).await;
    let next = cluster.leader().await;
    let lonely = cluster.followers(next)[0];
    // An acknowledged write may have reached only the other follower; wait until this one has it.
    eventually(
        "the follower applied the write",
        Duration::from_secs(10),
        || async { (cluster.applied(lonely) >= kept.index).then_some(()) },
    )
    .await;
    cluster.stop(next).await;

    let write = cluster.write(
        lonely,
        Command::RegisterVolumes {
            volumes: vec![stowage_testkit::volume("lost")],
            cas: None,
        },
    );
    let outcome = tokio::time::timeout(Duration::from_secs(30), write)
        .await
        .expect("answered, not hung");
    assert_eq!(outcome, Err(CsiError::Cluster(ClusterError::NoLeader)));
    let read = cluster.read_volume_ids(lonely, false);
    let outcome = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("answered, not hung");
    assert_eq!(outcome, Err(CsiError::Cluster(ClusterError::NoLeader)));
    // A stale read still answers from local state.
    let ids = cluster
        .read_volume_ids(lonely, true)
        .await
        .expect("stale read");
    assert_eq!(ids, ["kept"]);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_commands_change_nothing_and_say_why() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let follower = cluster.followers(leader)[0];
    let mut v = stowage_testkit::volume("elsewhere");
    v.namespace = "prod".into();
    let resp = cluster
        .write(
            follower,
            Command::RegisterVolumes {
                volumes: vec![v],
                cas: None,
            },
        )
        .await
        .expect("answered");
    assert_eq!(
        resp.result.map(|_| ()).map_err(|e| e.to_string()),
        Err("volume elsewhere is in nonexistent namespace prod".to_string())
    );
    let resp = cluster
        .write(
            follower,
            Command::DeregisterVolume {
                namespace: "default".into(),
                id: "ghost".into(),
                force: false,
                cas: None,
            },
        )
        .await
        .expect("answered");
    assert_eq!(
        resp.result.map(|_| ()).map_err(|e| e.to_string()),
        Err("volume not found: ghost".to_string())
    );
    assert!(cluster.local_volume_ids(leader).is_empty());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocking_waits_wake_on_the_change_they_wait_for() {
    let cluster = TestCluster::start(fast_timing(5000)).await;
    let leader = cluster.leader().await;
    let reader = cluster
        .agent(cluster.followers(leader)[0])
        .node
        .forwarder
        .reader()
        .clone();
    let before = reader.read(|s| s.indexes.volumes);
    let a = stowage_proto::VolumeKey::new("default", "a");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let wait_table = tokio::spawn({
        let reader = reader.clone();
        async move { reader.wait_tables(|t| t.volumes, before, deadline).await }
    });
    let wait_a = tokio::spawn({
        let reader = reader.clone();
        let a = a.clone();
        async move { reader.wait_volume(&a, 0, deadline).await }
    });
    let b = cluster.register(leader, "b").await;
    let table = wait_table.await.expect("join");
    assert!(table.volumes >= b.index, "the table wait woke on b");
    assert!(
        !wait_a.is_finished(),
        "a write to b must not wake a waiter on a"
    );
    let a_write = cluster.register(leader, "a").await;
    assert!(wait_a.await.expect("join") >= a_write.index);
    cluster.shutdown().await;
}
