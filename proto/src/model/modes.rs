//! Access and attachment modes: the exact CSI strings Nomad uses, with `""` meaning unset.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A volume's access mode. `Unset` is Nomad's `""`: a volume with no current claim.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum AccessMode {
    #[default]
    #[serde(rename = "")]
    Unset,
    #[serde(rename = "single-node-reader-only")]
    SingleNodeReaderOnly,
    #[serde(rename = "single-node-writer")]
    SingleNodeWriter,
    #[serde(rename = "multi-node-reader-only")]
    MultiNodeReaderOnly,
    #[serde(rename = "multi-node-single-writer")]
    MultiNodeSingleWriter,
    #[serde(rename = "multi-node-multi-writer")]
    MultiNodeMultiWriter,
}

impl AccessMode {
    pub const ALL: [AccessMode; 5] = [
        AccessMode::SingleNodeReaderOnly,
        AccessMode::SingleNodeWriter,
        AccessMode::MultiNodeReaderOnly,
        AccessMode::MultiNodeSingleWriter,
        AccessMode::MultiNodeMultiWriter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::Unset => "",
            AccessMode::SingleNodeReaderOnly => "single-node-reader-only",
            AccessMode::SingleNodeWriter => "single-node-writer",
            AccessMode::MultiNodeReaderOnly => "multi-node-reader-only",
            AccessMode::MultiNodeSingleWriter => "multi-node-single-writer",
            AccessMode::MultiNodeMultiWriter => "multi-node-multi-writer",
        }
    }

    /// Modes under which a volume can take a write claim.
    pub fn allows_writers(self) -> bool {
        matches!(
            self,
            AccessMode::SingleNodeWriter
                | AccessMode::MultiNodeSingleWriter
                | AccessMode::MultiNodeMultiWriter
        )
    }
}

impl fmt::Display for AccessMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string was not one of the CSI access or attachment modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl FromStr for AccessMode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        std::iter::once(AccessMode::Unset)
            .chain(AccessMode::ALL)
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownMode(s.to_string()))
    }
}

/// A volume's attachment mode. `Unset` is Nomad's `""`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum AttachmentMode {
    #[default]
    #[serde(rename = "")]
    Unset,
    #[serde(rename = "file-system")]
    FileSystem,
    #[serde(rename = "block-device")]
    BlockDevice,
}

impl AttachmentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentMode::Unset => "",
            AttachmentMode::FileSystem => "file-system",
            AttachmentMode::BlockDevice => "block-device",
        }
    }
}

impl fmt::Display for AttachmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AttachmentMode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            AttachmentMode::Unset,
            AttachmentMode::FileSystem,
            AttachmentMode::BlockDevice,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| UnknownMode(s.to_string()))
    }
}

/// One allowed (access, attachment) pair of a volume: Nomad's `CSIVolumeCapability`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Capability {
    pub access_mode: AccessMode,
    pub attachment_mode: AttachmentMode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_their_exact_strings_only() {
        for m in AccessMode::ALL {
            assert_eq!(m.as_str().parse::<AccessMode>(), Ok(m));
        }
        assert_eq!("".parse::<AccessMode>(), Ok(AccessMode::Unset));
        assert!("Single-Node-Writer".parse::<AccessMode>().is_err());
        assert_eq!(
            "block-device".parse::<AttachmentMode>(),
            Ok(AttachmentMode::BlockDevice)
        );
        assert!("nfs".parse::<AttachmentMode>().is_err());
    }

    #[test]
    fn modes_serialize_as_nomad_strings() {
        let cap = Capability {
            access_mode: AccessMode::MultiNodeSingleWriter,
            attachment_mode: AttachmentMode::FileSystem,
        };
        let json = serde_json::to_string(&cap).expect("json");
        assert_eq!(
            json,
            r#"{"AccessMode":"multi-node-single-writer","AttachmentMode":"file-system"}"#
        );
    }
}
