//! Change notification for blocking queries: a reader waits for "table index above N" or "this
//! volume changed after N" and is woken by apply, never by polling.

use crate::state::TableIndexes;
use std::collections::HashMap;
use std::sync::Mutex;
use stowage_proto::VolumeKey;
use tokio::sync::watch;

#[derive(Debug)]
pub struct Notifier {
    tables: watch::Sender<TableIndexes>,
    /// One channel per volume somebody is waiting on, carrying that volume's last change index.
    volumes: Mutex<HashMap<VolumeKey, watch::Sender<u64>>>,
    /// Turns true when the node stops: every waiter returns at once with what it has.
    released: watch::Sender<bool>,
}

impl Notifier {
    pub fn new(initial: TableIndexes) -> Self {
        Self {
            tables: watch::Sender::new(initial),
            volumes: Mutex::new(HashMap::new()),
            released: watch::Sender::new(false),
        }
    }

    /// Ends every wait, now and from now on.
    pub fn release(&self) {
        self.released.send_replace(true);
    }

    /// Resolves once `release` has been called.
    pub fn released(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.released.subscribe();
        async move {
            let _ = rx.wait_for(|released| *released).await;
        }
    }

    pub fn subscribe_tables(&self) -> watch::Receiver<TableIndexes> {
        self.tables.subscribe()
    }

    /// Subscribes to one volume. `current` gives the volume's present change index; it is read
    /// under the registry lock so that no change between reading and subscribing is missed.
    pub fn subscribe_volume(
        &self,
        key: &VolumeKey,
        current: impl FnOnce() -> u64,
    ) -> watch::Receiver<u64> {
        let mut map = self.volumes.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(tx) => tx.subscribe(),
            None => {
                let tx = watch::Sender::new(current());
                let rx = tx.subscribe();
                map.insert(key.clone(), tx);
                rx
            }
        }
    }

    /// How many blocking queries are waiting right now.
    pub fn watchers(&self) -> usize {
        let volumes: usize = self
            .volumes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|tx| tx.receiver_count())
            .sum();
        // The sender's own initial receiver is not kept, so every receiver is a waiter.
        self.tables.receiver_count() + volumes
    }

    /// Called after an apply batch is durable.
    pub fn publish<'a>(
        &self,
        indexes: TableIndexes,
        changed: impl IntoIterator<Item = (&'a VolumeKey, u64)>,
    ) {
        {
            let mut map = self.volumes.lock().unwrap_or_else(|p| p.into_inner());
            for (key, index) in changed {
                if let Some(tx) = map.get(key) {
                    tx.send_replace(index);
                }
            }
            map.retain(|_, tx| tx.receiver_count() > 0);
        }
        self.tables.send_replace(indexes);
    }

    /// Called after a snapshot replaced the whole state: every watcher may have changed.
    pub fn publish_everything(&self, indexes: TableIndexes, index: u64) {
        {
            let map = self.volumes.lock().unwrap_or_else(|p| p.into_inner());
            for tx in map.values() {
                tx.send_replace(index);
            }
        }
        self.tables.send_replace(indexes);
    }
}
