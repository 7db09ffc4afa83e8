//! Batched rounds: many callers that each need "a fresh answer from the leader" share one round
//! trip. A caller joins the next round that has not started yet, never one already under way,
//! so the answer it gets was asked for after it arrived: a read index obtained that way is at
//! least the commit index at the moment of the call, which is all linearizability asks.

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::sync::{Arc, Mutex};

/// One round at a time, each for every caller that joined before it began.
pub(crate) struct Rounds<T: Clone> {
    /// The round callers join now: created by the first caller after the last one began.
    next: Arc<Mutex<Option<Shared<BoxFuture<'static, T>>>>>,
    /// Held by the round under way, so the next one begins only after it ends.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl<T: Clone> Clone for Rounds<T> {
    fn clone(&self) -> Self {
        Rounds {
            next: self.next.clone(),
            turn: self.turn.clone(),
        }
    }
}

impl<T: Clone> Default for Rounds<T> {
    fn default() -> Self {
        Rounds {
            next: Arc::new(Mutex::new(None)),
            turn: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Rounds<T> {
    /// Joins the next round, or creates it with `round` if no caller has since the last began.
    pub(crate) async fn join(&self, round: impl FnOnce() -> BoxFuture<'static, T>) -> T {
        let shared = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            match next.as_ref() {
                Some(pending) => pending.clone(),
                None => {
                    let (slot, turn, work) = (self.next.clone(), self.turn.clone(), round());
                    let created = async move {
                        let _turn = turn.lock_owned().await;
                        // Beginning: whoever comes from now on waits for the round after this.
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
                        work.await
                    }
                    .boxed()
                    .shared();
                    *next = Some(created.clone());
                    created
                }
            }
        };
        shared.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::sync::oneshot;

    /// Callers that arrive while a round is under way share the next one, and every caller gets
    /// the answer of a round that began after it arrived.
    #[tokio::test]
    async fn late_callers_share_the_next_round_never_the_running_one() {
        let rounds: Rounds<u64> = Rounds::default();
        let started = Arc::new(AtomicU64::new(0));
        let (release_first, first_gate) = oneshot::channel::<()>();
        let gate = Arc::new(Mutex::new(Some(first_gate)));
        let make = |started: Arc<AtomicU64>, gate: Arc<Mutex<Option<oneshot::Receiver<()>>>>| {
            move || -> BoxFuture<'static, u64> {
                async move {
                    let n = started.fetch_add(1, Ordering::SeqCst) + 1;
                    let wait = gate.lock().ok().and_then(|mut g| g.take());
                    if let Some(w) = wait {
                        let _ = w.await;
                    }
                    n
                }
                .boxed()
            }
        };
        let first = tokio::spawn({
            let (r, s, g) = (rounds.clone(), started.clone(), gate.clone());
            async move { r.join(make(s, g)).await }
        });
        // Wait until the first round is under way (it holds the gate).
        while started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let late: Vec<_> = (0..5)
            .map(|_| {
                let (r, s, g) = (rounds.clone(), started.clone(), gate.clone());
                tokio::spawn(async move { r.join(make(s, g)).await })
            })
            .collect();
        // Let the late callers join before the first round ends.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            started.load(Ordering::SeqCst),
            1,
            "the next round waits for the first"
        );
        let _ = release_first.send(());
        assert_eq!(first.await.ok(), Some(1));
        for l in late {
            assert_eq!(l.await.ok(), Some(2), "late callers share the second round");
        }
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }
}
