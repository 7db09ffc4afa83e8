//! Talking to a node's HTTP API as Nomad's CLI does: the address and token from flags or
//! `NOMAD_ADDR`/`NOMAD_TOKEN`, and every refusal turned into one line with the server's message.

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
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ApiError::Transport(format!("cannot build an HTTP client: {e}")))?;
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
