//! The event stream's source: what each applied entry changed, as Nomad's events (`CSIVolume`
//! registered, deregistered or claimed; `CSIPlugin` updated or deleted), kept in a bounded ring
//! that subscribers read at their own pace. Recording an event clones a key, never a volume, so
//! apply pays almost nothing for it; the payload is built when a subscriber reads the event, from
//! the state then (so it may show changes newer than the event's index).
//!
//! A subscriber that falls so far behind that the ring has dropped events it has not read is
//! cut off with an error, rather than buffered without bound.

use crate::state::Touched;
use std::collections::VecDeque;
use std::sync::Mutex;
use stowage_proto::{Command, VolumeKey};
use tokio::sync::watch;

/// How many events a node keeps for subscribers that are behind, or resume from an index.
pub const KEEP: usize = 16_384;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    CsiVolume,
    CsiPlugin,
}

impl Topic {
    pub fn name(self) -> &'static str {
        match self {
            Topic::CsiVolume => "CSIVolume",
            Topic::CsiPlugin => "CSIPlugin",
        }
    }

    pub fn parse(name: &str) -> Option<Topic> {
        match name {
            "CSIVolume" => Some(Topic::CsiVolume),
            "CSIPlugin" => Some(Topic::CsiPlugin),
            _ => None,
        }
    }
}

/// What changed, at which index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub index: u64,
    pub topic: Topic,
    /// Nomad's event type, such as `CSIVolumeRegistered`.
    pub kind: &'static str,
    pub key: String,
    /// Empty for plugins, which have no namespace.
    pub namespace: String,
}

/// The events of one applied command that succeeded.
pub(crate) fn events_of(command: &Command, index: u64, touched: &[Touched]) -> Vec<Event> {
    let volume_kind = match command {
        Command::RegisterVolumes { .. } => Some("CSIVolumeRegistered"),
        Command::DeregisterVolume { .. } => Some("CSIVolumeDeregistered"),
        Command::Claim { .. } | Command::DetachNode { .. } => Some("CSIVolumeClaim"),
        _ => None,
    };
    let plugin_kind = match command {
        Command::UpsertPlugin { .. } => Some("CSIPluginUpdated"),
        Command::DeletePlugin { .. } => Some("CSIPluginDeleted"),
        _ => None,
    };
    let mut volumes: Vec<&VolumeKey> = touched
        .iter()
        .filter_map(|t| match t {
            Touched::Volume(k) | Touched::Claim(k, _) => Some(k),
            _ => None,
        })
        .collect();
    volumes.sort();
    volumes.dedup();
    let mut out: Vec<Event> = volume_kind
        .into_iter()
        .flat_map(|kind| {
            volumes.iter().map(move |k| Event {
                index,
                topic: Topic::CsiVolume,
                kind,
                key: k.id.clone(),
                namespace: k.namespace.clone(),
            })
        })
        .collect();
    if let Some(kind) = plugin_kind {
        out.extend(touched.iter().filter_map(|t| match t {
            Touched::Plugin(id) => Some(Event {
                index,
                topic: Topic::CsiPlugin,
                kind,
                key: id.clone(),
                namespace: String::new(),
            }),
            _ => None,
        }));
    }
    out
}

/// What a subscriber gets from one read.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Events after the cursor, oldest first (possibly none yet).
    Events(Vec<Event>),
    /// The ring no longer holds every event after the cursor.
    Behind { oldest: u64 },
}

/// The ring of recent events, and the index of the newest, which subscribers wait on.
#[derive(Debug)]
pub struct EventLog {
    ring: Mutex<VecDeque<Event>>,
    /// The highest index recorded, ever: also what a subscriber that waits is woken by.
    newest: watch::Sender<u64>,
    /// The highest index the ring has dropped events of; 0 while it has dropped none.
    dropped_through: Mutex<u64>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            ring: Mutex::new(VecDeque::new()),
            newest: watch::Sender::new(0),
            dropped_through: Mutex::new(0),
        }
    }
}

