//! Nomad's query parameters, parsed in Nomad's order so the first bad one is the one reported,
//! with Nomad's error texts.

use crate::error::ApiError;
use std::collections::HashMap;
use std::time::Duration;
use stowage_proto::api::{MAX_WAIT, QueryOptions};

/// The raw query string as key → first value, remembering which keys were present.
#[derive(Debug, Default, Clone)]
pub struct RawParams {
    values: HashMap<String, String>,
}

impl RawParams {
    pub fn parse(query: Option<&str>) -> Self {
        let mut values = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            values
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
        Self { values }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A non-empty value, or `None`.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// The request namespace: empty or missing means `default`.
    pub fn namespace(&self) -> String {
        self.text("namespace")
            .unwrap_or_else(|| "default".to_string())
    }

    /// A flag like `?pretty` or `?stale`: present with an empty value means true.
    pub fn flag(&self, key: &str, bad: impl Fn() -> String) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some("") => Ok(true),
            Some(v) => parse_go_bool(v).ok_or_else(|| ApiError::BadRequest(bad())),
        }
    }

    /// `?pretty`: any value other than `0` turns it on, as in Nomad.
    pub fn pretty(&self) -> bool {
        self.get("pretty").is_some_and(|v| v != "0")
    }

    /// `?cas=<ModifyIndex>` for optimistic concurrency (`0` = create only).
    pub fn cas(&self) -> Result<Option<u64>, ApiError> {
        match self.get("cas") {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::BadRequest("Invalid cas index".into())),
        }
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.ParseDuration`: `300ms`, `1.5s`, `5m`, `1h2m`, `0`. A bare number is refused.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * nanos;
    }
    Some(Duration::from_nanos(total as u64))
}

/// The options every read endpoint takes, checked in Nomad's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    pub prefix: Option<String>,
    pub namespace: String,
    pub per_page: u32,
    pub next_token: Option<String>,
    pub filter: Option<String>,
    /// Staleness and blocking.
    pub query: QueryOptions,
}

impl ReadOptions {
    pub fn parse(p: &RawParams) -> Result<Self, ApiError> {
        let stale = p.flag("stale", || {
            "Expect `true` or `false` for `stale` query string parameter".into()
        })?;
        let prefix = p.text("prefix");
        let namespace = p.namespace();
        let per_page = match p.get("per_page") {
            None | Some("") => 0,
            // Nomad accepts negative values and then answers nonsense; we refuse them.
            Some(v) => v.parse::<u32>().map_err(|_| {
                ApiError::BadRequest("Expect a number for `per_page` query string parameter".into())
            })?,
        };
        let next_token = p.text("next_token");
        let filter = p.text("filter");
        let wait = match p.get("wait") {
            None | Some("") => MAX_WAIT,
            Some(v) => parse_go_duration(v)
                .ok_or_else(|| ApiError::BadRequest("Invalid wait time".into()))?,
        };
        let wait = if wait.is_zero() {
            MAX_WAIT
        } else {
            wait.min(MAX_WAIT)
        };
        let index = match p.get("index") {
            None | Some("") => 0,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::BadRequest("Invalid index".into()))?,
        };
        Ok(Self {
            prefix,
            namespace,
            per_page,
            next_token,
            filter,
            query: QueryOptions { stale, index, wait },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(q: &str) -> Result<ReadOptions, String> {
        ReadOptions::parse(&RawParams::parse(Some(q))).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_like_nomad() {
        let o =
            opts("stale&prefix=ab&namespace=prod&per_page=5&next_token=prod.x&index=42&wait=1.5s")
                .expect("valid");
        assert!(o.query.stale);
        assert_eq!(
            (o.prefix.as_deref(), o.namespace.as_str(), o.per_page),
            (Some("ab"), "prod", 5)
        );
        assert_eq!(
            (o.query.index, o.query.wait),
            (42, Duration::from_millis(1500))
        );
        let o = opts("").expect("valid");
        assert_eq!(
            (o.namespace.as_str(), o.query.wait, o.query.stale),
            ("default", MAX_WAIT, false)
        );
        assert_eq!(
            opts("wait=10m").expect("valid").query.wait,
            MAX_WAIT,
            "clamped to 5 minutes"
        );
        assert!(!opts("stale=false").expect("valid").query.stale);
    }

    #[test]
    fn reports_the_first_bad_parameter_with_nomads_text() {
        assert_eq!(
            opts("stale=maybe&index=x"),
            Err("Expect `true` or `false` for `stale` query string parameter".into())
        );
        assert_eq!(
            opts("per_page=x"),
            Err("Expect a number for `per_page` query string parameter".into())
        );
        assert_eq!(
            opts("per_page=-1"),
            Err("Expect a number for `per_page` query string parameter".into())
        );
        assert_eq!(opts("wait=10"), Err("Invalid wait time".into()));
        assert_eq!(opts("wait=5m&index=-1"), Err("Invalid index".into()));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("1h2m"), Some(Duration::from_secs(3720)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("5x"), None);
    }
}
