//! A `filter` query parameter, as any client may send it: parsing it, and evaluating what parses
//! against a volume-shaped document, must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_proto::filter::Filter;

fuzz_target!(|text: &str| {
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    let volume = serde_json::json!({
        "ID": "vol-1", "Name": "db", "Namespace": "default", "PluginID": "ebs",
        "Schedulable": true, "ControllersHealthy": 2, "Capacity": 1073741824_u64,
        "Topologies": [{"Segments": {"zone": "a"}}],
        "Parameters": {"type": "gp3"}, "Context": {}, "Secrets": null,
        "RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}],
    });
    let _ = filter.matches(&volume);
});
