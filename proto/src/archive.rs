//! The snapshot archive an operator saves and restores: every replicated table at one log index,
//! with what it holds in a readable header and a SHA-256 over all of it, so that a corrupt or
//! truncated file is refused before anything is changed.
//!
//! Layout: the magic line `stowage-snapshot\n`, a version byte, the header (u32 big-endian
//! length, then JSON), the tables (u64 big-endian length, then the codec's encoding), then the
//! SHA-256 of every byte before it.

use crate::codec;
use crate::command::Tables;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MAGIC: &[u8] = b"stowage-snapshot\n";
/// The layout above. A new layout gets a new number; old ones stay readable.
const VERSION: u8 = 1;
const DIGEST_LEN: usize = 32;

/// What an archive says about itself, readable without decoding the tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ArchiveHeader {
    /// The log index the tables are as of.
    pub index: u64,
    /// The term of the node that made it, when it made it.
    pub term: u64,
    /// When it was made (RFC 3339) and by which node.
    pub created: String,
    #[serde(rename = "NodeID")]
    pub node_id: u64,
    pub volumes: usize,
    pub claims: usize,
    pub plugins: usize,
    pub namespaces: usize,
    pub acl_policies: usize,
    pub acl_tokens: usize,
    pub version: String,
}

impl ArchiveHeader {
    /// The header of an archive of `tables`, as of `index` in `term`, made by `node_id` at
    /// `created` (RFC 3339).
    pub fn describe(index: u64, term: u64, node_id: u64, created: String, tables: &Tables) -> Self {
        ArchiveHeader {
            index,
            term,
            created,
            node_id,
            volumes: tables.volumes.len(),
            claims: tables.claims.len(),
            plugins: tables.plugins.len(),
            namespaces: tables.namespaces.len(),
            acl_policies: tables.acl_policies.len(),
            acl_tokens: tables.acl_tokens.len(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Why bytes are not a usable archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a stowage snapshot archive")]
    NotAnArchive,
    #[error("snapshot archive version {0} is not one this build reads")]
    UnsupportedVersion(u8),
    #[error("the snapshot archive is truncated")]
    Truncated,
    #[error("the snapshot archive's checksum does not match: it is corrupt or truncated")]
    ChecksumMismatch,
    #[error("the snapshot archive is malformed: {0}")]
    Malformed(String),
}

/// The archive of `tables` with `header`.
pub fn encode(header: &ArchiveHeader, tables: &Tables) -> Result<Vec<u8>, codec::CodecError> {
    let head = serde_json::to_vec(header)?;
    let body = codec::encode(tables)?;
    let mut out = Vec::with_capacity(MAGIC.len() + 13 + head.len() + body.len() + DIGEST_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(&body);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// Checks the magic, version and checksum, and reads the header; the tables' bytes come back
/// undecoded, so an archive can be inspected cheaply.
pub fn open(bytes: &[u8]) -> Result<(ArchiveHeader, &[u8]), ArchiveError> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or(ArchiveError::NotAnArchive)?;
    let (&version, rest) = rest.split_first().ok_or(ArchiveError::Truncated)?;
    if version != VERSION {
        return Err(ArchiveError::UnsupportedVersion(version));
    }
    let signed_len = bytes
        .len()
        .checked_sub(DIGEST_LEN)
        .ok_or(ArchiveError::Truncated)?;
    let (signed, digest) = bytes.split_at(signed_len);
    if Sha256::digest(signed).as_slice() != digest {
        return Err(ArchiveError::ChecksumMismatch);
    }
    let rest = &rest[..rest
        .len()
        .checked_sub(DIGEST_LEN)
        .ok_or(ArchiveError::Truncated)?];
    let (head_len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(ArchiveError::Truncated)?;
    let head_len = u32::from_be_bytes(*head_len) as usize;
    if rest.len() < head_len {
        return Err(ArchiveError::Truncated);
    }
    let (head, rest) = rest.split_at(head_len);
    let header: ArchiveHeader =
        serde_json::from_slice(head).map_err(|e| ArchiveError::Malformed(e.to_string()))?;
    let (body_len, body) = rest
        .split_first_chunk::<8>()
        .ok_or(ArchiveError::Truncated)?;
    if u64::from_be_bytes(*body_len) != body.len() as u64 {
        return Err(ArchiveError::Malformed(
            "the tables' length does not match the archive".into(),
        ));
    }
    Ok((header, body))
}

/// `open`, then the tables decoded.
pub fn decode(bytes: &[u8]) -> Result<(ArchiveHeader, Tables), ArchiveError> {
    let (header, body) = open(bytes)?;
    let tables = codec::decode(body).map_err(|e| ArchiveError::Malformed(e.to_string()))?;
    Ok((header, tables))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Namespace;

    fn sample() -> (ArchiveHeader, Tables) {
        let tables = Tables {
            namespaces: vec![Namespace {
                name: Namespace::DEFAULT.into(),
                description: String::new(),
                meta: None,
                create_index: 1,
                modify_index: 1,
            }],
            ..Tables::default()
        };
        let header = ArchiveHeader::describe(7, 2, 1, "2026-11-29T00:00:00Z".into(), &tables);
        assert_eq!(header.namespaces, 1);
        (header, tables)
    }

    #[test]
    fn round_trips_and_refuses_every_damage() {
        let (header, tables) = sample();
        let bytes = encode(&header, &tables).expect("encode");
        assert_eq!(decode(&bytes), Ok((header, tables)));

        for cut in [0, 5, MAGIC.len() + 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                decode(&bytes[..cut]).is_err(),
                "a cut at {cut} was accepted"
            );
        }
        for at in [MAGIC.len() + 3, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x01;
            assert!(decode(&flipped).is_err(), "a flip at {at} was accepted");
        }
        assert_eq!(decode(b"hello"), Err(ArchiveError::NotAnArchive));
        let mut other = bytes.clone();
        other[MAGIC.len()] = 9;
        assert_eq!(decode(&other), Err(ArchiveError::UnsupportedVersion(9)));
    }
}
