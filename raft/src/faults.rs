//! Deliberately wrong behaviours for the chaos suite's self-checks, which prove the checker
//! notices each one. They exist only when this crate is built with the `unsafe-test-faults`
//! feature; without it `TestFaults` is empty and every switch is the constant `false`, so no
//! input can make a default build wrong.

/// Which wrong behaviours a node has. The default is none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestFaults {
    #[cfg(feature = "unsafe-test-faults")]
    on: FaultSet,
}

#[cfg(feature = "unsafe-test-faults")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FaultSet {
    stale_reads: bool,
    early_ack: bool,
    no_claim_limit: bool,
}

impl TestFaults {
    /// Serve default reads from this node's own state, like `?stale`.
    pub const fn stale_reads(self) -> bool {
        #[cfg(feature = "unsafe-test-faults")]
        return self.on.stale_reads;
        #[cfg(not(feature = "unsafe-test-faults"))]
        false
    }

    /// Acknowledge log appends and state changes before they are durable.
    pub const fn early_ack(self) -> bool {
        #[cfg(feature = "unsafe-test-faults")]
        return self.on.early_ack;
        #[cfg(not(feature = "unsafe-test-faults"))]
        false
    }

    /// Skip the claim limit inside apply.
    pub const fn claim_limit(self) -> stowage_proto::rules::ClaimLimit {
        #[cfg(feature = "unsafe-test-faults")]
        if self.on.no_claim_limit {
            return stowage_proto::rules::ClaimLimit::Skipped;
        }
        stowage_proto::rules::ClaimLimit::Enforced
    }

    /// The fault named `name` (`stale-reads`, `early-ack` or `no-claim-limit`).
    #[cfg(feature = "unsafe-test-faults")]
    pub fn named(name: &str) -> Option<TestFaults> {
        let mut on = FaultSet::default();
        match name {
            "stale-reads" => on.stale_reads = true,
            "early-ack" => on.early_ack = true,
            "no-claim-limit" => on.no_claim_limit = true,
            _ => return None,
        }
        Some(TestFaults { on })
    }

    /// True when any fault is on.
    pub fn any(self) -> bool {
        self.stale_reads()
            || self.early_ack()
            || self.claim_limit() == stowage_proto::rules::ClaimLimit::Skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_correct() {
        let f = TestFaults::default();
        assert!(!f.any());
        assert_eq!(f.claim_limit(), stowage_proto::rules::ClaimLimit::Enforced);
    }

    #[cfg(not(feature = "unsafe-test-faults"))]
    #[test]
    fn without_the_feature_there_is_nothing_to_switch_on() {
        assert_eq!(std::mem::size_of::<TestFaults>(), 0);
    }
}
