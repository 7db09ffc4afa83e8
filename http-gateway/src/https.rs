//! HTTPS for the API port (rustls): the node's certificate, and optionally a requirement that
//! every client present one the cluster's CA signed (Nomad's `verify_https_client`).

use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

/// A ready TLS acceptor for the API port.
#[derive(Clone)]
pub struct Https {
    pub(crate) acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Https {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Https")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("the {what} is not PEM: {source}")]
    Pem {
        what: &'static str,
        source: rustls::pki_types::pem::Error,
    },
    #[error("the certificate file holds no certificate")]
    NoCertificate,
    #[error("the CA file: {0}")]
    Ca(rustls::Error),
    #[error("client verification: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("the certificate and key: {0}")]
    Identity(rustls::Error),
}

impl Https {
    /// From PEM texts: the node's certificate chain and key, and, to require client
    /// certificates, the CA that must have signed them.
    pub fn from_pem(
        cert: &[u8],
        key: &[u8],
        client_ca: Option<&[u8]>,
    ) -> Result<Https, HttpsError> {
        let pem = |what| move |source| HttpsError::Pem { what, source };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<_, _>>()
            .map_err(pem("certificate file"))?;
        if chain.is_empty() {
            return Err(HttpsError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(pem("key file"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(HttpsError::Identity)?;
        let builder = match client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(ca) {
                    roots
                        .add(c.map_err(pem("CA file"))?)
                        .map_err(HttpsError::Ca)?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(HttpsError::Identity)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Https {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}
