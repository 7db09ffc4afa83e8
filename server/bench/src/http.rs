//! One kept-alive HTTP/1.1 connection per client and node, as `wrk` or `hey` hold them: the load
//! generator's cost per request is a write and a read on a socket, the same for both systems.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// One request, ready to be sent any number of times.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: Method,
    /// Path and query.
    pub path: String,
    pub body: Bytes,
}

impl Req {
    pub fn get(path: impl Into<String>) -> Req {
        Req {
            method: Method::GET,
            path: path.into(),
            body: Bytes::new(),
        }
    }

    pub fn with_body(method: Method, path: impl Into<String>, body: impl Into<Bytes>) -> Req {
        Req {
            method,
            path: path.into(),
            body: body.into(),
        }
    }
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// `X-Nomad-Index`, where the server sent one.
    pub index: Option<u64>,
    pub body: Bytes,
}

/// Why a request got no answer. Only the load generator's bookkeeping looks at it: a request
/// without an answer counts as an error, never as a latency.
#[derive(Debug, thiserror::Error)]
pub enum Failed {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("HTTP: {0}")]
    Http(hyper::Error),
    #[error("no answer in time")]
    TimedOut,
    #[error("cannot build the request: {0}")]
    Build(hyper::http::Error),
}

/// A connection to one address that reconnects when the last one broke.
pub struct Conn {
    addr: SocketAddr,
    /// The Host header, built once: cloning it shares its bytes.
    host: hyper::header::HeaderValue,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            // An address written out is always a valid header value; the fallback never runs.
            host: hyper::header::HeaderValue::from_str(&addr.to_string())
                .unwrap_or_else(|_| hyper::header::HeaderValue::from_static("localhost")),
            sender: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connects now rather than at the first request.
    pub async fn open(&mut self) -> Result<(), Failed> {
        self.connect().await.map(|_| ())
    }

    async fn connect(&mut self) -> Result<&mut http1::SendRequest<Full<Bytes>>, Failed> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(Failed::Connect)?;
            stream.set_nodelay(true).map_err(Failed::Connect)?;
            let (sender, conn) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(Failed::Http)?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or(Failed::Connect(std::io::ErrorKind::NotConnected.into()))
    }

    /// Sends `req` and reads the whole answer, within `limit`.
    pub async fn send(&mut self, req: &Req, limit: Duration) -> Result<Answer, Failed> {
        match tokio::time::timeout(limit, self.exchange(req)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                // The connection may still carry the late answer; a fresh one cannot mix it up.
                self.sender = None;
                Err(Failed::TimedOut)
            }
        }
    }

    async fn exchange(&mut self, req: &Req) -> Result<Answer, Failed> {
        let host = self.host.clone();
        let sender = self.connect().await?;
        sender.ready().await.map_err(Failed::Http)?;
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(req.path.as_str())
            .header(hyper::header::HOST, host);
        if !req.body.is_empty() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(req.body.clone()))
            .map_err(Failed::Build)?;
        let response = sender.send_request(request).await.map_err(Failed::Http)?;
        let status = response.status();
        let index = response
            .headers()
            .get("x-nomad-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(Failed::Http)?
            .to_bytes();
        Ok(Answer {
            status,
            index,
            body,
        })
    }
}
