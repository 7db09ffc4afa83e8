//! Mutual TLS on the RPC port: every node presents its certificate and requires its peer's, both
//! signed by the cluster's CA, so only members can send Raft traffic or forwarded writes.
//! Clients check that a server's certificate names `SERVER_NAME`, as Nomad's do with
//! `server.<region>.nomad`, so one CA can also sign certificates for clients that are not
//! servers.

use crate::secret::ClusterSecret;
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The name every node's certificate carries and every client checks.
pub const SERVER_NAME: &str = "server.global.stowage";

/// How long a caller of the RPC port may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where a node's TLS material lives, all PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the TLS {what} {path} holds no PEM block")]
    NotPem { what: &'static str, path: PathBuf },
}

/// A node's loaded TLS material, for its gRPC server and its clients of peers.
#[derive(Clone, Debug)]
pub struct RpcTls {
    ca_pem: Vec<u8>,
    identity: Identity,
}

fn read_pem(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(TlsError::NotPem {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

impl RpcTls {
    pub fn load(files: &TlsFiles) -> Result<RpcTls, TlsError> {
        let ca_pem = read_pem("CA file", &files.ca_file)?;
        let cert = read_pem("certificate file", &files.cert_file)?;
        let key = read_pem("key file", &files.key_file)?;
        Ok(RpcTls {
            ca_pem,
            identity: Identity::from_pem(cert, key),
        })
    }

    /// Requires every caller to present a certificate the cluster's CA signed, within
    /// `HANDSHAKE_TIMEOUT`: a caller that never finishes its handshake holds nothing for long.
    pub(crate) fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
            .timeout(HANDSHAKE_TIMEOUT)
    }

    /// Presents this node's certificate and accepts only a server the cluster's CA signed for
    /// `SERVER_NAME`.
    pub(crate) fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(self.identity.clone())
            .domain_name(SERVER_NAME)
    }

    /// The value members share as their cluster secret when none is configured: with TLS on,
    /// the certificates authenticate peers, and every member holds the CA certificate this is
    /// derived from. (It is no secret: it only lets the secret check pass between members.)
    /// Whitespace is left out, so copies that differ only in line endings or a final newline
    /// agree; a file holding other or more certificates derives another value.
    pub fn derived_secret(&self) -> ClusterSecret {
        let text: Vec<u8> = self
            .ca_pem
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        ClusterSecret::derived(&text)
    }
}
