//! Nomad's CSI volume specification files, as `nomad volume register` reads them: HCL 1 (see
//! `hcl`), or JSON in the file's own snake_case form or as the API's volume object (see `json`),
//! into the `VolumeSpec` the register endpoint takes. Every problem is reported with the file's
//! name and, where it has one, the line and column it lies at.

mod decode;
mod error;
mod example;
mod hcl;
mod json;
mod lexer;
mod tree;
mod units;

#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod tests;

pub use error::{ErrorKind, Position, SpecError};
pub use example::{EXAMPLE, EXAMPLE_JSON};

use stowage_proto::api::VolumeSpec;

/// Reads a volume specification. `origin` names the file in messages (a path, or "<stdin>").
/// A text whose first non-blank character is `{` is JSON; anything else is HCL.
pub fn parse(text: &str, origin: &str) -> Result<VolumeSpec, SpecError> {
    // Editors on Windows may start a UTF-8 file with a byte-order mark; it is not content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let read = if text.trim_start().starts_with('{') {
        json::parse(text)
    } else {
        hcl::parse(text).and_then(|root| decode::volume(&root))
    };
    read.map_err(|fault| fault.into_error(text, origin))
}
