//! Volume list pages answered from the ordered table: a range that starts at the page token (or
//! the ID prefix), the prefix, plugin and node filters and the filter expression applied to
//! borrowed records, and only the items of the page copied out.

use super::tables::State;
use std::ops::Bound;
use stowage_proto::VolumeKey;
use stowage_proto::api::{ListQuery, Namespaces, Page, VolumeRef, VolumeStub, parse_next_token};
use stowage_proto::filter::Filter;

/// Whether a claim's node ID starts with `prefix`, ignoring case (`prefix` is lowercase).
fn node_matches(node_id: &str, prefix: &str) -> bool {
    node_id.to_lowercase().starts_with(prefix)
}

impl State {
    /// One page of volumes in (namespace, ID) order. `filter` is the parsed `q.filter`; an
    /// error is a selector the filter could not evaluate on some candidate.
    pub fn list_volumes(
        &self,
        q: &ListQuery,
        filter: Option<&Filter>,
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
        for (key, volume) in self
            .volumes
            .range((Bound::Included(&start), Bound::Unbounded))
        {
            if let Namespaces::One(ns) = &q.namespaces {
                // Keys are ordered by namespace, then ID: past the namespace, or past the IDs
                // with the prefix, nothing further can match.
                if &key.namespace != ns || !key.id.starts_with(prefix) {
                    break;
                }
            } else if !key.id.starts_with(prefix) {
                continue;
            }
            if q.plugin_id
                .as_deref()
                .is_some_and(|p| !volume.plugin_id.starts_with(p))
            {
                continue;
            }
            let r: VolumeRef<'_> = self.volume_ref_at(key, volume);
            if let Some(p) = &node_prefix {
                let held = r.claims.into_iter().flat_map(|m| m.values());
                if !held.into_iter().any(|c| node_matches(&c.node_id, p)) {
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
