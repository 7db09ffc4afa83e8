//! The ACL and namespace operations' requests and answers, in Nomad's JSON shapes. A token's
//! secret appears in an answer once: when the token is made (bootstrap or create). Every other
//! answer shows it empty, because only its hash is stored.

use super::error::CsiError;
use super::request::QueryOptions;
use crate::acl::{AclPolicy, AclToken, PolicyRules, TokenKind, token_problems};
use crate::model::Namespace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Go's `time.Duration.String()`: `1m0s`, `24h0m0s`, `1.5s`, `0s`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let mut n = ns.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, div) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", trim_fraction(n, div));
    }
    let h = n / 3_600_000_000_000;
    n %= 3_600_000_000_000;
    let m = n / 60_000_000_000;
    n %= 60_000_000_000;
    let s = trim_fraction(n, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, m) => format!("{sign}{m}m{s}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}s"),
    }
}

/// `n / div` with its fraction, trailing zeros dropped: `1500, 1000` → `1.5`.
fn trim_fraction(n: u64, div: u64) -> String {
    let whole = n / div;
    let frac = n % div;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = div.to_string().len() - 1;
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Nanoseconds since the epoch as Go's RFC 3339 with nanoseconds.
pub fn rfc3339(ns: i64) -> String {
    let full = chrono::DateTime::from_timestamp_nanos(ns)
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    // Go writes the fraction with its trailing zeros dropped, and no dot when nothing is left.
    let stamp = full.trim_end_matches('Z').trim_end_matches('0');
    format!("{}Z", stamp.trim_end_matches('.'))
}

/// A short, stable digest of a record's fields, standing in for Nomad's `Hash`.
fn hash(parts: &[&str]) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Nomad's `ACLPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiAclPolicy {
    pub name: String,
    pub description: String,
    pub rules: String,
    /// The rules as read: per namespace its expanded capabilities, and the plugin policy.
    #[serde(rename = "RulesJSON")]
    pub rules_json: serde_json::Value,
    #[serde(rename = "JobACL")]
    pub job_acl: Option<serde_json::Value>,
    pub hash: String,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Nomad's `acl.Policy` as it shows a policy's compiled rules: only the blocks stowage uses.
fn rules_json(rules: &PolicyRules) -> serde_json::Value {
    let namespaces: Vec<serde_json::Value> = rules
        .namespaces
        .iter()
        .map(|(name, caps)| serde_json::json!({"Name": name, "Capabilities": caps}))
        .collect();
    serde_json::json!({
        "Namespaces": (!namespaces.is_empty()).then_some(namespaces),
        "Plugin": rules.plugin.map(|p| serde_json::json!({"Policy": p})),
    })
}

/// Nomad's `ACLPolicyListStub`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclPolicyStub {
    pub name: String,
    pub description: String,
    #[serde(rename = "JobACL")]
    pub job_acl: Option<serde_json::Value>,
    pub hash: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl ApiAclPolicy {
    pub fn from_policy(p: &AclPolicy) -> Self {
        ApiAclPolicy {
            name: p.name.clone(),
            description: p.description.clone(),
            rules: p.rules.clone(),
            rules_json: rules_json(&p.compiled),
            job_acl: None,
            hash: hash(&[&p.name, &p.description, &p.rules]),
            create_index: p.create_index,
            modify_index: p.modify_index,
        }
    }

    pub fn stub(&self) -> AclPolicyStub {
        AclPolicyStub {
            name: self.name.clone(),
            description: self.description.clone(),
            job_acl: None,
            hash: self.hash.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// Nomad's `ACLToken`. `SecretID` is filled in only in the answer that made the token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiAclToken {
    #[serde(rename = "ExpirationTTL")]
    pub expiration_ttl: String,
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    pub name: String,
    pub r#type: String,
    pub policies: Option<Vec<String>>,
    pub roles: Option<Vec<serde_json::Value>>,
    pub global: bool,
    /// Null for the built-in anonymous and ACLs-disabled tokens, as in Nomad.
    pub hash: Option<String>,
    pub create_time: String,
    pub expiration_time: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Nomad's `ACLTokenListStub`: no secret, no TTL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclTokenStub {
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    pub name: String,
    pub r#type: String,
    pub policies: Option<Vec<String>>,
    pub roles: Option<Vec<serde_json::Value>>,
    pub global: bool,
    pub hash: Option<String>,
    pub create_time: String,
    pub expiration_time: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl ApiAclToken {
    /// The token as readers see it; `secret` is the plaintext, known only when it was just made.
    pub fn from_token(t: &AclToken, secret: Option<&str>) -> Self {
        let policies = (!t.policies.is_empty()).then(|| t.policies.clone());
        ApiAclToken {
            expiration_ttl: if t.expiration_ttl == 0 {
                String::new()
            } else {
                go_duration(t.expiration_ttl)
            },
            accessor_id: t.accessor_id.clone(),
            secret_id: secret.unwrap_or_default().to_string(),
            name: t.name.clone(),
            r#type: t.kind.as_str().to_string(),
            hash: Some(hash(&[
                &t.name,
                t.kind.as_str(),
                &t.policies.join("\0"),
                if t.global { "global" } else { "local" },
            ])),
            policies,
            roles: None,
            global: t.global,
            create_time: rfc3339(t.create_time),
            expiration_time: t.expiration_time.map(rfc3339),
            create_index: t.create_index,
            modify_index: t.modify_index,
        }
    }

    /// Nomad's anonymous token: what a caller with no token is.
    pub fn anonymous() -> Self {
        ApiAclToken {
            expiration_ttl: String::new(),
            accessor_id: "anonymous".into(),
            secret_id: String::new(),
            name: "Anonymous Token".into(),
            r#type: "client".into(),
            policies: Some(vec!["anonymous".into()]),
            roles: None,
            global: false,
            hash: None,
            create_time: super::GO_ZERO_TIME.to_string(),
            expiration_time: None,
            create_index: 0,
            modify_index: 0,
        }
    }

    /// Nomad's answer to "who am I" when ACLs are off.
    pub fn acls_disabled() -> Self {
        ApiAclToken {
            accessor_id: "acls-disabled".into(),
            name: "ACLs disabled token".into(),
            policies: None,
            ..Self::anonymous()
        }
    }

    pub fn stub(&self) -> AclTokenStub {
        AclTokenStub {
            accessor_id: self.accessor_id.clone(),
            name: self.name.clone(),
            r#type: self.r#type.clone(),
            policies: self.policies.clone(),
            roles: None,
            global: self.global,
            hash: self.hash.clone(),
            create_time: self.create_time.clone(),
            expiration_time: self.expiration_time.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// Nomad's `Namespace`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiNamespace {
    pub name: String,
    pub description: String,
    pub quota: String,
    pub capabilities: Option<serde_json::Value>,
    pub node_pool_configuration: Option<serde_json::Value>,
    pub vault_configuration: Option<serde_json::Value>,
    pub consul_configuration: Option<serde_json::Value>,
    pub meta: Option<BTreeMap<String, String>>,
    pub hash: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl ApiNamespace {
    pub fn from_namespace(n: &Namespace) -> Self {
        let meta: Vec<String> = n
            .meta
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        ApiNamespace {
            name: n.name.clone(),
            description: n.description.clone(),
            quota: String::new(),
            capabilities: None,
            node_pool_configuration: None,
            vault_configuration: None,
            consul_configuration: None,
            meta: n.meta.clone(),
            hash: hash(&[&n.name, &n.description, &meta.join("\0")]),
            create_index: n.create_index,
            modify_index: n.modify_index,
        }
    }
}

/// `POST /v1/acl/bootstrap`: the secret to give the first token, if the caller chose one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapRequest {
    pub bootstrap_secret: Option<String>,
}

/// A policy to write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclPolicySpec {
    pub name: String,
    pub description: String,
    pub rules: String,
}

/// A token to create (no accessor) or update (its accessor).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclTokenSpec {
    pub accessor_id: String,
    pub name: String,
    /// `client` or `management`, as written.
    pub kind: String,
    pub policies: Vec<String>,
    pub global: bool,
    /// Nanoseconds; 0 is none.
    pub expiration_ttl: i64,
    /// An RFC 3339 time, if the caller named one.
    pub expiration_time: Option<String>,
}

/// The shortest and the longest time a token may be made to live, as Nomad's defaults.
pub const MIN_TOKEN_TTL_NS: i64 = 60_000_000_000;
pub const MAX_TOKEN_TTL_NS: i64 = 24 * 3_600_000_000_000;

impl AclTokenSpec {
    fn kind(&self) -> Result<TokenKind, CsiError> {
        match self.kind.as_str() {
            "client" => Ok(TokenKind::Client),
            "management" => Ok(TokenKind::Management),
            _ => Err(
                token_problems(vec!["token type must be client or management".into()])
                    .err()
                    .unwrap_or(CsiError::PermissionDenied),
            ),
        }
    }

    fn expiration_time(&self) -> Result<Option<i64>, CsiError> {
        let Some(text) = self.expiration_time.as_deref() else {
            return Ok(None);
        };
        let at = chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| CsiError::invalid(format!("invalid ExpirationTime {text:?}: {e}")))?;
        // Go's zero time is no time.
        if at.timestamp()
            <= chrono::DateTime::parse_from_rfc3339(super::GO_ZERO_TIME)
                .map_or(0, |z| z.timestamp())
        {
            return Ok(None);
        }
        at.timestamp_nanos_opt()
            .map(Some)
            .ok_or_else(|| CsiError::invalid(format!("ExpirationTime {text:?} is out of range")))
    }

    fn token(&self, kind: TokenKind) -> Result<AclToken, CsiError> {
        Ok(AclToken {
            accessor_id: self.accessor_id.clone(),
            secret_hash: String::new(),
            name: self.name.clone(),
            kind,
            policies: self.policies.clone(),
            global: self.global,
            create_time: 0,
            expiration_time: self.expiration_time()?,
            expiration_ttl: self.expiration_ttl,
            create_index: 0,
            modify_index: 0,
        })
    }

    /// A new token from this spec, known by `accessor` and `secret_hash`, made at `now`. Its
    /// expiry, from a TTL or a time, must fall between 1 minute and 24 hours after `now`.
    pub fn create(
        &self,
        accessor: String,
        secret_hash: String,
        now: i64,
    ) -> Result<AclToken, CsiError> {
        let mut t = self.token(self.kind()?)?;
        t.accessor_id = accessor;
        t.secret_hash = secret_hash;
        t.create_time = now;
        let mut errs = Vec::new();
        if t.expiration_ttl < 0 {
            errs.push(format!(
                "token expiration TTL '{}' should not be negative",
                go_duration(t.expiration_ttl)
            ));
        } else if t.expiration_time.is_none() && t.expiration_ttl > 0 {
            t.expiration_time = Some(now.saturating_add(t.expiration_ttl));
        }
        if let Some(at) = t.expiration_time {
            // Saturating: a time centuries away must be refused, not overflow.
            let lives = at.saturating_sub(now);
            if lives < 0 {
                errs.push("expiration time cannot be before create time".into());
            } else if lives > MAX_TOKEN_TTL_NS {
                errs.push(format!(
                    "expiration time cannot be more than {} in the future (was {})",
                    go_duration(MAX_TOKEN_TTL_NS),
                    go_duration(lives)
                ));
            } else if lives < MIN_TOKEN_TTL_NS {
                errs.push(format!(
                    "expiration time cannot be less than {} in the future (was {})",
                    go_duration(MIN_TOKEN_TTL_NS),
                    go_duration(lives)
                ));
            }
        }
        token_problems(errs)?;
        Ok(t)
    }

    /// The update this spec makes to the token with its accessor; apply keeps what an update
    /// may not change and refuses a change to the scope or the expiry.
    pub fn update(&self) -> Result<AclToken, CsiError> {
        self.token(self.kind()?)
    }
}

/// A namespace to write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceSpec {
    pub name: String,
    pub description: String,
    pub quota: String,
    pub meta: Option<BTreeMap<String, String>>,
}

/// A list of ACL records or namespaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedListQuery {
    pub prefix: Option<String>,
    pub options: QueryOptions,
}

/// One ACL record or namespace, by name (or a token by accessor).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedQuery {
    pub name: String,
    pub options: QueryOptions,
}

/// A token just written, with its secret when it was just made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenWritten {
    pub token: ApiAclToken,
    pub index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_read_as_go_writes_them() {
        assert_eq!(go_duration(60_000_000_000), "1m0s");
        assert_eq!(go_duration(86_400_000_000_000), "24h0m0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(30_000_000_000), "30s");
        assert_eq!(go_duration(36_000_000_000_000), "10h0m0s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500_000_000), "1970-01-01T00:00:01.5Z");
    }
}
