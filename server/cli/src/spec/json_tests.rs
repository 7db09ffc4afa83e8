//! JSON volume files end to end: Nomad's snake_case form of the file, the API's volume object
//! bare and wrapped, and the ways each can be wrong.

use super::{EXAMPLE, ErrorKind, Position, SpecError, parse};
use std::collections::BTreeMap;
use stowage_proto::model::{Secrets, Topology};

fn err(text: &str) -> SpecError {
    match parse(text, "volume.json") {
        Ok(spec) => panic!("{text}\n=> parsed: {spec:?}"),
        Err(e) => e,
    }
}

fn at(e: &SpecError) -> (usize, usize) {
    let Position { line, column } = e.at.unwrap_or_else(|| panic!("no position: {e}"));
    (line, column)
}

/// The shape `nomad volume init -json` writes: a block as one object or a list of objects, and
/// each `required` entry holding one topology.
const NOMAD_INIT_JSON: &str = r#"{
  "id": "ebs_prod_db1", "namespace": "default", "name": "database", "type": "csi",
  "plugin_id": "ebs-prod", "external_id": "vol-23452345", "snapshot_id": "snap-12345",
  "capacity_min": "10GiB", "capacity_max": "20G",
  "capability": [
    { "access_mode": "single-node-writer", "attachment_mode": "file-system" },
    { "access_mode": "single-node-reader-only", "attachment_mode": "file-system" }
  ],
  "context": [{ "endpoint": "http://192.168.1.101:9425" }],
  "mount_options": [{ "fs_type": "ext4", "mount_flags": ["noatime"] }],
  "topology_request": {
    "preferred": [{ "topology": { "segments": { "rack": "R1" } } }],
    "required": [
      { "topology": { "segments": { "rack": "R1", "zone": "us-east-1a" } } },
      { "topology": { "segments": { "rack": "R2" } } }
    ]
  },
  "parameters": [{ "skuname": "Premium_LRS" }],
  "secrets": { "example_secret": "xyzzy" }
}"#;

#[test]
fn nomads_json_form_means_what_the_hcl_says() {
    let hcl = parse(EXAMPLE, "volume.hcl").expect("the HCL example parses");
    let json = parse(NOMAD_INIT_JSON, "volume.json").expect("Nomad's JSON form parses");
    assert_eq!(json, hcl);
}

#[test]
fn the_api_volume_object_bare() {
    // This repository's deploy/examples/volume.json, with the docs' flat topologies.
    let text = r#"{ "ID": "volume-id1", "Name": "volume id1", "Namespace": "default",
        "ExternalID": "volume-id1", "Topologies": [{ "foo": "bar" }],
        "AccessMode": "multi-node-single-writer", "AttachmentMode": "file-system",
        "PluginID": "plugin-id1"}"#;
    let spec = parse(text, "volume.json").expect("parses");
    assert_eq!(spec.id, "volume-id1");
    assert_eq!(spec.plugin_id, "plugin-id1");
    assert_eq!(spec.access_mode, "multi-node-single-writer");
    let foo = BTreeMap::from([("foo".to_string(), "bar".to_string())]);
    assert_eq!(spec.topologies, vec![Some(Topology { segments: foo })]);
}

#[test]
fn the_api_volume_object_as_status_prints_it() {
    // Server-owned fields are ignored and nulls mean "not given", as in Nomad's decoder.
    let text = r#"{
      "ID": "db", "Namespace": "default", "PluginID": "ebs", "Provider": "ebs.csi.aws.com",
      "Schedulable": true, "ControllersHealthy": 1, "CreateIndex": 12, "ReadAllocs": {},
      "Allocations": [], "Topologies": null, "Parameters": null, "Secrets": null,
      "MountOptions": { "FSType": "ext4", "MountFlags": null },
      "RequestedCapacityMin": 1073741824,
      "RequestedCapabilities": [{ "AccessMode": "single-node-writer", "AttachmentMode": "file-system" }],
      "ResourceExhausted": "0001-01-01T00:00:00Z"
    }"#;
    let spec = parse(text, "volume.json").expect("parses");
    assert_eq!(spec.requested_capacity_min, 1 << 30);
    assert_eq!(spec.requested_capabilities.len(), 1);
    assert_eq!(
        spec.mount_options.map(|m| m.fs_type),
        Some("ext4".to_string())
    );
    assert_eq!(spec.secrets, Secrets(None));
    assert!(spec.topologies.is_empty());
}

