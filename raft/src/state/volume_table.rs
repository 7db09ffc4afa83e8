//! The volume table: volumes by (namespace, ID), and an index of them by plugin ID that is kept
//! in step on every insert and remove, so a list by plugin reads only that plugin's volumes.
//! Reads see the table as an ordered map; writes go through `insert` and `remove` only.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::sync::Arc;
use stowage_proto::{Volume, VolumeKey};

/// Each volume is held behind an `Arc` and never changed in place (a write replaces it whole),
/// so a copy of every volume for a snapshot costs a pointer each and can be taken under the
/// state lock without holding applies up: copying 100,000 volumes field by field held them up
/// for about a second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VolumeTable {
    by_key: BTreeMap<VolumeKey, Arc<Volume>>,
    by_plugin: BTreeMap<String, BTreeSet<VolumeKey>>,
}

impl Deref for VolumeTable {
    type Target = BTreeMap<VolumeKey, Arc<Volume>>;
    fn deref(&self) -> &Self::Target {
        &self.by_key
    }
}

impl VolumeTable {
    pub fn insert(&mut self, volume: Volume) -> Option<Arc<Volume>> {
        let key = volume.key();
        self.by_plugin
            .entry(volume.plugin_id.clone())
            .or_default()
            .insert(key.clone());
        let old = self.by_key.insert(key.clone(), Arc::new(volume));
        // A volume's plugin never changes on update; if it ever did, the old entry must go.
        if let Some(old) = &old
            && self
                .by_key
                .get(&key)
                .is_some_and(|v| v.plugin_id != old.plugin_id)
        {
            self.unindex(&old.plugin_id, &key);
        }
        old
    }

    pub fn remove(&mut self, key: &VolumeKey) -> Option<Arc<Volume>> {
        let old = self.by_key.remove(key)?;
        self.unindex(&old.plugin_id, key);
        Some(old)
    }

    fn unindex(&mut self, plugin: &str, key: &VolumeKey) {
        if let Some(keys) = self.by_plugin.get_mut(plugin) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_plugin.remove(plugin);
            }
        }
    }

    /// Every volume in key order, shared with the table.
    pub fn shared(&self) -> Vec<Arc<Volume>> {
        self.by_key.values().cloned().collect()
    }

    /// The keys of the volumes whose plugin ID starts with `prefix`, from `start` on, in key
    /// order (several plugins' keys merged).
    pub fn keys_by_plugin<'a>(
        &'a self,
        prefix: &'a str,
        start: &'a VolumeKey,
    ) -> impl Iterator<Item = &'a VolumeKey> + 'a {
        let mut lists: Vec<_> = self
            .by_plugin
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(plugin, _)| plugin.starts_with(prefix))
            .map(|(_, keys)| keys.range(start..).peekable())
            .collect();
        std::iter::from_fn(move || {
            let next = lists
                .iter_mut()
                .enumerate()
                .filter_map(|(i, l)| l.peek().map(|k| (i, *k)))
                .min_by_key(|(_, k)| *k)?;
            lists[next.0].next()
        })
    }
}

impl FromIterator<Volume> for VolumeTable {
    fn from_iter<I: IntoIterator<Item = Volume>>(iter: I) -> Self {
        let mut table = VolumeTable::default();
        for v in iter {
            table.insert(v);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(ns: &str, id: &str, plugin: &str) -> Volume {
        Volume {
            id: id.into(),
            namespace: ns.into(),
            plugin_id: plugin.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_plugin_index_follows_every_change_and_merges_in_key_order() {
        let mut t: VolumeTable = [
            vol("a", "3", "ebs"),
            vol("a", "1", "ebs-gp3"),
            vol("b", "2", "ebs"),
            vol("a", "2", "nfs"),
        ]
        .into_iter()
        .collect();
        let ids = |t: &VolumeTable, prefix: &str, start: &VolumeKey| {
            t.keys_by_plugin(prefix, start)
                .map(|k| format!("{}/{}", k.namespace, k.id))
                .collect::<Vec<_>>()
        };
        let all = VolumeKey::new("", "");
        assert_eq!(ids(&t, "ebs", &all), ["a/1", "a/3", "b/2"]);
        assert_eq!(ids(&t, "ebs-", &all), ["a/1"]);
        assert_eq!(ids(&t, "", &all), ["a/1", "a/2", "a/3", "b/2"]);
        assert_eq!(ids(&t, "ebs", &VolumeKey::new("a", "2")), ["a/3", "b/2"]);
        t.remove(&VolumeKey::new("a", "3"));
        t.insert(vol("b", "2", "ebs"));
        assert_eq!(ids(&t, "ebs", &all), ["a/1", "b/2"]);
        t.remove(&VolumeKey::new("a", "1"));
        assert!(!t.by_plugin.contains_key("ebs-gp3"), "empty entries go");
    }
}
