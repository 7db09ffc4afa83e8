//! The `Command` that goes through the Raft log, and what applying it answers.
//!
//! Tags are append-only: a retired variant is kept (or its name reserved), never reused.

use crate::acl::{AclPolicy, AclToken};
use crate::api::CsiError;
use crate::error::DomainError;
use crate::model::{Claim, Namespace, Plugin, Volume, VolumeKey};
use crate::query::VolumeDetail;
use crate::rules::{ClaimRequest, RawModes, validate, validate_claim};
use serde::{Deserialize, Serialize};

/// One log entry's payload: a command plus the facts the leader stamped into it, so that apply
/// never reads a clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub command: Command,
    /// Leader's wall clock when the command was proposed, in nanoseconds since the epoch.
    pub time_ns: i64,
    /// Who the command is applied for, when that caller is held to ACLs; `None` when nobody is
    /// (ACLs off, or the node itself). Apply checks the caller again against the state it
    /// applies to, so a revocation committed before the command always wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Proposer>,
}

/// The caller a command was proposed for, as apply can check it: by the hash of the secret it
/// presented, never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Proposer {
    Anonymous,
    Token { secret_hash: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op")]
pub enum Command {
    /// Register volumes, all or none: new ones are created, existing ones updated under Nomad's
    /// merge rules, which apply re-checks against the state it applies to.
    RegisterVolumes {
        volumes: Vec<Volume>,
        cas: Option<u64>,
    },
    /// Remove a volume record; refused while it has claims, or with `force` while any claim is
    /// still taken (a claim being released does not block a forced deregister).
    DeregisterVolume {
        namespace: String,
        id: String,
        force: bool,
        cas: Option<u64>,
    },
    /// Take, advance or release one allocation's claim under Nomad's rules, enforced in apply.
    Claim {
        namespace: String,
        volume_id: String,
        request: ClaimRequest,
        cas: Option<u64>,
    },
    /// An operator's statement that a node no longer uses the volume: free all its claims.
    DetachNode {
        namespace: String,
        volume_id: String,
        node_id: String,
    },
    /// Record a plugin's fingerprint (provider, version, health counts).
    UpsertPlugin {
        plugin: Plugin,
    },
    DeletePlugin {
        id: String,
    },
    UpsertNamespace {
        namespace: Namespace,
    },
    /// Remove a namespace; refused for `default` and while it holds volumes.
    DeleteNamespace {
        name: String,
    },
    /// The ACL system's first management token. Refused once done, unless `reset_index` names
    /// the index of the bootstrap to redo (the operator's reset file).
    BootstrapAcl {
        token: AclToken,
        reset_index: Option<u64>,
    },
    UpsertAclPolicies {
        policies: Vec<AclPolicy>,
    },
    DeleteAclPolicies {
        names: Vec<String>,
    },
    /// Create tokens (`create`), or update the name, type and policies of existing ones.
    UpsertAclTokens {
        tokens: Vec<AclToken>,
        create: bool,
    },
    DeleteAclTokens {
        accessor_ids: Vec<String>,
    },
    /// Replace every table with a snapshot archive's: an operator's restore. Table indexes all
    /// move to the restore's index, so every reader and blocking query sees the change.
    RestoreTables {
        tables: Box<Tables>,
    },
}

/// One claim and the volume it is on, as tables and archives list claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub volume: VolumeKey,
    pub claim: Claim,
}

/// Every replicated table, as a snapshot archive holds them. Fields default when absent, so
/// that a table added later leaves older entries and archives readable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tables {
    pub volumes: Vec<Volume>,
    pub claims: Vec<ClaimRecord>,
    pub plugins: Vec<Plugin>,
    pub namespaces: Vec<Namespace>,
    pub acl_policies: Vec<AclPolicy>,
    pub acl_tokens: Vec<AclToken>,
    pub acl_bootstrap: Option<u64>,
}

/// Refuses the first item of `items` that is listed twice.
fn unique<T: Ord + std::fmt::Debug>(
    what: &str,
    items: impl Iterator<Item = T>,
) -> Result<(), CsiError> {
    let mut seen = std::collections::BTreeSet::new();
    for item in items {
        if let Some(again) = seen.replace(item) {
            return Err(CsiError::invalid(format!(
                "snapshot: {what} {again:?} is listed twice"
            )));
        }
    }
    Ok(())
}

