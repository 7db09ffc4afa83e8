//! How `volume status` shows volumes: Nomad's table of stubs, and one volume's detail with its
//! claims and claim history.

use crate::output::{label, time_text};
use crate::table::{columns, pairs};
use stowage_proto::api::{ApiVolume, VolumeStub};

pub(crate) fn stub_rows(volumes: &[VolumeStub]) -> String {
    let rows: Vec<Vec<String>> = volumes
        .iter()
        .map(|v| {
            vec![
                v.id.clone(),
                v.name.clone(),
                v.namespace.clone(),
                v.plugin_id.clone(),
                v.schedulable.to_string(),
                label(&v.access_mode),
            ]
        })
        .collect();
    columns(
        &[
            "ID",
            "Name",
            "Namespace",
            "Plugin ID",
            "Schedulable",
            "Access Mode",
        ],
        &rows,
    )
}

fn map_text(m: &std::collections::BTreeMap<String, String>) -> String {
    if m.is_empty() {
        return "<none>".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One volume as Nomad's `volume status <id>` shows it, with its claims and claim history.
pub(crate) fn detail(v: &ApiVolume, verbose: bool) -> String {
    let mount = if v.mount_options.fs_type.is_empty() && v.mount_options.mount_flags.is_none() {
        "<none>".to_string()
    } else {
        format!(
            "fs_type: {} flags: {}",
            v.mount_options.fs_type,
            v.mount_options
                .mount_flags
                .clone()
                .unwrap_or_default()
                .join(" ")
        )
    };
    let mut items = vec![
        ("ID", v.id.clone()),
        ("Name", v.name.clone()),
        ("Namespace", v.namespace.clone()),
        ("External ID", v.external_id.clone()),
        ("Plugin ID", v.plugin_id.clone()),
        ("Provider", v.provider.clone()),
        ("Version", v.provider_version.clone()),
        ("Capacity", v.capacity.to_string()),
        ("Schedulable", v.schedulable.to_string()),
        ("Controllers Healthy", v.controllers_healthy.to_string()),
        ("Controllers Expected", v.controllers_expected.to_string()),
        ("Nodes Healthy", v.nodes_healthy.to_string()),
        ("Nodes Expected", v.nodes_expected.to_string()),
        ("Access Mode", label(&v.access_mode)),
        ("Attachment Mode", label(&v.attachment_mode)),
        ("Mount Options", mount),
    ];
    if verbose {
        let caps = v
            .requested_capabilities
            .iter()
            .map(|c| format!("{}/{}", label(&c.access_mode), label(&c.attachment_mode)))
            .collect::<Vec<_>>()
            .join(", ");
        items.extend([
            ("Capabilities", caps),
            ("Capacity Min", v.requested_capacity_min.to_string()),
            ("Capacity Max", v.requested_capacity_max.to_string()),
            ("Parameters", map_text(&v.parameters)),
            ("Context", map_text(&v.context)),
            ("Create Index", v.create_index.to_string()),
            ("Modify Index", v.modify_index.to_string()),
        ]);
    }
    let mut out = pairs(&items);
    let topologies: Vec<Vec<String>> = v
        .topologies
        .iter()
        .enumerate()
        .map(|(i, t)| vec![format!("{i:02}"), map_text(&t.segments)])
        .collect();
    if !topologies.is_empty() {
        out.push_str("\n\nTopologies\n");
        out.push_str(&columns(&["Topology", "Segments"], &topologies));
    }
    let mut claims: Vec<Vec<String>> = v
        .allocations
        .iter()
        .map(|a| {
            let mode = if v.write_allocs.contains_key(&a.id) {
                "write"
            } else {
                "read"
            };
            vec![a.id.clone(), a.node_id.clone(), mode.into()]
        })
        .collect();
    claims.sort();
    out.push_str("\n\nClaims\n");
    if claims.is_empty() {
        out.push_str("No claims");
    } else {
        out.push_str(&columns(&["Allocation", "Node", "Mode"], &claims));
    }
    let history: Vec<Vec<String>> = v
        .claim_history
        .iter()
        .rev()
        .map(|e| {
            vec![
                e.index.to_string(),
                time_text(e.time),
                e.allocation_id.clone(),
                e.node_id.clone(),
                label(&e.mode),
                label(&e.action),
                label(&e.state),
            ]
        })
        .collect();
    if !history.is_empty() {
        out.push_str("\n\nClaim History (newest first)\n");
        out.push_str(&columns(
            &[
                "Index",
                "Time",
                "Allocation",
                "Node",
                "Mode",
                "Action",
                "State",
            ],
            &history,
        ));
    }
    out
}
