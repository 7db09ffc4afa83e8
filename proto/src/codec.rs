//! The one encoding of persisted and replicated values: a format byte, then JSON with named fields.
//!
//! JSON keeps values self-describing (fields can be added or reordered without a migration) and the
//! leading byte leaves room for a denser format later without guessing what old bytes mean.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Format byte for JSON-encoded values. Never reuse a retired format byte.
const FORMAT_JSON: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty value")]
    Empty,
    #[error("unknown value format byte {0}")]
    UnknownFormat(u8),
    #[error("malformed value: {0}")]
    Json(#[from] serde_json::Error),
}

pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![FORMAT_JSON];
    serde_json::to_writer(&mut out, value)?;
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&FORMAT_JSON, rest)) => Ok(serde_json::from_slice(rest)?),
        Some((&other, _)) => Err(CodecError::UnknownFormat(other)),
    }
}

impl From<CodecError> for std::io::Error {
    fn from(e: CodecError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_foreign_bytes() {
        let bytes = encode(&vec![1u32, 2, 3]).expect("encode");
        assert_eq!(bytes[0], FORMAT_JSON);
        let back: Vec<u32> = decode(&bytes).expect("decode");
        assert_eq!(back, vec![1, 2, 3]);
        assert!(matches!(decode::<Vec<u32>>(&[]), Err(CodecError::Empty)));
        assert!(matches!(
            decode::<Vec<u32>>(b"\x07[1]"),
            Err(CodecError::UnknownFormat(7))
        ));
        assert!(matches!(
            decode::<Vec<u32>>(b"\x01{"),
            Err(CodecError::Json(_))
        ));
    }
}
