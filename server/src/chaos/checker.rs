//! Linearizability per volume, Wing–Gong style with memoization (as Porcupine does for etcd's
//! robustness tests): find an order of the operations, consistent with real time, in which the
//! model gives every answer that was observed. An operation whose outcome is unknown may take
//! effect at any point after it was invoked, or never.

use super::model::{Input, Output, VolumeState};
use std::collections::HashSet;

/// One operation on one volume, as the workload saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub input: Input,
    /// `None`: the outcome is unknown (timeout or lost connection after sending).
    pub output: Option<Output>,
    pub invoked: u64,
    /// Completion time; `u64::MAX` for unknown outcomes.
    pub completed: u64,
}

/// Why a history is not linearizable: the longest consistent prefix the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub linearized: usize,
    pub total: usize,
    /// The calls no order could place next, after the longest prefix.
    pub stuck_at: Vec<Call>,
}

const SEARCH_LIMIT: usize = 2_000_000;

/// Checks one volume's history. `Err` carries the evidence; `Ok(false)` means the search gave up
/// (too many states), which is reported, never counted as a pass.
pub fn check(calls: &[Call]) -> Result<bool, Violation> {
    let mut calls: Vec<Call> = calls.to_vec();
    calls.sort_by_key(|c| c.invoked);
    let n = calls.len();
    let required: Vec<usize> = (0..n).filter(|&i| calls[i].output.is_some()).collect();
    let mut seen: HashSet<(Vec<u64>, VolumeState)> = HashSet::new();
    let mut best = (0usize, Vec::new());
    let mut budget = SEARCH_LIMIT;
    let done = vec![0u64; n.div_ceil(64)];
    match search(
        &calls,
        &required,
        VolumeState::default(),
        done,
        0,
        &mut seen,
        &mut best,
        &mut budget,
    ) {
        Some(true) => Ok(true),
        None => Ok(false),
        Some(false) => Err(Violation {
            linearized: best.0,
            total: n,
            stuck_at: best.1,
        }),
    }
}

fn is_done(done: &[u64], i: usize) -> bool {
    done[i / 64] & (1 << (i % 64)) != 0
}

#[allow(clippy::too_many_arguments)]
fn search(
    calls: &[Call],
    required: &[usize],
    state: VolumeState,
    done: Vec<u64>,
    count: usize,
    seen: &mut HashSet<(Vec<u64>, VolumeState)>,
    best: &mut (usize, Vec<Call>),
    budget: &mut usize,
) -> Option<bool> {
    if required.iter().all(|&i| is_done(&done, i)) {
        return Some(true);
    }
    if *budget == 0 {
        return None;
    }
    *budget -= 1;
    if !seen.insert((done.clone(), state.clone())) {
        return Some(false);
    }
    // Only a call invoked before every pending call completed can be next.
    let horizon = (0..calls.len())
        .filter(|&i| !is_done(&done, i))
        .map(|i| calls[i].completed)
        .min()
        .unwrap_or(u64::MAX);
    let mut candidates = Vec::new();
    for i in 0..calls.len() {
        if is_done(&done, i) || calls[i].invoked > horizon {
            continue;
        }
        candidates.push(i);
        let (next, out) = state.step(&calls[i].input);
        if calls[i].output.as_ref().is_some_and(|o| *o != out) {
            continue;
        }
        let mut d = done.clone();
        d[i / 64] |= 1 << (i % 64);
        if search(calls, required, next, d, count + 1, seen, best, budget)? {
            return Some(true);
        }
    }
    if count >= best.0 {
        *best = (
            count,
            candidates.into_iter().map(|i| calls[i].clone()).collect(),
        );
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::model::{Mode, Observed};
    use std::collections::BTreeMap;

    fn call(input: Input, output: Option<Output>, invoked: u64, completed: u64) -> Call {
        let completed = if output.is_none() {
            u64::MAX
        } else {
            completed
        };
        Call {
            input,
            output,
            invoked,
            completed,
        }
    }

    fn reg(v: &str) -> Input {
        Input::Register { value: v.into() }
    }

    fn read(v: Option<&str>) -> Option<Output> {
        Some(Output::Read(v.map(|v| Observed {
            value: v.into(),
            claims: BTreeMap::new(),
        })))
    }

    #[test]
    fn accepts_overlapping_and_sequential_histories() {
        // A read overlapping a write may see either value.
        let h = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(reg("b"), Some(Output::Ok), 20, 40),
            call(Input::Read, read(Some("a")), 25, 30),
            call(Input::Read, read(Some("b")), 50, 60),
        ];
        assert_eq!(check(&h), Ok(true));
    }

    #[test]
    fn rejects_a_stale_read_after_a_completed_write() {
        let h = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(reg("b"), Some(Output::Ok), 20, 30),
            call(Input::Read, read(Some("a")), 40, 50),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn rejects_a_lost_acknowledged_write_and_an_invented_value() {
        let lost = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(Input::Read, read(None), 20, 30),
        ];
        assert!(check(&lost).is_err());
        let invented = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(Input::Read, read(Some("z")), 20, 30),
        ];
        assert!(check(&invented).is_err());
    }

    #[test]
    fn unknown_outcomes_may_or_may_not_have_happened() {
        let took_effect = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(reg("b"), None, 20, 0),
            call(Input::Read, read(Some("b")), 30, 40),
        ];
        assert_eq!(check(&took_effect), Ok(true));
        let did_not = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(reg("b"), None, 20, 0),
            call(Input::Read, read(Some("a")), 30, 40),
        ];
        assert_eq!(check(&did_not), Ok(true));
        // But not "once seen, then gone": b was read, so a later read of a is stale.
        let flapping = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(reg("b"), None, 20, 0),
            call(Input::Read, read(Some("b")), 30, 40),
            call(Input::Read, read(Some("a")), 50, 60),
        ];
        assert!(check(&flapping).is_err());
    }

    #[test]
    fn rejects_two_writers_on_a_single_writer_volume() {
        let w = |a: &str| Input::Claim {
            alloc: a.into(),
            node: "n".into(),
            mode: Mode::Write,
        };
        let h = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(w("x"), Some(Output::Ok), 20, 30),
            call(w("y"), Some(Output::Ok), 20, 35),
        ];
        assert!(check(&h).is_err());
        let h = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(w("x"), Some(Output::Ok), 20, 30),
            call(w("y"), Some(Output::MaxClaims), 20, 35),
        ];
        assert_eq!(check(&h), Ok(true));
    }
}