impl Tables {
    /// Refuses tables that no cluster could have written: a record listed twice (two tokens
    /// with one secret would let one stand for the other), a volume outside every namespace, a
    /// claim on a missing volume, no `default` namespace, or a volume that breaks the rules a
    /// register is held to. A restore then never puts in place what the API could not reach.
    pub fn check(&self) -> Result<(), CsiError> {
        unique("namespace", self.namespaces.iter().map(|n| n.name.as_str()))?;
        unique("plugin", self.plugins.iter().map(|p| p.id.as_str()))?;
        unique(
            "ACL policy",
            self.acl_policies.iter().map(|p| p.name.as_str()),
        )?;
        unique(
            "ACL token",
            self.acl_tokens.iter().map(|t| t.accessor_id.as_str()),
        )?;
        unique(
            "ACL token secret",
            self.acl_tokens.iter().map(|t| t.secret_hash.as_str()),
        )?;
        let claims = self
            .claims
            .iter()
            .map(|c| (&c.volume, c.claim.allocation_id.as_str()));
        unique("claim", claims)?;
        let namespaces: std::collections::BTreeSet<&str> =
            self.namespaces.iter().map(|n| n.name.as_str()).collect();
        if !namespaces.contains(Namespace::DEFAULT) {
            return Err(CsiError::invalid(
                "snapshot: the archive has no \"default\" namespace",
            ));
        }
        let mut volumes = std::collections::BTreeSet::new();
        for v in &self.volumes {
            if !namespaces.contains(v.namespace.as_str()) {
                return Err(CsiError::invalid(format!(
                    "snapshot: volume {:?} is in namespace {:?}, which the archive does not have",
                    v.id, v.namespace
                )));
            }
            refuse_problems(validate(v, &RawModes::default()))?;
            if !volumes.insert(v.key()) {
                return Err(CsiError::invalid(format!(
                    "snapshot: volume {:?} is listed twice",
                    v.id
                )));
            }
        }
        if let Some(c) = self.claims.iter().find(|c| !volumes.contains(&c.volume)) {
            return Err(CsiError::invalid(format!(
                "snapshot: a claim of allocation {:?} is on volume {}, which the archive does not have",
                c.claim.allocation_id, c.volume
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.command.name(), self.time_ns)
    }
}

impl Command {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::RegisterVolumes { .. } => "register-volumes",
            Command::DeregisterVolume { .. } => "deregister-volume",
            Command::Claim { .. } => "claim",
            Command::DetachNode { .. } => "detach-node",
            Command::UpsertPlugin { .. } => "upsert-plugin",
            Command::DeletePlugin { .. } => "delete-plugin",
            Command::UpsertNamespace { .. } => "upsert-namespace",
            Command::DeleteNamespace { .. } => "delete-namespace",
            Command::BootstrapAcl { .. } => "bootstrap-acl",
            Command::UpsertAclPolicies { .. } => "upsert-acl-policies",
            Command::DeleteAclPolicies { .. } => "delete-acl-policies",
            Command::UpsertAclTokens { .. } => "upsert-acl-tokens",
            Command::DeleteAclTokens { .. } => "delete-acl-tokens",
            Command::RestoreTables { .. } => "restore-tables",
        }
    }
}

/// Refuses an empty volume ID with Nomad's text.
pub fn require_volume_id(id: &str) -> Result<(), CsiError> {
    if id.is_empty() {
        Err(CsiError::invalid("missing volume ID"))
    } else {
        Ok(())
    }
}

fn refuse_problems(problems: Vec<String>) -> Result<(), CsiError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CsiError::invalid(format!(
            "validation: {}",
            problems.join(", ")
        )))
    }
}

