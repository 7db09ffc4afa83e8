//! The log's recent tail, decoded, in memory. openraft reads every entry back soon after it is
//! appended (the leader to replicate it, every node to apply it); decoding it again from
//! RocksDB's JSON was the largest single cost on the leader's write path. This keeps the last
//! appended entries, up to `MAX_ENTRIES` of them and `MAX_BYTES` of their encoded size, so those
//! reads never touch the disk or the decoder.

use crate::types::Entry;
use openraft::entry::RaftEntry;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Enough for every entry in flight to two followers and the state machine at a few thousand
/// writes per second; a reader further behind reads RocksDB as before. The byte bound keeps
/// large entries (a register of 100 volumes is ~50 KB) from holding much memory.
const MAX_ENTRIES: usize = 4096;
const MAX_BYTES: usize = 8 << 20;

/// A contiguous run of the log's last entries. Empty until the first append after start-up:
/// only then is its last entry known to be the log's last.
#[derive(Clone, Debug, Default)]
pub(super) struct LogCache {
    run: Arc<Mutex<Run>>,
}

/// The cached entries, each with its encoded size, and the sum of those sizes.
#[derive(Debug, Default)]
struct Run {
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

impl Run {
    fn front(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.index())
    }

    fn back(&self) -> Option<u64> {
        self.entries.back().map(|(e, _)| e.index())
    }

    fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        self.entries.retain(|(e, _)| keep(e.index()));
        self.bytes = self.entries.iter().map(|(_, n)| n).sum();
    }
}

impl LogCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records entries that are now in the log (after their write), each with its encoded size.
    /// Entries that do not follow on from the cached run replace it.
    pub(super) fn appended(&self, new: Vec<(Entry, usize)>) {
        let Some(first) = new.first().map(|(e, _)| e.index()) else {
            return;
        };
        let mut run = self.lock();
        let front = run.front();
        match run.back() {
            Some(last) if first == last + 1 => {}
            // Overwrites part of the run: keep what comes before.
            Some(last) if first <= last && front.is_some_and(|f| f < first) => {
                run.retain(|i| i < first);
            }
            _ => run.retain(|_| false),
        }
        for (entry, size) in new {
            run.bytes += size;
            run.entries.push_back((entry, size));
        }
        while run.entries.len() > MAX_ENTRIES || run.bytes > MAX_BYTES {
            match run.entries.pop_front() {
                Some((_, size)) => run.bytes -= size,
                None => break,
            }
        }
    }

    /// Forgets entries after `last` (the log was truncated there).
    pub(super) fn truncated_after(&self, last: u64) {
        self.lock().retain(|i| i <= last);
    }

    /// Forgets entries up to `upto` (the log was purged there).
    pub(super) fn purged(&self, upto: u64) {
        self.lock().retain(|i| i > upto);
    }

    /// The entries `start..=end` (`end` None: to the log's end), if the cache holds them all.
    pub(super) fn get(&self, start: u64, end: Option<u64>) -> Option<Vec<Entry>> {
        let run = self.lock();
        let first = run.front()?;
        let last = run.back()?;
        if start < first {
            return None;
        }
        let end = end.map_or(last, |e| e.min(last));
        if start > end {
            return Some(Vec::new());
        }
        let from = usize::try_from(start - first).ok()?;
        let to = usize::try_from(end - first).ok()?;
        Some(
            run.entries
                .range(from..=to)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TypeConfig;

    fn entry(index: u64) -> (Entry, usize) {
        (
            Entry::new_blank(openraft::testing::log_id::<TypeConfig>(1, 1, index)),
            100,
        )
    }

    fn indexes(v: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        v.map(|es| es.iter().map(|e| e.index()).collect())
    }

    #[test]
    fn serves_only_what_it_holds_and_follows_truncation_and_purge() {
        let cache = LogCache::default();
        assert_eq!(indexes(cache.get(1, None)), None, "empty until an append");
        cache.appended((1..=5).map(entry).collect());
        assert_eq!(indexes(cache.get(2, Some(4))), Some(vec![2, 3, 4]));
        assert_eq!(indexes(cache.get(4, None)), Some(vec![4, 5]));
        assert_eq!(
            indexes(cache.get(6, None)),
            Some(vec![]),
            "nothing past the log's end"
        );
        assert_eq!(
            indexes(cache.get(0, Some(2))),
            None,
            "before the run: read the disk"
        );

        cache.truncated_after(3);
        cache.appended(vec![entry(4)]);
        assert_eq!(indexes(cache.get(1, None)), Some(vec![1, 2, 3, 4]));
        // A conflicting append (as after truncation by a new leader) replaces the overlap.
        cache.appended(vec![entry(3)]);
        assert_eq!(indexes(cache.get(1, None)), Some(vec![1, 2, 3]));
        cache.purged(2);
        assert_eq!(indexes(cache.get(1, None)), None);
        assert_eq!(indexes(cache.get(3, None)), Some(vec![3]));
        // A gap (as after a snapshot install) starts the run afresh.
        cache.appended(vec![entry(10)]);
        assert_eq!(indexes(cache.get(3, None)), None);
        assert_eq!(indexes(cache.get(10, None)), Some(vec![10]));
    }

    #[test]
    fn holds_at_most_its_byte_bound() {
        let cache = LogCache::default();
        let big = |i| (entry(i).0, MAX_BYTES / 2);
        cache.appended(vec![big(1), big(2)]);
        cache.appended(vec![big(3)]);
        assert_eq!(indexes(cache.get(1, None)), None);
        assert_eq!(indexes(cache.get(2, None)), Some(vec![2, 3]));
    }
}
