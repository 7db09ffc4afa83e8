//! Read access to the applied state for queries and blocking queries: short read locks, the
//! state digest, and waits on table and volume indexes.

use super::state_machine::Shared;
use crate::state::{State, TableIndexes};
use crate::types::StoredMembership;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use stowage_proto::{VolumeKey, codec};

/// A read-only handle on the state machine for readers and blocking queries.
#[derive(Clone, Debug)]
pub struct StateReader {
    shared: Arc<Shared>,
}

impl StateReader {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        StateReader { shared }
    }

    /// How many applied entries on this node left a volume over its claim limit; always 0
    /// unless the claim rules are broken.
    pub fn claim_limit_breaches(&self) -> u64 {
        self.shared.claim_limit_breaches.load(Ordering::SeqCst)
    }

    /// Runs `f` over the state under a short read lock.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.shared.read().state)
    }

    /// A hash of every table and the applied index it describes, taken at one moment. Copies
    /// the whole state: call it off the async workers (`digest_off_runtime`).
    pub fn digest(&self) -> (u64, u64) {
        use std::hash::{Hash, Hasher};
        let (index, frozen) = self.frozen();
        let image = frozen.image();
        let mut h = std::hash::DefaultHasher::new();
        codec::encode(&image).unwrap_or_default().hash(&mut h);
        (index, h.finish())
    }

    /// `digest` on a blocking thread.
    pub async fn digest_off_runtime(&self) -> (u64, u64) {
        let reader = self.clone();
        tokio::task::spawn_blocking(move || reader.digest())
            .await
            .unwrap_or_default()
    }

    /// Returns once everything this node has applied so far is on disk, so that state a reader
    /// saw cannot be undone by a crash of the machine before the answer is sent.
    pub async fn make_durable(&self) -> std::io::Result<()> {
        self.shared.dir().make_durable().await
    }

    /// Every table and the applied index they are as of, taken under one lock and copied after.
    pub fn tables(&self) -> (u64, stowage_proto::Tables) {
        let (index, frozen) = self.frozen();
        (index, frozen.image().into_tables())
    }

    /// The tables and the applied index, taken under one lock; copying them is left to the
    /// caller, after the lock is released, so applies are not held up meanwhile.
    fn frozen(&self) -> (u64, crate::state::Frozen) {
        let m = self.shared.read();
        (
            m.applied_index(),
            m.state.freeze(None, StoredMembership::default()),
        )
    }

    /// What recent entries changed, for the event stream.
    pub fn events(&self) -> &crate::events::EventLog {
        &self.shared.events
    }

    /// Resolves once this node has begun to stop.
    pub fn released(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.shared.notifier.released()
    }

    pub fn last_applied_index(&self) -> u64 {
        self.shared.read().applied_index()
    }

    /// Ends every blocking query on this node now, and every one that starts later, with what it
    /// has: a stopping node answers its waiters instead of keeping them.
    pub fn release_waiters(&self) {
        self.shared.notifier.release();
    }

    /// How many blocking queries and event streams wait on this node right now.
    pub fn blocked_watchers(&self) -> usize {
        self.shared.notifier.watchers() + self.shared.events.subscribers()
    }

    pub fn subscribe_tables(&self) -> tokio::sync::watch::Receiver<TableIndexes> {
        self.shared.notifier.subscribe_tables()
    }

    /// Subscribes to changes of one volume; the value is the index of its last change.
    pub fn subscribe_volume(&self, key: &VolumeKey) -> tokio::sync::watch::Receiver<u64> {
        self.shared.notifier.subscribe_volume(key, || {
            self.read(|s| s.volumes.get(key).map_or(0, |v| v.modify_index))
        })
    }

    /// Waits until `pick(table indexes)` exceeds `above` or the deadline passes; returns the
    /// indexes seen last.
    pub async fn wait_tables(
        &self,
        pick: impl Fn(&TableIndexes) -> u64,
        above: u64,
        deadline: tokio::time::Instant,
    ) -> TableIndexes {
        let mut rx = self.subscribe_tables();
        let released = self.shared.notifier.released();
        tokio::pin!(released);
        loop {
            let now = *rx.borrow_and_update();
            if pick(&now) > above {
                return now;
            }
            tokio::select! {
                changed = tokio::time::timeout_at(deadline, rx.changed()) => match changed {
                    Ok(Ok(())) => continue,
                    _ => return now,
                },
                () = &mut released => return now,
            }
        }
    }

    /// Waits until what `watch` names changed after `after`, or the deadline; returns the change
    /// index seen last.
    pub async fn wait(
        &self,
        watch: &stowage_proto::Watch,
        after: u64,
        deadline: tokio::time::Instant,
    ) -> u64 {
        use stowage_proto::Watch;
        match watch {
            Watch::Volumes => {
                self.wait_tables(|t| t.volumes, after, deadline)
                    .await
                    .volumes
            }
            Watch::Plugins => {
                self.wait_tables(|t| t.plugins, after, deadline)
                    .await
                    .plugins
            }
            Watch::Namespaces => {
                self.wait_tables(|t| t.namespaces, after, deadline)
                    .await
                    .namespaces
            }
            Watch::AclPolicies => {
                self.wait_tables(|t| t.acl_policies, after, deadline)
                    .await
                    .acl_policies
            }
            Watch::AclTokens => {
                self.wait_tables(|t| t.acl_tokens, after, deadline)
                    .await
                    .acl_tokens
            }
            Watch::Volume(key) => self.wait_volume(key, after, deadline).await,
        }
    }

    /// Waits until the volume changed after `after`, or the deadline; returns its change index.
    pub async fn wait_volume(
        &self,
        key: &VolumeKey,
        after: u64,
        deadline: tokio::time::Instant,
    ) -> u64 {
        let mut rx = self.subscribe_volume(key);
        let released = self.shared.notifier.released();
        tokio::pin!(released);
        loop {
            let now = *rx.borrow_and_update();
            if now > after {
                return now;
            }
            tokio::select! {
                changed = tokio::time::timeout_at(deadline, rx.changed()) => match changed {
                    Ok(Ok(())) => continue,
                    _ => return now,
                },
                () = &mut released => return now,
            }
        }
    }
}