#[test]
fn the_register_wrapper_with_one_volume() {
    let text = r#"{"Namespace": "prod", "PolicyOverride": false,
                   "Volumes": [{"ID": "db", "PluginID": "ebs"}]}"#;
    let spec = parse(text, "volume.json").expect("parses");
    assert_eq!((spec.id.as_str(), spec.namespace.as_str()), ("db", "prod"));
    // The volume's own namespace wins over the request's.
    let text = r#"{"Namespace": "prod", "Volumes": [{"ID": "db", "Namespace": "dev"}, null]}"#;
    assert_eq!(parse(text, "volume.json").expect("parses").namespace, "dev");
}

#[test]
fn the_register_wrapper_must_hold_exactly_one_volume() {
    let e = err("{\"Volumes\": [\n  {\"ID\": \"a\"},\n  {\"ID\": \"b\"}\n]}");
    assert_eq!(e.kind, ErrorKind::VolumeCount);
    assert_eq!(
        e.to_string(),
        "volume.json:3:3: Volumes holds 2 volumes: a volume file holds one; split it"
    );
    let e = err("{\"Volumes\": []}");
    assert_eq!((e.kind, at(&e)), (ErrorKind::VolumeCount, (1, 13)));
    let e = err("{\"Volumes\": {\"ID\": \"a\"}}");
    assert_eq!((e.kind, at(&e)), (ErrorKind::WrongType, (1, 13)));
}

#[test]
fn syntax_errors_carry_serde_jsons_place() {
    let e = err("{\n  \"id\": \"v\",\n  \"type\" \"csi\"\n}");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!(e.to_string(), "volume.json:3:10: expected `:`");
    let e = err("{\n  \"id\": \"v\",\n}");
    assert_eq!(e.to_string(), "volume.json:3:1: key must be a string");
    // Columns count characters, where serde_json counts bytes.
    let e = err("{\"name\": \"é\", x}");
    assert_eq!(at(&e), (1, 15));
    let e = err("{\"id\": \"v\"");
    assert_eq!((e.kind, at(&e)), (ErrorKind::Syntax, (1, 10)));
    assert_eq!(e.message, "EOF while parsing an object");
}

#[test]
fn the_json_form_is_as_strict_as_hcl() {
    let e = err("{\n  \"type\": \"csi\",\n  \"plugn_id\": \"p\"\n}");
    assert_eq!((e.kind, at(&e)), (ErrorKind::UnknownKey, (3, 3)));
    let e = err("{\"type\": \"csi\", \"id\": \"a\", \"id\": \"b\"}");
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (1, 28)));
    let e = err("{\"type\": \"csi\", \"mount_options\": [{}, {}]}");
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (1, 39)));
    let e = err("{\"type\": \"csi\", \"capability\": [\"rw\"]}");
    assert_eq!(
        e.to_string(),
        "volume.json:1:32: capability must be a block, not a string"
    );
    let e = err("{\"type\": \"csi\", \"name\": null}");
    assert_eq!(e.message, "name must be a string, not null");
    let e = err("{\"type\": \"csi\", \"capacity_max\": \"-1\"}");
    assert_eq!((e.kind, at(&e)), (ErrorKind::Capacity, (1, 33)));
    let e = err("{\"id\": \"v\"}");
    assert_eq!(
        e.to_string(),
        "volume.json: volume type is required: add type = \"csi\""
    );
    let e = err("{}");
    assert_eq!(e.kind, ErrorKind::VolumeType);
    // A file mixing the two spellings is read as the HCL form, where "ID" is no key.
    let e = err("{\"type\": \"csi\", \"ID\": \"v\"}");
    assert_eq!((e.kind, at(&e)), (ErrorKind::UnknownKey, (1, 17)));
}

#[test]
fn api_type_errors_point_at_the_value() {
    let e = err("{\n  \"ID\": \"v\",\n  \"RequestedCapacityMin\": \"10GiB\"\n}");
    assert_eq!(e.kind, ErrorKind::WrongType);
    assert_eq!(
        e.to_string(),
        "volume.json:3:27: RequestedCapacityMin: invalid type: string \"10GiB\", expected i64"
    );
    let e = err("{\"ID\": \"v\", \"RequestedCapabilities\": [{\"AccessMode\": 1}]}");
    assert_eq!(at(&e), (1, 54));
    assert!(
        e.message
            .starts_with("RequestedCapabilities[0].AccessMode: "),
        "{e}"
    );
    let e = err("{\"ID\": \"v\", \"ID\": \"w\"}");
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (1, 13)));
}
