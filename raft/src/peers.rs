//! How a node reaches its peers: one reusable gRPC channel per peer address (over mutual TLS when
//! the node has certificates), dialled by our own connector (so a failure to connect is a typed
//! error), every call carrying the cluster secret; and the one rule that decides whether a
//! failed call was certainly never processed.

use crate::secret::ClusterSecret;
use crate::tls::RpcTls;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stowage_proto::pb::cluster_service_client::ClusterServiceClient;
use stowage_proto::pb::raft_service_client::RaftServiceClient;
use tokio::net::{TcpSocket, TcpStream};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};

/// Largest message either side accepts; snapshots are chunked well below it.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// How long dialling a peer may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

pub type RaftClient = RaftServiceClient<InterceptedService<Channel, ClusterSecret>>;
pub type ClusterClient = ClusterServiceClient<InterceptedService<Channel, ClusterSecret>>;

/// A connection to a peer could not be made, so nothing was sent on it.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {addr}: {source}")]
pub struct ConnectFailed {
    addr: String,
    #[source]
    source: std::io::Error,
}

/// Dials `uri`'s host and port, from `source` when given, within `CONNECT_TIMEOUT`.
async fn dial(
    uri: Uri,
    source: Option<IpAddr>,
) -> Result<hyper_util::rt::TokioIo<TcpStream>, ConnectFailed> {
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let failed = |source: std::io::Error| ConnectFailed {
        addr: authority.clone(),
        source,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(authority.as_str())
        .await
        .map_err(failed)?
        .collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address to dial");
    for addr in addrs {
        let attempt = async {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if let Some(ip) = source.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
                socket.bind(SocketAddr::new(ip, 0))?;
            }
            let stream = socket.connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(stream)) => return Ok(hyper_util::rt::TokioIo::new(stream)),
            Ok(Err(e)) => last = e,
            Err(_) => last = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
        }
    }
    Err(failed(last))
}

/// A lazily connected channel to `addr` that reconnects itself, dialling from `source`, over
/// mutual TLS when `tls` is given.
fn channel(
    addr: &str,
    source: Option<IpAddr>,
    tls: Option<&RpcTls>,
) -> Result<Channel, tonic::transport::Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))?
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.client())?;
    }
    Ok(endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: Uri| dial(uri, source))))
}

/// A client of `ClusterService` at `addr` carrying `secret`, for operators and tools outside a
/// node. It connects on first use.
pub fn cluster_client(
    addr: &str,
    secret: &ClusterSecret,
) -> Result<ClusterClient, tonic::transport::Error> {
    cluster_client_tls(addr, secret, None)
}

/// `cluster_client`, over mutual TLS when `tls` is given.
pub fn cluster_client_tls(
    addr: &str,
    secret: &ClusterSecret,
    tls: Option<&RpcTls>,
) -> Result<ClusterClient, tonic::transport::Error> {
    Ok(
        ClusterServiceClient::with_interceptor(channel(addr, None, tls)?, secret.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
    )
}

#[derive(Clone, Debug)]
pub struct Peers {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    source: Option<IpAddr>,
    secret: ClusterSecret,
    tls: Option<RpcTls>,
}

impl Peers {
    pub fn new(source: Option<IpAddr>, secret: ClusterSecret, tls: Option<RpcTls>) -> Self {
        Peers {
            channels: Arc::default(),
            source,
            secret,
            tls,
        }
    }

    /// The channel for `addr`, created lazily: it connects on first use and reconnects itself.
    fn channel(&self, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ch) = map.get(addr) {
            return Ok(ch.clone());
        }
        let ch = channel(addr, self.source, self.tls.as_ref())?;
        map.insert(addr.to_string(), ch.clone());
        Ok(ch)
    }

    pub fn raft_client(&self, addr: &str) -> Result<RaftClient, tonic::transport::Error> {
        Ok(
            RaftServiceClient::with_interceptor(self.channel(addr)?, self.secret.clone())
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
    }

    pub fn cluster_client(&self, addr: &str) -> Result<ClusterClient, tonic::transport::Error> {
        Ok(
            ClusterServiceClient::with_interceptor(self.channel(addr)?, self.secret.clone())
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
    }

    /// Drops the cached channel after the peer proved unreachable, so the next call dials afresh
    /// instead of waiting out the old channel's reconnect backoff.
    pub fn invalidate(&self, addr: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(addr);
    }
}

/// True when a gRPC failure happened before the request could have been processed by the peer,
/// so a retry cannot duplicate it: the connection could not be made, the request was still queued
/// when the connection closed, or the peer refused the stream unprocessed (`REFUSED_STREAM`, or a
/// `GOAWAY` that excluded it). Anything else after sending may have been processed.
pub fn never_sent(status: &tonic::Status) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(err) = source {
        if err.is::<ConnectFailed>() {
            return true;
        }
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_canceled())
        {
            return true;
        }
        if let Some(h2) = err.downcast_ref::<h2::Error>()
            && ((h2.is_go_away() && h2.is_remote())
                || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
        {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_proto::pb::NodeInfoRequest;

    fn secret() -> ClusterSecret {
        ClusterSecret::new("a-test-secret-long-enough").expect("secret")
    }

    #[tokio::test]
    async fn a_call_to_a_port_nobody_listens_on_was_never_sent() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let mut client = cluster_client(&addr.to_string(), &secret()).expect("client");
        let status = client
            .node_info(NodeInfoRequest {})
            .await
            .expect_err("nobody listens");
        assert!(never_sent(&status), "{status:?}");
    }

    #[tokio::test]
    async fn a_host_that_does_not_resolve_was_never_sent() {
        let mut client = cluster_client("no-such-host.invalid:4647", &secret()).expect("client");
        let status = client
            .node_info(NodeInfoRequest {})
            .await
            .expect_err("no such host");
        assert!(never_sent(&status), "{status:?}");
    }

    /// The peer received the request, then its connection died: the call may have been
    /// processed, so it must not be retried.
    #[tokio::test]
    async fn a_call_the_peer_received_before_its_connection_died_may_have_happened() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (received_tx, received) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.expect("accept");
            let mut conn = h2::server::handshake(socket).await.expect("h2 handshake");
            let request = conn.accept().await;
            let _ = received_tx.send(request.is_some());
            // Dropping the connection here resets it without an answer.
        });
        let mut client = cluster_client(&addr.to_string(), &secret()).expect("client");
        let status = client
            .node_info(NodeInfoRequest {})
            .await
            .expect_err("the peer dies");
        assert_eq!(received.await.ok(), Some(true), "the peer got the request");
        assert!(!never_sent(&status), "{status:?}");
    }
}
