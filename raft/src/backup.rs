//! Saving an operator's snapshot archive from any node: after a linearizable read, every table
//! is copied under one lock with the index it is as of, then encoded off the async workers.

use crate::csi::now_ns;
use crate::forward::Forwarder;
use openraft::async_runtime::watch::WatchReceiver;
use stowage_proto::ClusterError;
use stowage_proto::api::{CsiError, rfc3339};
use stowage_proto::archive::{self, ArchiveHeader};

impl Forwarder {
    /// An archive holding every write acknowledged before the call, and the index it is as of.
    pub async fn save_archive(&self) -> Result<(u64, Vec<u8>), CsiError> {
        self.linearize().await?;
        let reader = self.reader().clone();
        let term = self.raft.metrics().borrow_watched().current_term;
        let node_id = self.id;
        let internal = |e: String| CsiError::Cluster(ClusterError::Internal(e));
        tokio::task::spawn_blocking(move || {
            let (index, tables) = reader.tables();
            let header = ArchiveHeader::describe(index, term, node_id, rfc3339(now_ns()), &tables);
            archive::encode(&header, &tables)
                .map(|bytes| (index, bytes))
                .map_err(|e| internal(format!("encoding the snapshot: {e}")))
        })
        .await
        .map_err(|e| internal(format!("encoding the snapshot: {e}")))?
    }
}
