//! What one node allows one client, each configurable and each answered with a clear status: a
//! body larger than the limit (413) or slower than the body timeout (408), headers larger than
//! the limit (431, from hyper), more connections from one address than allowed (429), and a
//! client that does not finish sending its headers within the header timeout (the connection is
//! closed: a slow-loris client cannot hold one open). Blocking queries are bounded by the node
//! itself (`too-many-watchers`).

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower_http::timeout::TimeoutBody;

/// The limits of one node's HTTP port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// The largest request head (request line and headers), in bytes; at least 8 KiB.
    pub max_header_bytes: usize,
    /// Connections one client address may hold open at once (Nomad's default is 100).
    pub max_conns_per_ip: usize,
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may stay idle waiting for the next request.
    pub header_timeout: Duration,
    /// How long a request body may go without sending anything.
    pub body_timeout: Duration,
}

/// hyper's smallest read buffer.
pub const MIN_HEADER_BYTES: usize = 8 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: crate::body::MAX_BODY,
            max_header_bytes: 64 * 1024,
            max_conns_per_ip: 100,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Middleware: refuses a body declared larger than the limit before reading it, and makes one
/// that turns out larger, or stalls, fail as it is read (see `read_failure`).
pub(crate) async fn bodies(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A snapshot restore carries a whole cluster; it has its own, larger bound.
    let max = if req.uri().path() == crate::snapshot::PATH {
        crate::snapshot::MAX_ARCHIVE
    } else {
        limits.max_body
    };
    if declared.is_some_and(|n| n > max as u64) {
        return ApiError::TooLarge.into_response();
    }
    let req = req.map(|body| {
        Body::new(Limited::new(
            TimeoutBody::new(limits.body_timeout, body),
            max,
        ))
    });
    next.run(req).await
}

/// What reading a body that failed means: too slow (408) when its timeout fired, else too
/// large (the length limit, or a body cut off by the client).
pub(crate) fn read_failure(e: axum::Error) -> ApiError {
    // The timeout is wrapped once per body layer: look through the whole chain.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::BodyTimeout;
        }
        cause = err.source();
    }
    ApiError::TooLarge
}

/// Open connections per client address, for `max_conns_per_ip`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionCounts {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One admitted connection: its address's count goes down when this is dropped.
pub(crate) struct Admitted {
    counts: ConnectionCounts,
    ip: IpAddr,
}

impl ConnectionCounts {
    /// Counts a new connection from `ip`, unless that address already holds `limit`.
    pub(crate) fn admit(&self, ip: IpAddr, limit: usize) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(Admitted {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_per_address_and_released_on_drop() {
        let counts = ConnectionCounts::default();
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let first = counts.admit(a, 2).expect("first");
        let second = counts.admit(a, 2).expect("second");
        assert!(
            counts.admit(a, 2).is_none(),
            "a third from the same address"
        );
        assert!(
            counts.admit(b, 2).is_some(),
            "another address has its own count"
        );
        drop(first);
        let third = counts.admit(a, 2).expect("a place was freed");
        drop((second, third));
        assert!(counts.open.lock().expect("lock").is_empty());
    }
}
