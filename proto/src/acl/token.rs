//! ACL policies and tokens as the state holds them, and the token a caller presents. A token's
//! secret is never stored: only its SHA-256, which is what a presented secret is looked up by.

use super::policy::PolicyRules;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A named set of rules. `rules` is the text as written; `compiled` what it grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclPolicy {
    pub name: String,
    pub description: String,
    pub rules: String,
    pub compiled: PolicyRules,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Client,
    Management,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Client => "client",
            TokenKind::Management => "management",
        }
    }
}

/// A token as stored: its public accessor, the hash of its secret, and what it grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclToken {
    pub accessor_id: String,
    /// SHA-256 of the secret, in hex.
    pub secret_hash: String,
    pub name: String,
    pub kind: TokenKind,
    pub policies: Vec<String>,
    pub global: bool,
    /// When it was created, in nanoseconds since the epoch (stamped by the node that made it).
    pub create_time: i64,
    /// When it stops being valid, in nanoseconds since the epoch.
    pub expiration_time: Option<i64>,
    /// The time to live it was created with, in nanoseconds (0: none).
    pub expiration_ttl: i64,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AclToken {
    /// Expired at `now` (nanoseconds since the epoch)?
    pub fn expired(&self, now: i64) -> bool {
        self.expiration_time.is_some_and(|t| t <= now)
    }
}

/// The token a caller presented, read from `X-Nomad-Token` or `Authorization: Bearer`. Its
/// secret never shows in debug output.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token(Option<String>);

impl Token {
    /// No token: the caller is anonymous.
    pub fn anonymous() -> Self {
        Token(None)
    }

    pub fn secret(secret: impl Into<String>) -> Self {
        let s = secret.into();
        Token((!s.is_empty()).then_some(s))
    }

    /// The caller as a command carries it for apply to check: the secret's hash, never the
    /// secret.
    pub fn proposer(&self) -> crate::Proposer {
        match self.presented() {
            None => crate::Proposer::Anonymous,
            Some(secret) => crate::Proposer::Token {
                secret_hash: hash_secret(secret),
            },
        }
    }

    /// The secret presented, if any.
    pub fn presented(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Token(redacted)"
        } else {
            "Token(anonymous)"
        })
    }
}

/// The SHA-256 of a secret, in hex: how a secret is stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random UUID, Nomad's shape for accessors and secrets.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Nomad's tokens are UUIDs; anything else is no token of ours.
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// Refuses a token Nomad would refuse, with Nomad's texts. A new token (`create`) must carry
/// its secret's hash; an update takes the stored one.
pub fn check_token(t: &AclToken, create: bool) -> Result<(), crate::api::CsiError> {
    let mut errs = Vec::new();
    if t.accessor_id.is_empty() || (create && t.secret_hash.is_empty()) {
        errs.push("token has no accessor or secret".to_string());
    }
    if t.name.len() > 256 {
        errs.push("token name too long".into());
    }
    match (t.kind, t.policies.is_empty()) {
        (TokenKind::Client, true) => errs.push("client token missing policies or roles".into()),
        (TokenKind::Management, false) => {
            errs.push("management token cannot be associated with policies or roles".into())
        }
        _ => {}
    }
    token_problems(errs)
}

/// Nomad's refusal of a token: `token 0 invalid: <the problems, as go-multierror lists them>`.
pub fn token_problems(errs: Vec<String>) -> Result<(), crate::api::CsiError> {
    refuse("token", errs)
}

fn refuse(what: &str, errs: Vec<String>) -> Result<(), crate::api::CsiError> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(crate::api::CsiError::invalid(format!(
            "{what} 0 invalid: {}",
            crate::rules::multierror(&errs)
        )))
    }
}

/// Refuses a policy Nomad would refuse, with Nomad's texts.
pub fn check_policy(p: &AclPolicy) -> Result<(), crate::api::CsiError> {
    let mut errs = Vec::new();
    if !crate::model::valid_name(&p.name) {
        errs.push(format!("invalid name '{}'", p.name));
    }
    if p.description.len() > 256 {
        errs.push("description longer than 256".into());
    }
    match super::parse_rules(&p.rules) {
        Err(e) => errs.push(format!("failed to parse rules: {e}")),
        // What is enforced must be what was written.
        Ok(compiled) if compiled != p.compiled => {
            errs.push("the compiled rules do not match the rules".into())
        }
        Ok(_) => {}
    }
    policy_problems(errs)
}

/// Nomad's refusal of a policy: `policy 0 invalid: <the problems, as go-multierror lists them>`.
pub fn policy_problems(errs: Vec<String>) -> Result<(), crate::api::CsiError> {
    refuse("policy", errs)
}

/// Compiles a policy's rules, refused as Nomad refuses them.
pub fn compile_policy_rules(rules: &str) -> Result<super::PolicyRules, crate::api::CsiError> {
    super::parse_rules(rules).or_else(|e| {
        policy_problems(vec![format!("failed to parse rules: {e}")])?;
        Ok(super::PolicyRules::default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hashed_and_redacted() {
        let secret = new_uuid();
        assert!(is_uuid(&secret));
        assert!(!is_uuid("not-a-uuid"));
        assert_eq!(hash_secret(&secret).len(), 64);
        assert_ne!(hash_secret(&secret), hash_secret(&new_uuid()));
        assert_eq!(format!("{:?}", Token::secret(&secret)), "Token(redacted)");
        assert_eq!(Token::secret(""), Token::anonymous());
    }
}
