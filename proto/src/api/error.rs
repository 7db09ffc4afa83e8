//! The CSI endpoint's one error type, and the stable machine code of every refusal. Texts are
//! Nomad's; codes are what programs compare (HTTP sends them in `X-Stowage-Error`, gRPC in the
//! encoded error), so no client ever needs to parse a message.

use crate::error::{ClusterError, DomainError};
use crate::rules::ClaimRefusal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The HTTP header in which every error answer names its code.
pub const ERROR_HEADER: &str = "X-Stowage-Error";

/// Why the endpoint refused or could not finish a call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "error", rename_all = "kebab-case")]
pub enum CsiError {
    /// The request itself is malformed: nothing was written. The text is Nomad's.
    #[error("{0}")]
    Invalid(String),
    /// A rule of the domain refused it: nothing was written.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The cluster could not give a definite answer.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The caller's token (or its absence) does not allow this. Decided before anything about
    /// the records is looked at, so a refusal says nothing about whether they exist.
    #[error("Permission denied")]
    PermissionDenied,
    /// An ACL endpoint was called while ACLs are off.
    #[error("ACL support disabled")]
    AclDisabled,
    /// A blocking query found its node already holding as many as it allows: nothing waits.
    #[error(
        "this node already holds {limit} blocking queries, its limit; retry later, or read without an index"
    )]
    TooManyWatchers { limit: usize },
    /// The leader's disk has less free space than its reserve: nothing was written, and writes
    /// resume once space returns.
    #[error(
        "disk full: the leader's data dir has {free_mib} MiB free, below its reserve of {reserve_mib} MiB; nothing was written, and writes resume once space is freed"
    )]
    DiskFull { free_mib: u64, reserve_mib: u64 },
}

/// A refusal's stable identity. The strings are part of the API: never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ErrorCode {
    InvalidRequest,
    NoRoute,
    InvalidMethod,
    BodyTooLarge,
    NotImplemented,
    VolumeNotFound,
    NoSuchVolume,
    PluginNotFound,
    NamespaceMissing,
    VolumeInUse,
    UpdateRefused,
    VolumeExists,
    IndexMismatch,
    AttachmentModeConflict,
    VolumeUnschedulable,
    MaxClaimsReached,
    ReleaseBackwards,
    NoLeader,
    NotLeader,
    OutcomeUnknown,
    RaftStopped,
    Internal,
    PermissionDenied,
    AclDisabled,
    NamespaceNotFound,
    DefaultNamespace,
    NamespaceInUse,
    AclBootstrapped,
    AclTokenNotFound,
    AclPolicyNotFound,
    AclTokenUnchangeable,
    AclTokenExists,
    TooManyWatchers,
    TooManyConnections,
    RequestTimeout,
    DiskFull,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 36] = [
        ErrorCode::InvalidRequest,
        ErrorCode::NoRoute,
        ErrorCode::InvalidMethod,
        ErrorCode::BodyTooLarge,
        ErrorCode::NotImplemented,
        ErrorCode::VolumeNotFound,
        ErrorCode::NoSuchVolume,
        ErrorCode::PluginNotFound,
        ErrorCode::NamespaceMissing,
        ErrorCode::VolumeInUse,
        ErrorCode::UpdateRefused,
        ErrorCode::VolumeExists,
        ErrorCode::IndexMismatch,
        ErrorCode::AttachmentModeConflict,
        ErrorCode::VolumeUnschedulable,
        ErrorCode::MaxClaimsReached,
        ErrorCode::ReleaseBackwards,
        ErrorCode::NoLeader,
        ErrorCode::NotLeader,
        ErrorCode::OutcomeUnknown,
        ErrorCode::RaftStopped,
        ErrorCode::Internal,
        ErrorCode::PermissionDenied,
        ErrorCode::AclDisabled,
        ErrorCode::NamespaceNotFound,
        ErrorCode::DefaultNamespace,
        ErrorCode::NamespaceInUse,
        ErrorCode::AclBootstrapped,
        ErrorCode::AclTokenNotFound,
        ErrorCode::AclPolicyNotFound,
        ErrorCode::AclTokenUnchangeable,
        ErrorCode::AclTokenExists,
        ErrorCode::TooManyWatchers,
        ErrorCode::TooManyConnections,
        ErrorCode::RequestTimeout,
        ErrorCode::DiskFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid-request",
            ErrorCode::NoRoute => "no-route",
            ErrorCode::InvalidMethod => "invalid-method",
            ErrorCode::BodyTooLarge => "body-too-large",
            ErrorCode::NotImplemented => "not-implemented",
            ErrorCode::VolumeNotFound => "volume-not-found",
            ErrorCode::NoSuchVolume => "no-such-volume",
            ErrorCode::PluginNotFound => "plugin-not-found",
            ErrorCode::NamespaceMissing => "namespace-missing",
            ErrorCode::VolumeInUse => "volume-in-use",
            ErrorCode::UpdateRefused => "update-refused",
            ErrorCode::VolumeExists => "volume-exists",
            ErrorCode::IndexMismatch => "index-mismatch",
            ErrorCode::AttachmentModeConflict => "attachment-mode-conflict",
            ErrorCode::VolumeUnschedulable => "volume-unschedulable",
            ErrorCode::MaxClaimsReached => "max-claims-reached",
            ErrorCode::ReleaseBackwards => "release-backwards",
            ErrorCode::NoLeader => "no-leader",
            ErrorCode::NotLeader => "not-leader",
            ErrorCode::OutcomeUnknown => "outcome-unknown",
            ErrorCode::RaftStopped => "raft-stopped",
            ErrorCode::Internal => "internal",
            ErrorCode::PermissionDenied => "permission-denied",
            ErrorCode::AclDisabled => "acl-disabled",
            ErrorCode::NamespaceNotFound => "namespace-not-found",
            ErrorCode::DefaultNamespace => "default-namespace",
            ErrorCode::NamespaceInUse => "namespace-in-use",
            ErrorCode::AclBootstrapped => "acl-bootstrapped",
            ErrorCode::AclTokenNotFound => "acl-token-not-found",
            ErrorCode::AclPolicyNotFound => "acl-policy-not-found",
            ErrorCode::AclTokenUnchangeable => "acl-token-unchangeable",
            ErrorCode::AclTokenExists => "acl-token-exists",
            ErrorCode::TooManyWatchers => "too-many-watchers",
            ErrorCode::TooManyConnections => "too-many-connections",
            ErrorCode::RequestTimeout => "request-timeout",
            ErrorCode::DiskFull => "disk-full",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownCode(pub String);

impl FromStr for ErrorCode {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_string()))
    }
}

