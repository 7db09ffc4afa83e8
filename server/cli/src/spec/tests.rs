//! HCL volume files end to end: each block of the format, Nomad's leniencies, and every way a
//! file can be wrong, with the place the error names.

use super::{ErrorKind, Position, SpecError, parse};
use std::collections::BTreeMap;
use stowage_proto::api::{CapabilitySpec, VolumeSpec};
use stowage_proto::model::{MountOptions, Secrets, Topology, TopologyRequest};

const HEAD: &str = "id = \"v\"\ntype = \"csi\"\nplugin_id = \"p\"\n";

fn ok(body: &str) -> VolumeSpec {
    let text = format!("{HEAD}{body}");
    parse(&text, "volume.hcl").unwrap_or_else(|e| panic!("{text}\n=> {e}"))
}

fn err(text: &str) -> SpecError {
    match parse(text, "volume.hcl") {
        Ok(spec) => panic!("{text}\n=> parsed: {spec:?}"),
        Err(e) => e,
    }
}

/// The error's (line, column), which must be there.
fn at(e: &SpecError) -> (usize, usize) {
    let Position { line, column } = e.at.unwrap_or_else(|| panic!("no position: {e}"));
    (line, column)
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn top_level_strings() {
    let spec = ok(
        "namespace = \"prod\"\nname = \"db\"\nexternal_id = \"vol-1\"\n\
                   snapshot_id = \"snap-1\"\nclone_id = \"vol-0\"\n",
    );
    assert_eq!(spec.id, "v");
    assert_eq!(spec.plugin_id, "p");
    assert_eq!(spec.namespace, "prod");
    assert_eq!(spec.name, "db");
    assert_eq!(spec.external_id, "vol-1");
    assert_eq!(spec.snapshot_id, "snap-1");
    assert_eq!(spec.clone_id, "vol-0");
    // Nothing given, nothing set.
    let bare = ok("");
    assert_eq!(bare.mount_options, None);
    assert_eq!(bare.requested_topologies, None);
    assert_eq!(bare.secrets, Secrets(None));
    assert!(bare.requested_capabilities.is_empty());
}

#[test]
fn the_type_is_any_case_of_csi() {
    assert_eq!(ok("").id, "v");
    let spec = parse("id = \"v\"\ntype = \"CSI\"\n", "volume.hcl").expect("CSI is csi");
    assert_eq!(spec.id, "v");
}

#[test]
fn capabilities_in_order_and_the_legacy_top_level_modes() {
    let spec = ok(
        "capability {\n  access_mode = \"single-node-writer\"\n  attachment_mode = \"block-device\"\n}\n\
                   capability { access_mode = \"multi-node-reader-only\" }\n",
    );
    assert_eq!(
        spec.requested_capabilities,
        vec![
            Some(CapabilitySpec {
                access_mode: "single-node-writer".into(),
                attachment_mode: "block-device".into(),
            }),
            Some(CapabilitySpec {
                access_mode: "multi-node-reader-only".into(),
                attachment_mode: String::new(),
            }),
        ]
    );
    // Nomad 1.0's form: one capability at the top level, which the server reads as such.
    let legacy = ok("access_mode = \"single-node-writer\"\nattachment_mode = \"file-system\"\n");
    assert_eq!(legacy.access_mode, "single-node-writer");
    assert_eq!(legacy.attachment_mode, "file-system");
    // Modes stay text: the server names an unknown one in its refusal.
    let odd = ok("capability { access_mode = \"sometimes\" }\n");
    assert_eq!(
        odd.requested_capabilities[0]
            .as_ref()
            .map(|c| c.access_mode.as_str()),
        Some("sometimes")
    );
}

#[test]
fn mount_options() {
    let spec =
        ok("mount_options {\n  fs_type = \"xfs\"\n  mount_flags = [\"noatime\", \"ro\"]\n}\n");
    assert_eq!(
        spec.mount_options,
        Some(MountOptions {
            fs_type: "xfs".into(),
            mount_flags: Some(vec!["noatime".into(), "ro".into()]),
        })
    );
    assert_eq!(
        ok("mount_options {}\n").mount_options,
        Some(MountOptions::default())
    );
}

#[test]
fn topology_requests_add_up_and_drop_empty_segments() {
    let spec = ok("topology_request {\n\
                     required {\n\
                       topology { segments { rack = \"R1\", zone = \"a\" } }\n\
                       topology { segments {} }\n\
                     }\n\
                     required { topology { segments { \"rack\" = \"R2\" } } }\n\
                   }\n");
    let topology = |pairs| {
        Some(Topology {
            segments: map(pairs),
        })
    };
    assert_eq!(
        spec.requested_topologies,
        Some(TopologyRequest {
            required: Some(vec![
                topology(&[("rack", "R1"), ("zone", "a")]),
                topology(&[("rack", "R2")])
            ]),
            preferred: None,
        })
    );
    assert_eq!(
        ok("topology_request {}\n").requested_topologies,
        Some(TopologyRequest::default())
    );
}

#[test]
fn maps_as_blocks_or_attributes_with_weak_typing() {
    let spec = ok("secrets { password = \"hunter2\" }\n\
                   parameters = { skuname = \"Premium_LRS\", iops = 3000, ratio = 1.50, fast = true, slow = false }\n\
                   context {\n  \"endpoint.url\" = \"http://x\"\n}\n\
                   context { port = 0x1F }\n");
    assert_eq!(spec.secrets, Secrets(Some(map(&[("password", "hunter2")]))));
    // As Nomad's mapstructure WeakDecode: numbers as Go prints them, bools as "1" and "0".
    assert_eq!(
        spec.parameters,
        map(&[
            ("skuname", "Premium_LRS"),
            ("iops", "3000"),
            ("ratio", "1.5"),
            ("fast", "1"),
            ("slow", "0")
        ])
    );
    assert_eq!(
        spec.context,
        map(&[("endpoint.url", "http://x"), ("port", "31")])
    );
    assert_eq!(ok("name = 1\n").name, "1");
}

#[test]
fn capacities_in_every_form() {
    let spec = ok("capacity_min = \"1.5GiB\"\ncapacity_max = 1048576\n");
    assert_eq!(spec.requested_capacity_min, 1_610_612_736);
    assert_eq!(spec.requested_capacity_max, 1_048_576);
    assert_eq!(ok("capacity_min = \"\"\n").requested_capacity_min, 0);
    assert_eq!(
        ok("capacity_max = \"2 tb\"\n").requested_capacity_max,
        2_000_000_000_000
    );
}

#[test]
fn comments_heredocs_and_a_byte_order_mark() {
    let spec = parse(
        "\u{feff}# one\nid = \"v\" // two\n/* three */ type = \"csi\"\nname = <<EOF\ndb\nEOF\n",
        "volume.hcl",
    )
    .expect("parses");
    assert_eq!(spec.name, "db\n");
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let e = err("id = \"v\"\ntype = \"csi\"\nname = [\"a\" \"b\"]\n");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!(
        e.to_string(),
        "volume.hcl:3:13: expected ',' or ']' in a list, found a string"
    );
    let e = err("id = \"v\"\ncapability {\n");
    assert_eq!(
        e.to_string(),
        "volume.hcl:3:1: unexpected end of file: the '{' at 2:12 is not closed"
    );
    let e = err("id = \"v\"\n  type = \"csi\n");
    assert_eq!((e.kind, at(&e)), (ErrorKind::Syntax, (2, 10)));
}

#[test]
fn unknown_keys_are_named_where_they_are() {
    let e = err(&format!("{HEAD}plugn = \"x\"\n"));
    assert_eq!(e.kind, ErrorKind::UnknownKey);
    assert_eq!(at(&e), (4, 1));
    assert!(
        e.message
            .starts_with("unknown key \"plugn\" in the volume specification; expected id, "),
        "{e}"
    );
    let e = err(&format!("{HEAD}capability {{\n  acess_mode = \"x\"\n}}\n"));
    assert_eq!(
        e.to_string(),
        "volume.hcl:5:3: unknown key \"acess_mode\" in capability; expected access_mode or attachment_mode"
    );
    let e = err(&format!("{HEAD}mount_options {{ fs = \"x\" }}\n"));
    assert_eq!((e.kind, at(&e)), (ErrorKind::UnknownKey, (4, 17)));
    let e = err(&format!("{HEAD}topology_request {{ require {{}} }}\n"));
    assert_eq!((e.kind, at(&e)), (ErrorKind::UnknownKey, (4, 20)));
    let e = err(&format!(
        "{HEAD}topology_request {{ required {{ topo {{}} }} }}\n"
    ));
    assert_eq!(at(&e), (4, 31));
    let e = err(&format!(
        "{HEAD}topology_request {{ required {{ topology {{ segment {{}} }} }} }}\n"
    ));
    assert_eq!(at(&e), (4, 42));
    // A block takes no label.
    let e = err(&format!("{HEAD}capability \"one\" {{}}\n"));
    assert_eq!((e.kind, at(&e)), (ErrorKind::UnknownKey, (4, 12)));
    assert_eq!(e.message, "\"capability\" takes no label, found \"one\"");
}

#[test]
fn repeats_are_refused() {
    let e = err(&format!("{HEAD}name = \"a\"\nname = \"b\"\n"));
    assert_eq!(e.kind, ErrorKind::Duplicate);
    assert_eq!(
        e.to_string(),
        "volume.hcl:5:1: \"name\" is given more than once"
    );
    let e = err("type = \"csi\"\ntype = \"csi\"\n");
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (2, 1)));
    let e = err(&format!("{HEAD}mount_options {{}}\nmount_options {{}}\n"));
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (5, 1)));
    let e = err(&format!(
        "{HEAD}topology_request {{}}\ntopology_request {{}}\n"
    ));
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (5, 1)));
    let e = err(&format!(
        "{HEAD}capability {{\n  access_mode = \"a\"\n  access_mode = \"b\"\n}}\n"
    ));
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (6, 3)));
    // Map blocks merge, as in Nomad, but one key twice is refused.
    let spec = ok("parameters { a = \"1\" }\nparameters { b = \"2\" }\n");
    assert_eq!(spec.parameters, map(&[("a", "1"), ("b", "2")]));
    let e = err(&format!(
        "{HEAD}parameters {{ a = \"1\" }}\nparameters {{ a = \"2\" }}\n"
    ));
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (5, 14)));
    let e = err(&format!(
        "{HEAD}topology_request {{ required {{ topology {{\n segments {{}}\n segments {{}}\n}} }} }}\n"
    ));
    assert_eq!((e.kind, at(&e)), (ErrorKind::Duplicate, (6, 2)));
}

