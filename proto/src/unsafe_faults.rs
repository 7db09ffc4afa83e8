//! Test-only switches that make stowage wrong on purpose, so that the chaos checker can prove it
//! notices. Nothing turns them on but `STOWAGE_UNSAFE_TEST_FAULT` (read by `stowage agent`, which
//! then logs a warning), or a test calling `enable`.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnsafeFault {
    /// Serve default reads from the receiving node's state, like `?stale`.
    StaleReads,
    /// Acknowledge log appends and state changes before they are durable.
    EarlyAck,
    /// Skip the claim limit inside apply.
    NoClaimLimit,
}

impl UnsafeFault {
    fn bit(self) -> u8 {
        match self {
            UnsafeFault::StaleReads => 1,
            UnsafeFault::EarlyAck => 2,
            UnsafeFault::NoClaimLimit => 4,
        }
    }

    pub fn parse(s: &str) -> Option<UnsafeFault> {
        match s {
            "stale-reads" => Some(UnsafeFault::StaleReads),
            "early-ack" => Some(UnsafeFault::EarlyAck),
            "no-claim-limit" => Some(UnsafeFault::NoClaimLimit),
            _ => None,
        }
    }
}

static ENABLED: AtomicU8 = AtomicU8::new(0);

pub fn enable(f: UnsafeFault) {
    ENABLED.fetch_or(f.bit(), Ordering::SeqCst);
}

pub fn enabled(f: UnsafeFault) -> bool {
    ENABLED.load(Ordering::Relaxed) & f.bit() != 0
}
