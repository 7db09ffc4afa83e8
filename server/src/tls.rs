//! A node's TLS settings, from flags, environment variables and the config file's `[tls]` table
//! (Nomad's names): one CA, certificate and key serve both ports, mutual TLS on the RPC port
//! always, HTTPS on the API port, with client certificates required when `verify_https_client`.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::PathBuf;
use stowage_http_gateway::Https;
use stowage_raft::{RpcTls, TlsFiles};

/// The CA, a certificate it signed and that certificate's key: a node's, which turn TLS on for
/// both its ports, or an operator's, for the RPC commands. The same variables serve both, so
/// operator commands run on a node find its own.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsFileArgs {
    /// The cluster's CA certificate (PEM): it signed every node's certificate, and every
    /// client's that `--tls-verify-https-client` admits.
    #[arg(long, env = "STOWAGE_TLS_CA_FILE", global = true)]
    pub tls_ca_file: Option<PathBuf>,
    /// A certificate the CA signed (PEM); a node's must name `server.global.stowage`.
    #[arg(long, env = "STOWAGE_TLS_CERT_FILE", global = true)]
    pub tls_cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "STOWAGE_TLS_KEY_FILE", global = true)]
    pub tls_key_file: Option<PathBuf>,
}

impl TlsFileArgs {
    /// All three files (each flag first, then `file`'s value), or None when none is named.
    pub fn files(self, file: FileTls) -> anyhow::Result<Option<TlsFiles>> {
        let ca = self.tls_ca_file.or(file.ca_file);
        let cert = self.tls_cert_file.or(file.cert_file);
        let key = self.tls_key_file.or(file.key_file);
        match (ca, cert, key) {
            (None, None, None) => Ok(None),
            (Some(ca_file), Some(cert_file), Some(key_file)) => Ok(Some(TlsFiles {
                ca_file,
                cert_file,
                key_file,
            })),
            _ => bail!("TLS needs all three of ca_file, cert_file and key_file"),
        }
    }
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    #[command(flatten)]
    pub files: TlsFileArgs,
    /// Require HTTPS clients to present a certificate the CA signed.
    #[arg(long, env = "STOWAGE_TLS_VERIFY_HTTPS_CLIENT")]
    pub tls_verify_https_client: bool,
}

/// The config file's `[tls]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    verify_https_client: bool,
}

/// A node's loaded TLS material.
#[derive(Clone, Debug)]
pub struct NodeTls {
    pub files: TlsFiles,
    pub rpc: RpcTls,
    pub https: Https,
    pub verify_https_client: bool,
}

impl TlsArgs {
    /// TLS as configured (flags first, then the file), or None when no file names it.
    pub fn resolve(self, file: FileTls) -> anyhow::Result<Option<NodeTls>> {
        let verify_https_client = self.tls_verify_https_client || file.verify_https_client;
        let Some(files) = self.files.files(file)? else {
            if verify_https_client {
                bail!("verify_https_client needs TLS: set ca_file, cert_file and key_file");
            }
            return Ok(None);
        };
        let rpc = RpcTls::load(&files)?;
        let read = |path: &PathBuf| {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        };
        let ca = read(&files.ca_file)?;
        let https = Https::from_pem(
            &read(&files.cert_file)?,
            &read(&files.key_file)?,
            verify_https_client.then_some(ca.as_slice()),
        )
        .context("TLS on the HTTP port")?;
        Ok(Some(NodeTls {
            files,
            rpc,
            https,
            verify_https_client,
        }))
    }
}

/// A client builder for a cluster's HTTPS ports: it trusts only the cluster's CA, and presents
/// `files`' certificate to nodes that verify HTTPS clients.
pub fn https_client(files: &TlsFiles) -> anyhow::Result<reqwest::ClientBuilder> {
    stowage_cli::tls_client_builder(
        Some(&files.ca_file),
        Some((&files.cert_file, &files.key_file)),
    )
    .map_err(anyhow::Error::msg)
}