#[test]
fn wrong_types_are_named_where_they_are() {
    let e = err(&format!("{HEAD}name = [\"a\"]\n"));
    assert_eq!(e.kind, ErrorKind::WrongType);
    assert_eq!(
        e.to_string(),
        "volume.hcl:4:8: name must be a string, not a list"
    );
    let e = err(&format!("{HEAD}capability = \"rw\"\n"));
    assert_eq!(
        e.to_string(),
        "volume.hcl:4:14: capability must be a block, not a string"
    );
    let e = err(&format!("{HEAD}mount_options {{ mount_flags = \"ro\" }}\n"));
    assert_eq!(
        e.message,
        "mount_flags must be a list of strings, not a string"
    );
    let e = err(&format!("{HEAD}mount_options {{ fs_type = true }}\n"));
    assert_eq!((e.kind, at(&e)), (ErrorKind::WrongType, (4, 27)));
    let e = err(&format!("{HEAD}secrets {{ password = {{ a = \"b\" }} }}\n"));
    assert_eq!(
        e.message,
        "secrets value \"password\" must be a string, not a block"
    );
    assert_eq!(at(&e), (4, 22));
    let e = err(&format!(
        "{HEAD}topology_request {{ required {{ topology {{ segments {{ rack = false }} }} }} }}\n"
    ));
    assert_eq!(
        e.message,
        "segments value \"rack\" must be a string, not a bool"
    );
    let e = err(&format!("{HEAD}capacity_min = [1]\n"));
    assert_eq!(
        e.to_string(),
        "volume.hcl:4:16: capacity_min must be a size such as \"10GiB\", not a list"
    );
}

