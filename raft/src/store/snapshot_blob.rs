//! How a built snapshot rests in `sm_meta`: a format byte, the length of the encoded meta, the
//! meta, then the snapshot's own bytes as they are. The first format stored both as one JSON
//! value, which wrote the data as an array of decimal numbers (about four times its size); it is
//! still read.

use crate::types::SnapshotMeta;
use serde::{Deserialize, Serialize};
use std::io;
use stowage_proto::codec;

/// `[2][meta length: u64 big-endian][meta: codec][data]`. Format 1 is the codec's JSON of
/// `LegacySnapshot`. Never reuse a retired format byte.
const FORMAT_FRAMED: u8 = 2;
const FORMAT_LEGACY_JSON: u8 = 1;

#[derive(Serialize, Deserialize)]
struct LegacySnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

pub(super) fn encode(meta: &SnapshotMeta, data: &[u8]) -> io::Result<Vec<u8>> {
    let meta = codec::encode(meta)?;
    let mut out = Vec::with_capacity(1 + 8 + meta.len() + data.len());
    out.push(FORMAT_FRAMED);
    out.extend_from_slice(&(meta.len() as u64).to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(data);
    Ok(out)
}

fn corrupt(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("stored snapshot: {why}"),
    )
}

pub(super) fn decode(bytes: &[u8]) -> io::Result<(SnapshotMeta, Vec<u8>)> {
    match bytes.split_first() {
        Some((&FORMAT_FRAMED, rest)) => {
            let (len, rest) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| corrupt("truncated length"))?;
            let len = usize::try_from(u64::from_be_bytes(*len))
                .map_err(|_| corrupt("meta length out of range"))?;
            if rest.len() < len {
                return Err(corrupt("truncated meta"));
            }
            let (meta, data) = rest.split_at(len);
            Ok((codec::decode(meta)?, data.to_vec()))
        }
        Some((&FORMAT_LEGACY_JSON, _)) => {
            let legacy: LegacySnapshot = codec::decode(bytes)?;
            Ok((legacy.meta, legacy.data))
        }
        Some((other, _)) => Err(corrupt(&format!("unknown format byte {other}"))),
        None => Err(corrupt("empty")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: None,
            last_membership: Default::default(),
        }
    }

    #[test]
    fn data_rests_as_raw_bytes_and_round_trips() {
        let data = vec![7u8; 10_000];
        let bytes = encode(&meta(), &data).expect("encode");
        assert!(
            bytes.len() < data.len() + 200,
            "no inflation: {}",
            bytes.len()
        );
        let (_, back) = decode(&bytes).expect("decode");
        assert_eq!(back, data);
        assert!(decode(&bytes[..5]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
    }

    #[test]
    fn the_first_format_is_still_read() {
        let legacy = codec::encode(&LegacySnapshot {
            meta: meta(),
            data: vec![1, 2, 3],
        })
        .expect("encode");
        let (_, data) = decode(&legacy).expect("decode");
        assert_eq!(data, vec![1, 2, 3]);
    }
}
