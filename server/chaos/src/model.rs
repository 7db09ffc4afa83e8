//! The sequential specification the checker holds histories to: one volume with its claims, under
//! the rules the workload exercises (multi-node-single-writer, one plugin that is always healthy).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A claim's mode, as far as the model cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mode {
    Read,
    Write,
}

/// What one workload operation asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// Register or update the volume with a unique context value.
    Register {
        value: String,
    },
    Claim {
        alloc: String,
        node: String,
        mode: Mode,
    },
    /// Release to ready-to-free: the claim is gone.
    Release {
        alloc: String,
    },
    Detach {
        node: String,
    },
    Deregister,
    /// A linearizable read.
    Read,
}

/// What the system answered (or, from the model, should have answered).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Output {
    Ok,
    NotFound,
    /// A claim refused for the claim limit.
    MaxClaims,
    InUse,
    Read(Option<Observed>),
}

/// A volume as a read shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Observed {
    pub value: String,
    pub claims: BTreeMap<String, Mode>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VolumeState {
    pub exists: bool,
    pub value: String,
    /// alloc → (mode, node)
    pub claims: BTreeMap<String, (Mode, String)>,
}

impl VolumeState {
    fn observed(&self) -> Option<Observed> {
        self.exists.then(|| Observed {
            value: self.value.clone(),
            claims: self
                .claims
                .iter()
                .map(|(a, (m, _))| (a.clone(), *m))
                .collect(),
        })
    }

    /// Applies `input`, returning the new state and the answer it must produce.
    pub fn step(&self, input: &Input) -> (VolumeState, Output) {
        let mut next = self.clone();
        let out = match input {
            Input::Register { value } => {
                next.exists = true;
                next.value = value.clone();
                Output::Ok
            }
            Input::Read => Output::Read(self.observed()),
            _ if !self.exists => Output::NotFound,
            Input::Claim { alloc, node, mode } => {
                let held = self.claims.get(alloc).map(|(m, _)| *m);
                if held == Some(*mode) {
                    Output::Ok
                } else if *mode == Mode::Write
                    && self.claims.values().any(|(m, _)| *m == Mode::Write)
                {
                    Output::MaxClaims
                } else {
                    next.claims.insert(alloc.clone(), (*mode, node.clone()));
                    Output::Ok
                }
            }
            Input::Release { alloc } => {
                next.claims.remove(alloc);
                Output::Ok
            }
            Input::Detach { node } => {
                next.claims.retain(|_, (_, n)| n != node);
                Output::Ok
            }
            Input::Deregister => {
                if self.claims.is_empty() {
                    next = VolumeState::default();
                    Output::Ok
                } else {
                    Output::InUse
                }
            }
        };
        (next, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_writer_many_readers() {
        let s = VolumeState::default();
        let (s, out) = s.step(&Input::Claim {
            alloc: "a".into(),
            node: "n".into(),
            mode: Mode::Write,
        });
        assert_eq!(out, Output::NotFound);
        let (s, _) = s.step(&Input::Register { value: "v1".into() });
        let w = |a: &str| Input::Claim {
            alloc: a.into(),
            node: "n1".into(),
            mode: Mode::Write,
        };
        let (s, out) = s.step(&w("a"));
        assert_eq!(out, Output::Ok);
        assert_eq!(s.step(&w("a")).1, Output::Ok, "re-sent claim");
        assert_eq!(s.step(&w("b")).1, Output::MaxClaims);
        let (s, out) = s.step(&Input::Claim {
            alloc: "r".into(),
            node: "n2".into(),
            mode: Mode::Read,
        });
        assert_eq!(out, Output::Ok);
        assert_eq!(s.step(&Input::Deregister).1, Output::InUse);
        let (s, _) = s.step(&Input::Detach { node: "n1".into() });
        assert_eq!(
            s.step(&w("b")).1,
            Output::Ok,
            "the writer's node was detached"
        );
        let (s, _) = s.step(&Input::Release { alloc: "r".into() });
        let (s, out) = s.step(&Input::Deregister);
        assert_eq!((out, s.exists), (Output::Ok, false));
    }
}