#[test]
fn bad_capacities_are_refused_at_their_value() {
    let e = err(&format!("{HEAD}capacity_min = \"ten GiB\"\n"));
    assert_eq!(e.kind, ErrorKind::Capacity);
    assert_eq!(
        e.to_string(),
        "volume.hcl:4:16: invalid capacity_min: \"ten GiB\" does not start with a number"
    );
    let e = err(&format!("{HEAD}capacity_max = \"-1GiB\"\n"));
    assert_eq!(
        e.to_string(),
        "volume.hcl:4:16: invalid capacity_max: \"-1GiB\" is negative"
    );
    let e = err(&format!("{HEAD}capacity_max = -5\n"));
    assert_eq!((e.kind, at(&e)), (ErrorKind::Capacity, (4, 16)));
    let e = err(&format!("{HEAD}capacity_max = \"9EiB\"\n"));
    assert!(e.message.contains("too large"), "{e}");
    let e = err(&format!("{HEAD}capacity_max = \"10 GiBs\"\n"));
    assert!(e.message.contains("unknown unit \"gibs\""), "{e}");
}

#[test]
fn the_type_must_be_csi() {
    let e = err("id = \"v\"\nplugin_id = \"p\"\n");
    assert_eq!(e.kind, ErrorKind::VolumeType);
    assert_eq!(
        e.to_string(),
        "volume.hcl: volume type is required: add type = \"csi\""
    );
    // Checked before the other keys, which a host volume's file has its own of.
    let e = err("id = \"v\"\ntype = \"host\"\nhost_path = \"/srv\"\n");
    assert_eq!(
        e.to_string(),
        "volume.hcl:2:8: volume type \"host\" is not supported here: only \"csi\""
    );
    let e = err("type = [\"csi\"]\n");
    assert_eq!(e.kind, ErrorKind::WrongType);
}

#[test]
fn the_origin_names_stdin_too() {
    let e = parse("id = \n", "<stdin>").expect_err("no value");
    assert_eq!(e.origin, "<stdin>");
    assert_eq!(
        e.to_string(),
        "<stdin>:2:1: expected a value, found the end of the file"
    );
}

#[test]
fn a_file_cut_short_anywhere_is_an_error_not_a_panic() {
    for example in [super::EXAMPLE, super::EXAMPLE_JSON] {
        for (cut, _) in example.char_indices().skip(1) {
            let _ = parse(&example[..cut], "volume.hcl");
        }
    }
    // Something after the last item that is no item.
    assert_eq!(err("type = \"csi\"\n=").kind, ErrorKind::Syntax);
}
