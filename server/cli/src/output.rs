//! What every listing command shares: `-json` for the API's own JSON, and how values are shown.

use serde::Serialize;

#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Output {
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The API's JSON, indented.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A value as its JSON text without quotes: an enum's wire name such as `single-node-writer`.
pub fn label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Nanoseconds since the epoch as RFC 3339 UTC; empty for none.
pub fn time_text(ns: i64) -> String {
    if ns == 0 {
        String::new()
    } else {
        stowage_proto::api::rfc3339(ns)
    }
}
