//! The disk floor: what one 4 KiB append plus fdatasync costs on the disk the systems write to.
//! Every write of either system waits for at least one, so no write p50 can beat it.

use crate::load::histogram;
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
        let us = u64::try_from(start.elapsed().as_micros().max(1)).unwrap_or(u64::MAX);
        let _ = hist.record(us);
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Floor {
        samples,
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
    })
}