impl Command {
    /// Refuses a command that breaks the rules every request is held to before it becomes a
    /// command. The CSI endpoint checks each command it builds here, and so does a node that
    /// receives a command over the internal API, so nothing unchecked reaches the log.
    pub fn check(&self) -> Result<(), CsiError> {
        match self {
            Command::RegisterVolumes { volumes, .. } => {
                if volumes.is_empty() {
                    return Err(CsiError::invalid("missing volume definition"));
                }
                let mut seen = std::collections::BTreeSet::new();
                for v in volumes {
                    refuse_problems(validate(v, &RawModes::default()))?;
                    if !seen.insert(v.key()) {
                        return Err(CsiError::invalid(format!(
                            "volume {} is listed twice in one request",
                            v.id
                        )));
                    }
                }
                Ok(())
            }
            Command::DeregisterVolume { id, .. } => require_volume_id(id),
            Command::Claim {
                volume_id, request, ..
            } => {
                require_volume_id(volume_id)?;
                refuse_problems(validate_claim(request, &RawModes::default()))
            }
            Command::DetachNode {
                volume_id, node_id, ..
            } => {
                if node_id.is_empty() {
                    return Err(CsiError::invalid("detach requires node ID"));
                }
                require_volume_id(volume_id)
            }
            Command::UpsertPlugin { plugin } => {
                if plugin.id.is_empty() {
                    return Err(CsiError::invalid("missing plugin ID"));
                }
                if let Some(problem) = crate::rules::unaddressable("plugin ID", &plugin.id) {
                    return Err(CsiError::invalid(format!("validation: {problem}")));
                }
                let counts = [
                    plugin.controllers_healthy,
                    plugin.controllers_expected,
                    plugin.nodes_healthy,
                    plugin.nodes_expected,
                ];
                if counts.iter().any(|c| *c < 0) {
                    return Err(CsiError::invalid("plugin health counts cannot be negative"));
                }
                Ok(())
            }
            Command::DeletePlugin { id } if id.is_empty() => {
                Err(CsiError::invalid("missing plugin ID"))
            }
            Command::DeletePlugin { .. } => Ok(()),
            Command::UpsertNamespace { namespace } => crate::model::check_namespace(namespace),
            Command::DeleteNamespace { name } if name.is_empty() => {
                Err(CsiError::invalid("Missing Namespace Name"))
            }
            Command::DeleteNamespace { .. } => Ok(()),
            Command::BootstrapAcl { token, .. } => {
                crate::acl::check_token(token, true)?;
                let bootstrap_shaped = token.kind == crate::acl::TokenKind::Management
                    && token.policies.is_empty()
                    && token.expiration_time.is_none();
                if bootstrap_shaped {
                    Ok(())
                } else {
                    Err(CsiError::invalid(
                        "a bootstrap token is a management token with no policies and no expiry",
                    ))
                }
            }
            Command::UpsertAclTokens { tokens, create } => tokens
                .iter()
                .try_for_each(|t| crate::acl::check_token(t, *create)),
            Command::UpsertAclPolicies { policies } => {
                policies.iter().try_for_each(crate::acl::check_policy)
            }
            Command::DeleteAclPolicies { names } if names.is_empty() => {
                Err(CsiError::invalid("must specify as least one policy"))
            }
            Command::DeleteAclTokens { accessor_ids } if accessor_ids.is_empty() => {
                Err(CsiError::invalid("must specify as least one token"))
            }
            Command::DeleteAclPolicies { .. } | Command::DeleteAclTokens { .. } => Ok(()),
            Command::RestoreTables { tables } => tables.check(),
        }
    }
}

/// What apply answered. Domain rule violations are values here, never storage errors, because
/// openraft stops a node whose apply fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandResponse {
    /// The log index the command was applied at.
    pub index: u64,
    /// The index of the command's table after apply: what the answer reports as
    /// `X-Nomad-Index`. It equals `index` when the command changed something; a no-op (a re-sent
    /// claim) leaves the table at an older index, and a later read must not report less.
    pub table_index: u64,
    pub result: Result<Outcome, DomainError>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The command changed state and has nothing to return (also blank and membership entries).
    Done,
    /// The registered volumes as a reader now sees them, and warnings for the caller (an
    /// unknown plugin, …).
    Registered {
        volumes: Vec<VolumeDetail>,
        warnings: Vec<String>,
    },
    /// The volume after a claim request, as a reader now sees it; `changed` is false for a
    /// re-sent claim or release.
    Claimed {
        volume: Box<VolumeDetail>,
        changed: bool,
    },
    Plugin(Plugin),
    Namespace(Namespace),
    /// Tokens as stored (secrets are never stored; only their hashes).
    AclTokens(Vec<AclToken>),
}
