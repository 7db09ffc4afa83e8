//! The disk-space guard: a node whose data dir's filesystem has less free space than its reserve
//! takes no new log entries, neither a caller's write (it leads) nor a leader's append (it
//! follows), so RocksDB never meets a full disk in the middle of a write. Reads need no space and
//! go on; writes resume by themselves once space returns.

use std::path::PathBuf;
use stowage_proto::api::CsiError;

/// The reserve unless configured: room for a memtable flush and the WAL records in flight.
pub const DEFAULT_MIN_FREE_DISK_MB: u64 = 64;

const MIB: u64 = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct DiskGuard {
    path: PathBuf,
    reserve_bytes: u64,
}

/// The data dir's filesystem has less free space than the reserve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskFull {
    pub free_mib: u64,
    pub reserve_mib: u64,
}

impl From<DiskFull> for CsiError {
    fn from(d: DiskFull) -> CsiError {
        CsiError::DiskFull {
            free_mib: d.free_mib,
            reserve_mib: d.reserve_mib,
        }
    }
}

impl DiskGuard {
    pub fn new(path: PathBuf, reserve_mib: u64) -> DiskGuard {
        DiskGuard {
            path,
            reserve_bytes: reserve_mib.saturating_mul(MIB),
        }
    }

    /// Whether the data dir may take new entries. One `statvfs` per call (about a microsecond),
    /// so a disk filled from outside is seen at the next write. A filesystem that cannot be asked
    /// is not called full: RocksDB's own errors still stop a write that fails.
    pub fn check(&self) -> Result<(), DiskFull> {
        let Ok(fs) = rustix::fs::statvfs(&self.path) else {
            return Ok(());
        };
        // Space an unprivileged writer may use: what root keeps back is not ours to count on.
        let free = fs.f_bavail.saturating_mul(fs.f_frsize);
        if free >= self.reserve_bytes {
            return Ok(());
        }
        Err(DiskFull {
            free_mib: free / MIB,
            reserve_mib: self.reserve_bytes / MIB,
        })
    }
}
