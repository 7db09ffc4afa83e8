//! Volume list pages answered from the ordered table: a range that starts at the page token (or
//! the ID prefix), over the plugin index when a plugin prefix is given, with the node filter and
//! the filter expression applied to borrowed records, and only the items of the page copied out.

use super::tables::State;
use std::ops::Bound;
use stowage_proto::api::{ListQuery, Namespaces, Page, VolumeRef, VolumeStub, parse_next_token};
use stowage_proto::filter::Filter;
use stowage_proto::{Volume, VolumeKey};

/// Whether a claim's node ID starts with `prefix`, ignoring case (`prefix` is lowercase).
fn node_matches(node_id: &str, prefix: &str) -> bool {
    node_id.to_lowercase().starts_with(prefix)
}

impl State {
    /// One page of volumes in (namespace, ID) order, of the namespaces `visible` lets through.
    /// `filter` is the parsed `q.filter`; an error is a selector the filter could not evaluate
    /// on some candidate.
    pub fn list_volumes(
        &self,
        q: &ListQuery,
        filter: Option<&Filter>,
        visible: &dyn Fn(&str) -> bool,
    ) -> Result<Page<VolumeStub>, String> {
        let prefix = q.prefix.as_deref().unwrap_or("");
        let node_prefix = q.node_id.as_deref().map(str::to_lowercase);
        // The first key the page may hold: the token, or (in one namespace) the ID prefix.
        let mut start = match &q.namespaces {
            Namespaces::One(ns) => VolumeKey::new(ns.clone(), prefix),
            Namespaces::All => VolumeKey::new("", ""),
        };
        if let Some((ns, id)) = q.next_token.as_deref().map(parse_next_token) {
            start = start.max(VolumeKey::new(ns, id));
        }
        let mut items = Vec::new();
        let mut next_token = None;
        // With a plugin prefix, only that plugin's volumes are candidates.
        let candidates: Box<dyn Iterator<Item = (&VolumeKey, &Volume)>> = match &q.plugin_id {
            Some(plugin) => Box::new(
                self.volumes
                    .keys_by_plugin(plugin, &start)
                    .filter_map(|k| self.volumes.get_key_value(k))
                    .map(|(k, v)| (k, &**v)),
            ),
            None => Box::new(
                self.volumes
                    .range((Bound::Included(&start), Bound::Unbounded))
                    .map(|(k, v)| (k, &**v)),
            ),
        };
        for (key, volume) in candidates {
            if let Namespaces::One(ns) = &q.namespaces {
                // Keys are ordered by namespace, then ID: past the namespace, or past the IDs
                // with the prefix, nothing further can match.
                if &key.namespace != ns || !key.id.starts_with(prefix) {
                    break;
                }
            } else if !key.id.starts_with(prefix) || !visible(&key.namespace) {
                continue;
            }
            let r: VolumeRef<'_> = self.volume_ref_at(key, volume);
            if let Some(p) = &node_prefix {
                let mut held = r.claims.into_iter().flat_map(|m| m.values());
                if !held.any(|c| node_matches(&c.node_id, p)) {
                    continue;
                }
            }
            if let Some(f) = filter
                && !f.matches(&r)?
            {
                continue;
            }
            if q.per_page > 0 && items.len() == q.per_page as usize {
                next_token = Some(format!("{}.{}", key.namespace, key.id));
                break;
            }
            items.push(r.to_stub());
        }
        Ok(Page {
            items,
            next_token,
            index: self.indexes.volumes,
        })
    }
}