impl From<ErrorCode> for String {
    fn from(c: ErrorCode) -> String {
        c.as_str().to_string()
    }
}

impl TryFrom<String> for ErrorCode {
    type Error = UnknownCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl DomainError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DomainError::VolumeNotFound { .. } => ErrorCode::VolumeNotFound,
            DomainError::VolumeInUse { .. } => ErrorCode::VolumeInUse,
            DomainError::NamespaceMissing { .. } => ErrorCode::NamespaceMissing,
            DomainError::UpdateRefused { .. } => ErrorCode::UpdateRefused,
            DomainError::AlreadyExists { .. } => ErrorCode::VolumeExists,
            DomainError::IndexMismatch { .. } => ErrorCode::IndexMismatch,
            DomainError::ClaimRefused { reason, .. } => match reason {
                ClaimRefusal::AttachmentModeConflict => ErrorCode::AttachmentModeConflict,
                ClaimRefusal::Unschedulable => ErrorCode::VolumeUnschedulable,
                ClaimRefusal::MaxClaimsReached => ErrorCode::MaxClaimsReached,
                ClaimRefusal::ReleaseBackwards { .. } => ErrorCode::ReleaseBackwards,
            },
            DomainError::NoSuchVolume { .. } => ErrorCode::NoSuchVolume,
            DomainError::PluginNotFound { .. } => ErrorCode::PluginNotFound,
            DomainError::NamespaceNotFound { .. } => ErrorCode::NamespaceNotFound,
            DomainError::DefaultNamespace => ErrorCode::DefaultNamespace,
            DomainError::NamespaceInUse { .. } => ErrorCode::NamespaceInUse,
            DomainError::AclBootstrapped { .. } | DomainError::BootstrapResetMismatch { .. } => {
                ErrorCode::AclBootstrapped
            }
            DomainError::AclTokenMissing { .. } | DomainError::AclTokensMissing { .. } => {
                ErrorCode::AclTokenNotFound
            }
            DomainError::AclTokenUnchangeable(_) => ErrorCode::AclTokenUnchangeable,
            DomainError::AclTokenExists => ErrorCode::AclTokenExists,
            DomainError::PermissionDenied => ErrorCode::PermissionDenied,
        }
    }
}

impl ClusterError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ClusterError::NoLeader => ErrorCode::NoLeader,
            ClusterError::NotLeader => ErrorCode::NotLeader,
            ClusterError::OutcomeUnknown(_) => ErrorCode::OutcomeUnknown,
            ClusterError::Stopped(_) => ErrorCode::RaftStopped,
            ClusterError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl CsiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            CsiError::Invalid(_) => ErrorCode::InvalidRequest,
            CsiError::Domain(e) => e.code(),
            CsiError::Cluster(e) => e.code(),
            CsiError::PermissionDenied => ErrorCode::PermissionDenied,
            CsiError::AclDisabled => ErrorCode::AclDisabled,
            CsiError::TooManyWatchers { .. } => ErrorCode::TooManyWatchers,
            CsiError::DiskFull { .. } => ErrorCode::DiskFull,
        }
    }

    pub fn invalid(text: impl Into<String>) -> Self {
        CsiError::Invalid(text.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(c.as_str().parse::<ErrorCode>(), Ok(c));
            assert!(seen.insert(c.as_str()), "{c} twice");
            let json = serde_json::to_string(&c).expect("json");
            assert_eq!(json, format!("\"{c}\""));
        }
        assert!("volume_in_use".parse::<ErrorCode>().is_err());
    }

    #[test]
    fn a_claim_refusal_keeps_nomads_text_and_names_its_reason() {
        let e = CsiError::from(DomainError::ClaimRefused {
            alloc: "a".into(),
            id: "v".into(),
            reason: ClaimRefusal::MaxClaimsReached,
        });
        assert_eq!(
            e.to_string(),
            r#"alloc "a" failed to claim volume "v": volume max claims reached"#
        );
        assert_eq!(e.code(), ErrorCode::MaxClaimsReached);
        let back: CsiError =
            serde_json::from_str(&serde_json::to_string(&e).expect("json")).expect("decode");
        assert_eq!(back, e);
    }
}
