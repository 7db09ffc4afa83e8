//! Serving the router on a bound listener: HTTP/1.1 and HTTP/2, over TLS when the node has a
//! certificate, with the node's limits on heads, header time and connections per client address,
//! and a graceful stop.

use crate::error::ApiError;
use crate::https::Https;
use crate::limits::{ConnectionCounts, Limits, MIN_HEADER_BYTES};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::Watcher;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::IpAddr;
use tokio::net::TcpListener;

/// Serves `router` on an already-bound listener until `shutdown` resolves, then lets the
/// connections finish what they are doing. Every connection runs in a task this future owns, so
/// dropping the future (when draining takes too long) drops every connection with it.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, limits, None, shutdown).await
}

/// `serve`, over TLS when `https` is given: a client has the header timeout to finish its
/// handshake, and one that fails it (no certificate where one is required, another CA's) is
/// closed without an answer.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    https: Option<Https>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let counts = ConnectionCounts::default();
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    // A connection that failed while being accepted (reset, or out of file
                    // descriptors for a moment) is that connection's problem, not the server's.
                    Err(e) => {
                        tracing::warn!("accepting an HTTP connection: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let admitted = counts.admit(peer.ip(), limits.max_conns_per_ip);
                let builder = builder.clone();
                let router = router.clone();
                let watcher = graceful.watcher();
                let https = https.clone();
                let (ip, limits) = (peer.ip(), limits.clone());
                connections.spawn(async move {
                    let Some(tls) = https else {
                        return match admitted {
                            Some(_held) => serve_one(&builder, TokioIo::new(stream), router, watcher).await,
                            None => refuse(TokioIo::new(stream), ip, &limits).await,
                        };
                    };
                    // Over the limit, a TLS connection is closed before its handshake: answering
                    // 429 would cost a handshake for every connection refused.
                    let Some(_held) = admitted else {
                        return;
                    };
                    let handshake = tls.acceptor.accept(stream);
                    let Ok(Ok(stream)) = tokio::time::timeout(limits.header_timeout, handshake).await
                    else {
                        return;
                    };
                    serve_one(&builder, TokioIo::new(stream), router, watcher).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves one admitted connection until it closes, or the graceful stop ends it.
async fn serve_one<IO>(builder: &Builder<TokioExecutor>, io: IO, router: Router, watcher: Watcher)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let conn = builder.serve_connection_with_upgrades(io, service);
    let _ = watcher.watch(conn.into_owned()).await;
}

/// Answers every request on a connection over the per-address limit with 429, then closes it,
/// within the header timeout: a refused client is told why, and holds nothing for long.
fn refuse<IO>(io: IO, ip: IpAddr, limits: &Limits) -> impl Future<Output = ()> + Send + 'static
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let limit = limits.max_conns_per_ip;
    let within = limits.header_timeout;
    async move {
        let service = tower::service_fn(
            move |_req: hyper::Request<hyper::body::Incoming>| async move {
                let mut resp = ApiError::TooManyConnections { ip, limit }.into_response();
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                Ok::<_, std::convert::Infallible>(resp)
            },
        );
        let mut builder = Builder::new(TokioExecutor::new());
        builder.http1().keep_alive(false);
        let conn = builder.serve_connection(io, TowerToHyperService::new(service));
        let _ = tokio::time::timeout(within, conn).await;
    }
}
