//! The cluster secret: a shared value every node is configured with. Every call to a node's RPC
//! port must carry it; a call without it is refused (`Unauthenticated`), logged, and changes
//! nothing. It never appears in logs or debug output.

use std::sync::Arc;
use subtle::ConstantTimeEq;
use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

/// The metadata key that carries the secret.
const HEADER: &str = "x-stowage-cluster-secret";

/// The shortest secret accepted: anything shorter is guessable.
pub const MIN_SECRET_LEN: usize = 16;

#[derive(Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ClusterSecret(Arc<str>);

impl TryFrom<String> for ClusterSecret {
    type Error = SecretError;
    fn try_from(s: String) -> Result<Self, SecretError> {
        ClusterSecret::new(&s)
    }
}

impl std::str::FromStr for ClusterSecret {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, SecretError> {
        ClusterSecret::new(s)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the cluster secret must be at least {MIN_SECRET_LEN} characters")]
    TooShort,
    #[error("the cluster secret must be printable ASCII without spaces")]
    NotPrintable,
}

impl ClusterSecret {
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort);
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SecretError::NotPrintable);
        }
        Ok(ClusterSecret(secret.into()))
    }

    /// A fresh random secret (64 hex digits).
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        ClusterSecret(hex(&bytes).into())
    }

    /// The value derived from `material` that every holder of it computes alike (its SHA-256).
    pub(crate) fn derived(material: &[u8]) -> Self {
        use sha2::Digest;
        ClusterSecret(hex(&sha2::Sha256::digest(material)).into())
    }

    /// The secret itself, for writing it where an operator keeps it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Admits a call that carries this secret; refuses and logs any other.
    pub fn admit(&self, req: Request<()>) -> Result<Request<()>, Status> {
        let given = req.metadata().get(HEADER).map(|v| v.as_bytes());
        if given.is_some_and(|g| bool::from(g.ct_eq(self.0.as_bytes()))) {
            return Ok(req);
        }
        let method = req
            .extensions()
            .get::<tonic::GrpcMethod>()
            .map(|m| format!("{}/{}", m.service(), m.method()))
            .unwrap_or_default();
        tracing::warn!(
            peer = ?req.remote_addr(),
            method,
            "refused an RPC {} the cluster secret",
            if given.is_some() { "with a wrong" } else { "without" }
        );
        Err(Status::unauthenticated(
            "this call needs the cluster secret",
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(redacted)")
    }
}

/// Clients add the secret to every call.
impl tonic::service::Interceptor for ClusterSecret {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let value = MetadataValue::try_from(&*self.0)
            .map_err(|_| Status::internal("the cluster secret is not a valid header value"))?;
        req.metadata_mut().insert(HEADER, value);
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    #[test]
    fn admits_only_the_same_secret_and_never_shows_it() {
        let secret = ClusterSecret::new("correct-horse-battery-staple").expect("valid");
        let mut carried = secret.clone();
        let req = carried.call(Request::new(())).expect("adds the header");
        assert!(secret.admit(req).is_ok());
        let mut other = ClusterSecret::new("another-secret-of-some-length").expect("valid");
        let wrong = other.call(Request::new(())).expect("adds the header");
        assert_eq!(
            secret.admit(wrong).expect_err("wrong").code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            secret.admit(Request::new(())).expect_err("none").code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(format!("{secret:?}"), "ClusterSecret(redacted)");
        assert_eq!(
            ClusterSecret::new("short").err(),
            Some(SecretError::TooShort)
        );
        assert_eq!(
            ClusterSecret::new("a secret with spaces").err(),
            Some(SecretError::NotPrintable)
        );
        assert_eq!(ClusterSecret::generate().expose().len(), 64);
    }
}
