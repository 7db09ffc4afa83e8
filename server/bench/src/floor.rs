//! The disk floor: what one 4 KiB append plus fdatasync costs on the disk the systems write to.
//! Every write of either system waits for at least one, so no write p50 can beat it.

use crate::load::{histogram, ms_at, record};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

#[derive(Clone, Debug, Serialize)]
pub struct Floor {
    pub samples: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Appends 4 KiB and fdatasyncs, `samples` times, in a file under `dir` that is removed after.
pub fn measure(dir: &Path, samples: u64) -> std::io::Result<Floor> {
    let path = dir.join("fsync-floor");
    let mut file = std::fs::File::create(&path)?;
    let block = [0x5au8; 4096];
    let mut hist = histogram();
    for _ in 0..samples {
        let start = std::time::Instant::now();
        file.write_all(&block)?;
        rustix::fs::fdatasync(&file)?;
        record(&mut hist, start.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Floor {
        samples,
        p50_ms: ms_at(&hist, 0.5),
        p99_ms: ms_at(&hist, 0.99),
    })
}
