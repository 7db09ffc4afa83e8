//! Talking to a node's HTTP API as Nomad's CLI does: the address and token from flags or
//! `NOMAD_ADDR`/`NOMAD_TOKEN`, HTTPS with Nomad's `NOMAD_CACERT`, `NOMAD_CLIENT_CERT`,
//! `NOMAD_CLIENT_KEY` and `NOMAD_TLS_SERVER_NAME`, and every refusal turned into one line with
//! the server's message.

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where the API is and who is calling: every command takes these.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The address of any node's HTTP API.
    #[arg(
        long,
        env = "NOMAD_ADDR",
        default_value = "http://127.0.0.1:4646",
        global = true
    )]
    pub address: String,
    /// The ACL token's secret ID.
    #[arg(long, env = "NOMAD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// The CA certificate (PEM) to verify the server's HTTPS certificate with.
    #[arg(long, env = "NOMAD_CACERT", global = true)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// A client certificate (PEM), for servers that verify HTTPS clients.
    #[arg(
        long,
        env = "NOMAD_CLIENT_CERT",
        global = true,
        requires = "client_key"
    )]
    pub client_cert: Option<std::path::PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(
        long,
        env = "NOMAD_CLIENT_KEY",
        global = true,
        requires = "client_cert"
    )]
    pub client_key: Option<std::path::PathBuf>,
    /// The name to expect in the server's certificate, when the address does not carry it
    /// (for example `server.global.stowage`).
    #[arg(long, env = "NOMAD_TLS_SERVER_NAME", global = true)]
    pub tls_server_name: Option<String>,
}

/// An HTTP client builder that trusts only `ca` (when given; else the built-in roots) and
/// presents `identity`, a certificate and its key, to servers that verify clients. The CLI, the
/// gateway in front of a cluster and the containers' health check all build their clients here.
pub fn tls_client_builder(
    ca: Option<&std::path::Path>,
    identity: Option<(&std::path::Path, &std::path::Path)>,
) -> Result<reqwest::ClientBuilder, String> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let mut b = reqwest::Client::builder().use_rustls_tls();
    if let Some(ca) = ca {
        let ca = reqwest::Certificate::from_pem(&read(ca)?)
            .map_err(|e| format!("the CA certificate: {e}"))?;
        b = b.tls_built_in_root_certs(false).add_root_certificate(ca);
    }
    if let Some((cert, key)) = identity {
        let mut pem = read(cert)?;
        pem.extend(read(key)?);
        let id = reqwest::Identity::from_pem(&pem)
            .map_err(|e| format!("the client certificate: {e}"))?;
        b = b.identity(id);
    }
    Ok(b)
}

/// An HTTP client for `base` with the TLS material `args` names.
fn http_client(args: &ApiArgs, base: &str) -> Result<reqwest::Client, ApiError> {
    let identity = args.client_cert.as_deref().zip(args.client_key.as_deref());
    let mut b =
        tls_client_builder(args.ca_cert.as_deref(), identity).map_err(ApiError::Transport)?;
    // A server name other than the address's host: send to the address, verify the name.
    if let Some(name) = &args.tls_server_name {
        let url = reqwest::Url::parse(base)
            .map_err(|e| ApiError::Transport(format!("address {base}: {e}")))?;
        let addrs = url
            .socket_addrs(|| None)
            .map_err(|e| ApiError::Transport(format!("address {base}: {e}")))?;
        b = b.resolve_to_addrs(name, &addrs);
    }
    b.build()
        .map_err(|e| ApiError::Transport(format!("cannot build an HTTP client: {e}")))
}

/// Why a call did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The node answered with an error status; `message` is its body, on one line.
    #[error("{message} (HTTP {status})")]
    Refused { status: StatusCode, message: String },
    /// No answer: the node could not be reached, or the answer could not be read.
    #[error("{0}")]
    Transport(String),
}

impl ApiError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Refused { status, .. } => Some(*status),
            ApiError::Transport(_) => None,
        }
    }
}

/// A server message on one line: Nomad's multi-errors come as `…:\n\t* a\n\t* b\n\n`.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(args: &ApiArgs) -> Result<Self, ApiError> {
        let base = args.address.trim_end_matches('/');
        let base = if base.contains("://") {
            base.to_string()
        } else {
            format!("http://{base}")
        };
        let http = http_client(args, &base)?;
        // The requests go to the server name, which `http_client` resolves to the address.
        let named = args.tls_server_name.as_ref().and_then(|name| {
            let mut url = reqwest::Url::parse(&base).ok()?;
            url.set_host(Some(name)).ok()?;
            Some(url.as_str().trim_end_matches('/').to_string())
        });
        let base = named.unwrap_or(base);
        Ok(Client {
            base,
            token: args.token.clone().filter(|t| !t.is_empty()),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (with its query) carrying the token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("X-Nomad-Token", t);
        }
        req
    }

    /// Sends `req`; an error status becomes `ApiError::Refused` with the server's message.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        let resp = req.send().await.map_err(|e| {
            ApiError::Transport(format!(
                "cannot reach {}: {}",
                self.base,
                one_line(&e.to_string())
            ))
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        let message = if body.trim().is_empty() {
            status
                .canonical_reason()
                .unwrap_or("error without a message")
                .to_string()
        } else {
            one_line(&body)
        };
        Err(ApiError::Refused { status, message })
    }

    async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ApiError> {
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(format!("reading the answer: {e}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::Transport(format!("the answer is not what was expected: {e}")))
    }

    /// `GET path` decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        Self::decode(self.send(self.request(Method::GET, path)).await?).await
    }

    /// `method path` with a JSON body; the answer's body, if any, as JSON.
    pub async fn write<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<serde_json::Value>, ApiError> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        let bytes = self
            .send(req)
            .await?
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(format!("reading the answer: {e}")))?;
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ApiError::Transport(format!("the answer is not JSON: {e}")))
    }
}

/// A path segment or query value, percent-encoded.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fold_onto_one_line() {
        assert_eq!(
            one_line("unable to update volume: 2 errors occurred:\n\t* a\n\t* b\n\n"),
            "unable to update volume: 2 errors occurred: * a * b"
        );
    }

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(encode("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(encode("vol-1_x.y~z"), "vol-1_x.y~z");
    }
}