impl EventLog {
    /// Adds the events of an apply batch (in index order) and wakes subscribers.
    pub(crate) fn record(&self, events: Vec<Event>) {
        let Some(last) = events.last().map(|e| e.index) else {
            return;
        };
        {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            ring.extend(events);
            let excess = ring.len().saturating_sub(KEEP);
            if excess > 0 {
                let dropped = ring.drain(..excess).next_back().map_or(0, |e| e.index);
                let mut through = self
                    .dropped_through
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                *through = (*through).max(dropped);
            }
        }
        self.newest.send_replace(last);
    }

    /// The events after index `after`, at most `max` of them. A subscriber that resumes from
    /// an index the ring no longer covers (`resume`) starts at the oldest it holds, as Nomad's
    /// does; one that was reading along and fell behind is told so.
    pub fn after(&self, after: u64, max: usize, resume: bool) -> Next {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let dropped = *self
            .dropped_through
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !resume && after < dropped {
            return Next::Behind {
                oldest: ring.front().map_or(dropped + 1, |e| e.index),
            };
        }
        let start = ring.partition_point(|e| e.index <= after);
        let mut page: Vec<Event> = ring.iter().skip(start).take(max).cloned().collect();
        // A page ends at an index boundary: the reader's cursor is an index, so the rest of a
        // split index would never be read.
        if let Some(last) = page.last().map(|e| e.index) {
            page.extend(
                ring.iter()
                    .skip(start + page.len())
                    .take_while(|e| e.index == last)
                    .cloned(),
            );
        }
        Next::Events(page)
    }

    /// Records that this node's state jumped to `index` without its events (a snapshot was
    /// installed, or a restore replaced every table): every reader is told it fell behind and
    /// must start again, rather than miss what changed without knowing.
    pub(crate) fn gap(&self, index: u64) {
        {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            ring.clear();
            let mut through = self
                .dropped_through
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *through = (*through).max(index);
        }
        self.newest.send_replace(index);
    }

    /// How many streams are subscribed now.
    pub fn subscribers(&self) -> usize {
        self.newest.receiver_count()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(index: u64) -> Event {
        Event {
            index,
            topic: Topic::CsiVolume,
            kind: "CSIVolumeRegistered",
            key: format!("v{index}"),
            namespace: "default".into(),
        }
    }

    #[test]
    fn readers_page_through_and_are_told_when_they_fell_behind() {
        let log = EventLog::default();
        log.record((1..=10).map(event).collect());
        let Next::Events(page) = log.after(3, 4, false) else {
            panic!("expected events");
        };
        assert_eq!(
            page.iter().map(|e| e.index).collect::<Vec<_>>(),
            [4, 5, 6, 7]
        );
        assert_eq!(log.after(10, 100, false), Next::Events(vec![]));

        log.record((11..=(10 + KEEP as u64)).map(event).collect());
        assert_eq!(log.after(3, 1, false), Next::Behind { oldest: 11 });
        let Next::Events(resumed) = log.after(3, 1, true) else {
            panic!("a resume starts at the oldest held");
        };
        assert_eq!(resumed[0].index, 11);
        assert_eq!(*log.subscribe().borrow(), 10 + KEEP as u64);
    }

    #[test]
    fn a_page_never_splits_an_index_and_a_gap_cuts_readers_off() {
        let log = EventLog::default();
        let mut many: Vec<Event> = (0..5).map(|_| event(7)).collect();
        many.push(event(8));
        log.record(many);
        let Next::Events(page) = log.after(0, 2, true) else {
            panic!("expected events");
        };
        assert_eq!(page.len(), 5, "all of index 7, though the page asked for 2");
        log.gap(20);
        assert_eq!(log.after(8, 10, false), Next::Behind { oldest: 21 });
        assert_eq!(log.after(20, 10, false), Next::Events(vec![]));
    }
}
