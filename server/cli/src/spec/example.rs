//! The example volume specification that `stowage volume init` writes, in HCL and in JSON: every
//! key of the format, each with a comment in the HCL one. Both must parse to the same volume.

/// `volume.hcl`, as `nomad volume init` writes it for a CSI volume.
pub const EXAMPLE: &str = r#"# A CSI volume, for `stowage volume register volume.hcl`. The format is Nomad's: a file
# written for `nomad volume register` works here unchanged, and this one works there.

# Required: the volume's ID, unique in its namespace, and the kind of volume.
id   = "ebs_prod_db1"
type = "csi"

# Optional: the namespace (the one given with -namespace or "default" when omitted)
# and a human-friendly name.
namespace = "default"
name      = "database"

# Required: the CSI plugin that serves the volume.
plugin_id = "ebs-prod"

# The storage provider's own ID for the volume.
external_id = "vol-23452345"

# Optional: the snapshot or volume this one was made from. Give at most one of the two.
snapshot_id = "snap-12345"
# clone_id  = "vol-abcdef"

# Optional: the capacity asked for. Sizes take decimal (kB, MB, GB, TB) or binary
# (KiB, MiB, GiB, TiB) units; a bare number is bytes.
capacity_min = "10GiB"
capacity_max = "20G"

# Required, at least one: how the volume may be used. Access modes: single-node-reader-only,
# single-node-writer, multi-node-reader-only, multi-node-single-writer, multi-node-multi-writer.
# Attachment modes: file-system, block-device.
capability {
  access_mode     = "single-node-writer"
  attachment_mode = "file-system"
}

capability {
  access_mode     = "single-node-reader-only"
  attachment_mode = "file-system"
}

# Optional: how a file-system volume is mounted.
mount_options {
  fs_type     = "ext4"
  mount_flags = ["noatime"]
}

# Optional: where the volume must (required) or should (preferred) be reachable from. The
# segment keys and values are the plugin's; see its documentation.
topology_request {
  required {
    topology { segments { rack = "R1", zone = "us-east-1a" } }
    topology { segments { rack = "R2" } }
  }
  preferred {
    topology { segments { rack = "R1" } }
  }
}

# Optional: credentials the plugin needs. Never printed back by the API.
secrets {
  example_secret = "xyzzy"
}

# Optional: the plugin's parameters for this volume, as strings.
parameters {
  skuname = "Premium_LRS"
}

# Optional: what the plugin needs to reach the volume, as strings.
context {
  endpoint = "http://192.168.1.101:9425"
}
"#;

/// `volume.json`, for `stowage volume init -json`: the same volume in Nomad's JSON form of the
/// file, with the HCL file's keys and each block as a list of objects.
pub const EXAMPLE_JSON: &str = r#"{
  "id": "ebs_prod_db1",
  "type": "csi",
  "namespace": "default",
  "name": "database",
  "plugin_id": "ebs-prod",
  "external_id": "vol-23452345",
  "snapshot_id": "snap-12345",
  "capacity_min": "10GiB",
  "capacity_max": "20G",
  "capability": [
    {
      "access_mode": "single-node-writer",
      "attachment_mode": "file-system"
    },
    {
      "access_mode": "single-node-reader-only",
      "attachment_mode": "file-system"
    }
  ],
  "mount_options": [
    {
      "fs_type": "ext4",
      "mount_flags": ["noatime"]
    }
  ],
  "topology_request": [
    {
      "required": [
        {
          "topology": [
            { "segments": { "rack": "R1", "zone": "us-east-1a" } },
            { "segments": { "rack": "R2" } }
          ]
        }
      ],
      "preferred": [
        {
          "topology": [
            { "segments": { "rack": "R1" } }
          ]
        }
      ]
    }
  ],
  "secrets": [
    {
      "example_secret": "xyzzy"
    }
  ],
  "parameters": [
    {
      "skuname": "Premium_LRS"
    }
  ],
  "context": [
    {
      "endpoint": "http://192.168.1.101:9425"
    }
  ]
}
"#;

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use std::collections::BTreeMap;
    use stowage_proto::api::CapabilitySpec;
    use stowage_proto::model::{MountOptions, Secrets, Topology, TopologyRequest};

    fn segments(pairs: &[(&str, &str)]) -> Option<Topology> {
        let segments = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Topology { segments })
    }

    #[test]
    fn the_hcl_example_parses_to_every_field() {
        let spec = parse(EXAMPLE, "volume.hcl").expect("the example parses");
        assert_eq!(spec.id, "ebs_prod_db1");
        assert_eq!(spec.namespace, "default");
        assert_eq!(spec.name, "database");
        assert_eq!(spec.plugin_id, "ebs-prod");
        assert_eq!(spec.external_id, "vol-23452345");
        assert_eq!(spec.snapshot_id, "snap-12345");
        assert_eq!(spec.clone_id, "");
        assert_eq!(spec.requested_capacity_min, 10 << 30);
        assert_eq!(spec.requested_capacity_max, 20_000_000_000);
        let cap = |access: &str| {
            Some(CapabilitySpec {
                access_mode: access.into(),
                attachment_mode: "file-system".into(),
            })
        };
        assert_eq!(
            spec.requested_capabilities,
            vec![cap("single-node-writer"), cap("single-node-reader-only")]
        );
        assert_eq!(
            spec.mount_options,
            Some(MountOptions {
                fs_type: "ext4".into(),
                mount_flags: Some(vec!["noatime".into()]),
            })
        );
        assert_eq!(
            spec.requested_topologies,
            Some(TopologyRequest {
                required: Some(vec![
                    segments(&[("rack", "R1"), ("zone", "us-east-1a")]),
                    segments(&[("rack", "R2")]),
                ]),
                preferred: Some(vec![segments(&[("rack", "R1")])]),
            })
        );
        let map = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(spec.secrets, Secrets(Some(map("example_secret", "xyzzy"))));
        assert_eq!(spec.parameters, map("skuname", "Premium_LRS"));
        assert_eq!(spec.context, map("endpoint", "http://192.168.1.101:9425"));
    }

    #[test]
    fn the_json_example_says_the_same() {
        let hcl = parse(EXAMPLE, "volume.hcl").expect("the HCL example parses");
        let json = parse(EXAMPLE_JSON, "volume.json").expect("the JSON example parses");
        assert_eq!(json, hcl);
    }

    #[test]
    fn the_examples_are_documented_and_complete() {
        // Every key the format has starts a line of the HCL example (clone_id's commented out).
        // The legacy top-level modes are read but not advertised.
        let advertised = crate::spec::decode::TOP
            .iter()
            .filter(|k| !matches!(**k, "access_mode" | "attachment_mode"));
        for key in advertised {
            let starts = |l: &str| l.trim_start_matches("# ").starts_with(&format!("{key} "));
            assert!(EXAMPLE.lines().any(starts), "{key} missing from EXAMPLE");
        }
    }
}
