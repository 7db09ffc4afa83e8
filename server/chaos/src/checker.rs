//! Linearizability per volume, Wing–Gong style with memoization (as Porcupine does for etcd's
//! robustness tests): find an order of the operations, consistent with real time, in which the
//! model gives every answer that was observed. An operation whose outcome is unknown may take
//! effect at any point after it was invoked, or never.

use super::model::{Input, Output, VolumeState};
use std::collections::{HashMap, HashSet};

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

const SEARCH_LIMIT: usize = 5_000_000;

/// Checks one volume's history. `Err` carries the evidence; `Ok(false)` means the search gave up
/// (too many states), which is reported, never counted as a pass.
pub fn check(calls: &[Call]) -> Result<bool, Violation> {
    let mut calls: Vec<Call> = calls.to_vec();
    let observed = bound_observed_registers(&mut calls);
    calls.sort_by_key(|c| c.invoked);
    let required = calls.iter().filter(|c| c.output.is_some()).count();
    match search(&calls, required, &observed) {
        Search::Linearizable => Ok(true),
        Search::GaveUp => Ok(false),
        Search::Stuck(linearized, stuck_at) => Err(Violation {
            linearized,
            total: calls.len(),
            stuck_at,
        }),
    }
}

/// Values are unique, so a register whose outcome is unknown but whose value some read returned
/// certainly took effect, and before that read completed: it gets that completion as its own.
/// This is a fact about the history, not a guess, and it keeps such calls from staying
/// pending (and multiplying the search) for the rest of the run. Returns every value read.
fn bound_observed_registers(calls: &mut [Call]) -> HashSet<String> {
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    for c in calls.iter() {
        if let Some(Output::Read(Some(o))) = &c.output {
            let t = first_seen.entry(o.value.clone()).or_insert(c.completed);
            *t = (*t).min(c.completed);
        }
    }
    for c in calls.iter_mut() {
        if let (Input::Register { value }, None) = (&c.input, &c.output)
            && let Some(&t) = first_seen.get(value)
        {
            c.completed = t.max(c.invoked);
        }
    }
    first_seen.into_keys().collect()
}

/// Whether linearizing the unknown-outcome call `call` on `state` can ever be needed. Leaving it
/// out stays possible (it may never have happened), so a placement that no valid order needs is
/// pruned; both rules are exact, they never hide a violation:
/// - a call that leaves the state as it is changes nothing that leaving it out would not;
/// - a register of a value no read ever returned, on a volume that exists, only swaps the value
///   for one that every later read must not see: only resurrecting a deregistered volume can
///   matter.
fn worth_placing(
    call: &Call,
    state: &VolumeState,
    next: &VolumeState,
    observed: &HashSet<String>,
) -> bool {
    if call.output.is_some() {
        return true;
    }
    if next == state {
        return false;
    }
    match &call.input {
        Input::Register { value } => !state.exists || observed.contains(value),
        _ => true,
    }
}

enum Search {
    Linearizable,
    GaveUp,
    Stuck(usize, Vec<Call>),
}

/// One step of the depth-first search: a state reached by linearizing the calls in `done`.
struct Frame {
    state: VolumeState,
    done: Vec<u64>,
    /// Every call before `lo` is done.
    lo: usize,
    count: usize,
    required_left: usize,
    candidates: Vec<usize>,
    next: usize,
}

fn is_done(done: &[u64], i: usize) -> bool {
    done[i / 64] & (1 << (i % 64)) != 0
}

/// The calls that may be linearized next: not done, and invoked before every pending call
/// completed. Calls are sorted by invocation, and a call completes after it is invoked, so the
/// scan can stop at the first call invoked after the earliest pending completion.
fn candidates(calls: &[Call], done: &[u64], lo: usize) -> Vec<usize> {
    let mut horizon = u64::MAX;
    let mut end = lo;
    while end < calls.len() && calls[end].invoked <= horizon {
        if !is_done(done, end) {
            horizon = horizon.min(calls[end].completed);
        }
        end += 1;
    }
    (lo..end)
        .filter(|&i| !is_done(done, i) && calls[i].invoked <= horizon)
        .collect()
}

