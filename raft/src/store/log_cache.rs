//! The log's recent tail, decoded, in memory. openraft reads every entry back soon after it is
//! appended (the leader to replicate it, every node to apply it); decoding it again from
//! RocksDB's JSON was the largest single cost on the leader's write path. This keeps the last
//! `CAPACITY` appended entries so those reads never touch the disk or the decoder.

use crate::types::Entry;
use openraft::entry::RaftEntry;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Enough for every entry in flight to two followers and the state machine at a few thousand
/// writes per second; a reader further behind reads RocksDB as before.
const CAPACITY: usize = 4096;

/// A contiguous run of the log's last entries. Empty until the first append after start-up:
/// only then is its last entry known to be the log's last.
#[derive(Clone, Debug, Default)]
pub(super) struct LogCache {
    entries: Arc<Mutex<VecDeque<Entry>>>,
}

impl LogCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records entries that are now in the log (after their write). Entries that do not follow
    /// on from the cached run replace it.
    pub(super) fn appended(&self, new: &[Entry]) {
        let Some(first) = new.first().map(|e| e.index()) else {
            return;
        };
        let mut cached = self.lock();
        let front = cached.front().map(|e| e.index());
        match cached.back().map(|e| e.index()) {
            Some(last) if first == last + 1 => {}
            // Overwrites part of the run: keep what comes before.
            Some(last) if first <= last && front.is_some_and(|f| f < first) => {
                cached.retain(|e| e.index() < first);
            }
            _ => cached.clear(),
        }
        cached.extend(new.iter().cloned());
        while cached.len() > CAPACITY {
            cached.pop_front();
        }
    }

    /// Forgets entries after `last` (the log was truncated there).
    pub(super) fn truncated_after(&self, last: u64) {
        self.lock().retain(|e| e.index() <= last);
    }

    /// Forgets entries up to `upto` (the log was purged there).
    pub(super) fn purged(&self, upto: u64) {
        self.lock().retain(|e| e.index() > upto);
    }

    /// The entries `start..=end` (`end` None: to the log's end), if the cache holds them all.
    pub(super) fn get(&self, start: u64, end: Option<u64>) -> Option<Vec<Entry>> {
        let cached = self.lock();
        let first = cached.front()?.index();
        let last = cached.back()?.index();
        if start < first {
            return None;
        }
        let end = end.map_or(last, |e| e.min(last));
        if start > end {
            return Some(Vec::new());
        }
        let from = usize::try_from(start - first).ok()?;
        let to = usize::try_from(end - first).ok()?;
        Some(cached.range(from..=to).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TypeConfig;

    fn entry(index: u64) -> Entry {
        Entry::new_blank(openraft::testing::log_id::<TypeConfig>(1, 1, index))
    }

    fn indexes(v: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        v.map(|es| es.iter().map(|e| e.index()).collect())
    }

    #[test]
    fn serves_only_what_it_holds_and_follows_truncation_and_purge() {
        let cache = LogCache::default();
        assert_eq!(indexes(cache.get(1, None)), None, "empty until an append");
        cache.appended(&(1..=5).map(entry).collect::<Vec<_>>());
        assert_eq!(indexes(cache.get(2, Some(4))), Some(vec![2, 3, 4]));
        assert_eq!(indexes(cache.get(4, None)), Some(vec![4, 5]));
        assert_eq!(indexes(cache.get(6, None)), Some(vec![]), "nothing past the log's end");
        assert_eq!(indexes(cache.get(0, Some(2))), None, "before the run: read the disk");

        cache.truncated_after(3);
        cache.appended(&[entry(4)]);
        assert_eq!(indexes(cache.get(1, None)), Some(vec![1, 2, 3, 4]));
        // A conflicting append (as after truncation by a new leader) replaces the overlap.
        cache.appended(&[entry(3)]);
        assert_eq!(indexes(cache.get(1, None)), Some(vec![1, 2, 3]));
        cache.purged(2);
        assert_eq!(indexes(cache.get(1, None)), None);
        assert_eq!(indexes(cache.get(3, None)), Some(vec![3]));
        // A gap (as after a snapshot install) starts the run afresh.
        cache.appended(&[entry(10)]);
        assert_eq!(indexes(cache.get(3, None)), None);
        assert_eq!(indexes(cache.get(10, None)), Some(vec![10]));
    }
}
