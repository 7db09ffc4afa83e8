//! The limits a node puts on its clients: the HTTP port's (body and header sizes, connections
//! per client address, header and body timeouts), the number of blocking queries it holds and
//! the free disk it keeps, from flags, environment variables and the config file's `[limits]` table, in that order.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::time::Duration;
use stowage_http_gateway::{Limits, MIN_HEADER_BYTES, parse_go_duration};
use stowage_raft::DEFAULT_MIN_FREE_DISK_MB;

/// How many blocking queries a node holds at once unless told otherwise: at about 25 KiB each,
/// some 400 MiB at most.
pub const DEFAULT_MAX_BLOCKING_QUERIES: usize = 16_384;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LimitArgs {
    /// The largest request body in bytes (default 8 MiB); larger ones are refused with 413.
    #[arg(long, env = "STOWAGE_HTTP_MAX_BODY")]
    pub http_max_body: Option<usize>,
    /// The largest request head in bytes (default 64 KiB, at least 8 KiB); larger: 431.
    #[arg(long, env = "STOWAGE_HTTP_MAX_HEADER_BYTES")]
    pub http_max_header_bytes: Option<usize>,
    /// Connections one client address may hold open (default 100, as Nomad's
    /// `limits.http_max_conns_per_client`); more are answered 429 and closed.
    #[arg(long, env = "STOWAGE_HTTP_MAX_CONNS_PER_CLIENT")]
    pub http_max_conns_per_client: Option<usize>,
    /// How long a client may take to send a request's headers, and a kept-alive connection may
    /// wait idle, as a Go duration (default 10s; Nomad's `limits.https_handshake_timeout`).
    #[arg(long, env = "STOWAGE_HTTP_HEADER_TIMEOUT")]
    pub http_header_timeout: Option<String>,
    /// How long a request body may go without sending anything (default 30s); then 408.
    #[arg(long, env = "STOWAGE_HTTP_BODY_TIMEOUT")]
    pub http_body_timeout: Option<String>,
    /// Blocking queries this node holds at once (default 16384); more are answered 429.
    #[arg(long, env = "STOWAGE_MAX_BLOCKING_QUERIES")]
    pub max_blocking_queries: Option<usize>,
    /// Free space in MiB that the data dir's filesystem must keep (default 64): below it, writes
    /// are answered 507 and reads go on, until space returns.
    #[arg(long, env = "STOWAGE_MIN_FREE_DISK_MB")]
    pub min_free_disk_mb: Option<u64>,
}

/// The config file's `[limits]` table: the same settings, durations as Go durations ("10s").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    http_max_body: Option<usize>,
    http_max_header_bytes: Option<usize>,
    http_max_conns_per_client: Option<usize>,
    http_header_timeout: Option<String>,
    http_body_timeout: Option<String>,
    max_blocking_queries: Option<usize>,
    min_free_disk_mb: Option<u64>,
}

/// A node's checked limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLimits {
    pub http: Limits,
    pub max_blocking_queries: usize,
    pub min_free_disk_mb: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            http: Limits::default(),
            max_blocking_queries: DEFAULT_MAX_BLOCKING_QUERIES,
            min_free_disk_mb: DEFAULT_MIN_FREE_DISK_MB,
        }
    }
}

fn duration(name: &str, text: Option<String>, default: Duration) -> anyhow::Result<Duration> {
    let Some(text) = text else {
        return Ok(default);
    };
    let d = parse_go_duration(&text)
        .with_context(|| format!("{name} {text:?} is not a duration such as \"10s\""))?;
    if d.is_zero() {
        bail!("{name} must be longer than zero");
    }
    Ok(d)
}

fn positive(name: &str, value: Option<usize>, default: usize) -> anyhow::Result<usize> {
    match value {
        Some(0) => bail!("{name} must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

impl LimitArgs {
    /// The limits, flags first, then the file, then the defaults.
    pub fn resolve(self, file: FileLimits) -> anyhow::Result<NodeLimits> {
        let d = NodeLimits::default();
        let http = Limits {
            max_body: positive(
                "http_max_body",
                self.http_max_body.or(file.http_max_body),
                d.http.max_body,
            )?,
            max_header_bytes: positive(
                "http_max_header_bytes",
                self.http_max_header_bytes.or(file.http_max_header_bytes),
                d.http.max_header_bytes,
            )?,
            max_conns_per_ip: positive(
                "http_max_conns_per_client",
                self.http_max_conns_per_client
                    .or(file.http_max_conns_per_client),
                d.http.max_conns_per_ip,
            )?,
            header_timeout: duration(
                "http_header_timeout",
                self.http_header_timeout.or(file.http_header_timeout),
                d.http.header_timeout,
            )?,
            body_timeout: duration(
                "http_body_timeout",
                self.http_body_timeout.or(file.http_body_timeout),
                d.http.body_timeout,
            )?,
        };
        if http.max_header_bytes < MIN_HEADER_BYTES {
            bail!("http_max_header_bytes must be at least {MIN_HEADER_BYTES}");
        }
        let max_blocking_queries = positive(
            "max_blocking_queries",
            self.max_blocking_queries.or(file.max_blocking_queries),
            d.max_blocking_queries,
        )?;
        Ok(NodeLimits {
            http,
            max_blocking_queries,
            // Zero is allowed: no reserve, for a disk that is watched by other means.
            min_free_disk_mb: self
                .min_free_disk_mb
                .or(file.min_free_disk_mb)
                .unwrap_or(d.min_free_disk_mb),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_bad_values_are_named() {
        let file: FileLimits =
            toml::from_str("http_max_body = 1024\nhttp_header_timeout = \"3s\"").expect("toml");
        let args = LimitArgs {
            http_max_body: Some(2048),
            ..Default::default()
        };
        let l = args.resolve(file).expect("valid");
        assert_eq!(l.http.max_body, 2048);
        assert_eq!(l.http.header_timeout, Duration::from_secs(3));
        assert_eq!(l.max_blocking_queries, DEFAULT_MAX_BLOCKING_QUERIES);

        let small = LimitArgs {
            http_max_header_bytes: Some(100),
            ..Default::default()
        };
        let e = small.resolve(FileLimits::default()).expect_err("too small");
        assert!(e.to_string().contains("http_max_header_bytes"), "{e}");
        let zero = LimitArgs {
            http_body_timeout: Some("0s".into()),
            ..Default::default()
        };
        assert!(zero.resolve(FileLimits::default()).is_err());
        assert!(toml::from_str::<FileLimits>("http_max_bodyy = 1").is_err());
    }
}
