//! Waiting for something to become true, with a deadline, and addresses of a test's own.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::time::Instant;

/// How long a poll bounded by a deadline waits before looking again. Agents in other processes
/// offer nothing to subscribe to, so tests poll their endpoints until a deadline.
pub const POLL: Duration = Duration::from_millis(25);

/// Polls `check` until it returns `Some`, failing the test with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// Three loopback addresses of their own for one test's nodes. Each node dials from its own
/// address, so a connection to a stopped peer's port can never connect to itself (a TCP
/// self-connect on a freed ephemeral port), and concurrent tests never take each other's ports.
pub fn loopback_ips() -> [IpAddr; 3] {
    let (a, b): (u8, u8) = (rand::random_range(1..250), rand::random_range(1..250));
    [1, 2, 3].map(|n| IpAddr::V4(Ipv4Addr::new(127, a, b, n)))
}

/// An address on `ip` that was free a moment ago; an agent process binds it itself.
pub fn free_addr(ip: IpAddr) -> String {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.to_string())
        .unwrap_or_else(|e| panic!("no free port on {ip}: {e}"))
}