/// Iterative, so that histories of any length fit on the stack.
fn search(calls: &[Call], required: usize, observed: &HashSet<String>) -> Search {
    if required == 0 {
        return Search::Linearizable;
    }
    let done = vec![0u64; calls.len().div_ceil(64)];
    let root_candidates = candidates(calls, &done, 0);
    let mut stack = vec![Frame {
        state: VolumeState::default(),
        done,
        lo: 0,
        count: 0,
        required_left: required,
        candidates: root_candidates,
        next: 0,
    }];
    let mut seen: HashSet<(Vec<u64>, VolumeState)> = HashSet::new();
    let mut best: (usize, Vec<Call>) = (0, Vec::new());
    let mut budget = SEARCH_LIMIT;
    while let Some(top) = stack.last_mut() {
        if top.next >= top.candidates.len() {
            if top.count >= best.0 {
                best = (
                    top.count,
                    top.candidates.iter().map(|&i| calls[i].clone()).collect(),
                );
            }
            stack.pop();
            continue;
        }
        let i = top.candidates[top.next];
        top.next += 1;
        let (state, out) = top.state.step(&calls[i].input);
        if calls[i].output.as_ref().is_some_and(|o| *o != out)
            || !worth_placing(&calls[i], &top.state, &state, observed)
        {
            continue;
        }
        let required_left = top.required_left - usize::from(calls[i].output.is_some());
        if required_left == 0 {
            return Search::Linearizable;
        }
        let mut done = top.done.clone();
        done[i / 64] |= 1 << (i % 64);
        let mut lo = top.lo;
        while lo < calls.len() && is_done(&done, lo) {
            lo += 1;
        }
        let count = top.count + 1;
        if budget == 0 {
            return Search::GaveUp;
        }
        budget -= 1;
        if !seen.insert((done.clone(), state.clone())) {
            continue;
        }
        let next_candidates = candidates(calls, &done, lo);
        stack.push(Frame {
            state,
            done,
            lo,
            count,
            required_left,
            candidates: next_candidates,
            next: 0,
        });
    }
    Search::Stuck(best.0, best.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mode, Observed};
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

    /// A write claim by allocation `a`.
    fn w(a: &str) -> Input {
        Input::Claim {
            alloc: a.into(),
            node: "n".into(),
            mode: Mode::Write,
        }
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
    fn a_read_value_bounds_its_unknown_register() {
        // b's outcome is unknown, but a read returned it, so it happened before that read ended:
        // a later read of the older value is stale.
        let h = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(reg("b"), None, 20, 0),
            call(Input::Read, read(Some("b")), 30, 40),
            call(Input::Read, read(Some("a")), 50, 60),
        ];
        assert!(check(&h).is_err());
        // A read that ended before the register began cannot have seen it.
        let h = vec![
            call(Input::Read, read(Some("b")), 0, 10),
            call(reg("b"), None, 20, 0),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn pruning_keeps_the_placements_that_explain_a_history() {
        // The unknown claim of x is the only explanation for y's refusal.
        let h = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(w("x"), None, 20, 0),
            call(w("y"), Some(Output::MaxClaims), 30, 40),
        ];
        assert_eq!(check(&h), Ok(true));
        // An unread register is needed when it is what brought a deregistered volume back.
        let h = vec![
            call(reg("a"), Some(Output::Ok), 0, 10),
            call(Input::Deregister, Some(Output::Ok), 20, 30),
            call(reg("b"), None, 40, 0),
            call(w("x"), Some(Output::Ok), 50, 60),
            call(reg("c"), Some(Output::Ok), 70, 80),
            call(Input::Read, read_claimed("c", "x"), 90, 100),
        ];
        assert_eq!(check(&h), Ok(true));
    }

    fn read_claimed(v: &str, writer: &str) -> Option<Output> {
        Some(Output::Read(Some(Observed {
            value: v.into(),
            claims: BTreeMap::from([(writer.to_string(), Mode::Write)]),
        })))
    }

    #[test]
    fn many_unknown_outcomes_do_not_blow_up_the_search() {
        // Every client timing out during a pause leaves calls open to the end of the history.
        // Proving a violation means trying every order, and without pruning each open call
        // doubles those; this one must be found, not given up on.
        let mut h = vec![call(reg("v0"), Some(Output::Ok), 0, 1)];
        for n in 0..30u64 {
            let release = Input::Release {
                alloc: format!("r{n}"),
            };
            h.push(call(release, None, 2 + n, 0));
            h.push(call(reg(&format!("u{n}")), None, 2 + n, 0));
        }
        for n in 1..200u64 {
            let v = format!("v{n}");
            h.push(call(reg(&v), Some(Output::Ok), 100 * n, 100 * n + 60));
            h.push(call(
                Input::Read,
                read(Some(&v)),
                100 * n + 50,
                100 * n + 90,
            ));
        }
        assert_eq!(check(&h), Ok(true));
        h.push(call(Input::Read, read(Some("v1")), 100_000, 100_001));
        assert!(check(&h).is_err());
    }

    #[test]
    fn long_histories_are_checked_without_exhausting_the_stack() {
        // Ten minutes of chaos put tens of thousands of calls on one volume.
        let mut h = Vec::new();
        for n in 0..10_000u64 {
            let v = format!("v{n}");
            h.push(call(reg(&v), Some(Output::Ok), 4 * n, 4 * n + 1));
            h.push(call(Input::Read, read(Some(&v)), 4 * n + 2, 4 * n + 3));
        }
        assert_eq!(check(&h), Ok(true));
        h.push(call(Input::Read, read(Some("v0")), 1_000_000, 1_000_001));
        assert!(check(&h).is_err());
    }

    #[test]
    fn rejects_two_writers_on_a_single_writer_volume() {
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
