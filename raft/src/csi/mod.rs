//! The CSI endpoint: the one place every request passes, whichever door it came through (the
//! HTTP gateway or gRPC `ClusterService`). Each operation checks the caller's token, validates,
//! then writes through the leader (which admits the command again, against its own state) or
//! reads, and answers a typed result or a `CsiError`. Blocking queries wait here too, and check
//! the caller again each time they wake.

mod acl;
mod operator;
mod store;
mod volumes;

pub use store::{Store, now_ns};

use crate::state::{State, command_allowed};
use rand::Rng;
use stowage_proto::acl::{Acl, AclToken, Token};
use stowage_proto::api::{CsiError, MAX_WAIT, QueryOptions, Read};
use stowage_proto::{ClusterError, Command, Outcome, Watch};
use tokio::time::Instant;

/// The endpoint over a `Store`. Cloning shares the store.
#[derive(Clone, Debug)]
pub struct Csi<S> {
    store: S,
}

/// What a read found: the value, the index to report, and the index the watched data last
/// changed at (a blocking query returns once it exceeds the caller's index).
struct Found<T> {
    value: T,
    index: u64,
    changed_at: u64,
}

/// Who a caller is: what it may do, and its token when it has one.
struct Caller<'s> {
    acl: Acl,
    token: Option<&'s AclToken>,
}

impl<S: Store> Csi<S> {
    pub fn new(store: S) -> Self {
        Csi { store }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Who the caller presenting `token` is, by the state `s`: everyone may do everything while
    /// ACLs are off; a malformed, unknown or expired token is refused, like no permission.
    fn caller<'s>(&self, s: &'s State, token: &Token) -> Result<Caller<'s>, CsiError> {
        if !self.store.acl_enabled() {
            return Ok(Caller {
                acl: Acl::Management,
                token: None,
            });
        }
        let (acl, token) = s
            .acl
            .resolve(token, now_ns())
            .map_err(|_| CsiError::PermissionDenied)?;
        Ok(Caller { acl, token })
    }

    /// What the caller holding `token` may do, after this node caught up with the leader when
    /// its own copy of the ACLs does not know the token: for a stream that filters what it
    /// sends by the caller's rights instead of refusing the whole request.
    pub async fn rights(&self, token: &Token) -> Result<Acl, CsiError> {
        if !self.store.acl_enabled() {
            return Ok(Acl::Management);
        }
        let resolve = |s: &State| self.caller(s, token).map(|c| c.acl);
        if let Ok(acl) = self.store.read(resolve) {
            return Ok(acl);
        }
        self.store.settle(false).await?;
        self.store.read(resolve)
    }

    /// Refuses the caller holding `token` unless what it may do is `allowed`, before anything
    /// about its request is checked: a caller without rights learns nothing, not even what it
    /// got wrong. This node's copy of the ACLs may lag, so it catches up before refusing.
    async fn authorize(
        &self,
        token: &Token,
        allowed: impl Fn(&Acl) -> bool,
    ) -> Result<(), CsiError> {
        if !self.store.acl_enabled() {
            return Ok(());
        }
        let check = |s: &State| self.caller(s, token).is_ok_and(|c| allowed(&c.acl));
        if self.store.read(check) {
            return Ok(());
        }
        self.store.settle(false).await?;
        require(self.store.read(check))
    }

    /// Checks and applies `command` for the caller holding `token`: authorized here first,
    /// then admitted by the leader against its own ACL state, then checked again by apply. A
    /// refusal by the domain rules is a `CsiError` like any other. Returns what apply answered
    /// and the table index to report.
    async fn write(&self, token: &Token, command: Command) -> Result<(Outcome, u64), CsiError> {
        self.authorize(token, |acl| command_allowed(acl, &command))
            .await?;
        command.check()?;
        let name = command.name();
        let resp = self.store.write(command, token).await?;
        let outcome = resp.result?;
        tracing::trace!(command = name, index = resp.index, "applied");
        Ok((outcome, resp.table_index))
    }

    /// Runs `query` for the caller holding `token` on a state fresh enough for `opts`, then, for
    /// a blocking query, again each time what `watch` names changes, until the data changed
    /// after `opts.index` or the wait (plus up to 1/16 of it, so that woken clients spread out)
    /// runs out. The caller is checked on every run, so a token deleted while its query waits
    /// is refused when the query wakes.
    async fn blocking<T>(
        &self,
        token: &Token,
        opts: &QueryOptions,
        watch: Watch,
        query: impl Fn(&State, &Caller<'_>) -> Result<Found<T>, CsiError>,
    ) -> Result<Read<T>, CsiError> {
        self.store.settle(opts.stale).await?;
        let run = |s: &State| query(s, &self.caller(s, token)?);
        let mut found = match self.store.read(run) {
            // A stale read runs on whatever this node has; it may not know the caller's token
            // or policy yet (a node restoring from a snapshot knows none), so it catches up
            // before refusing.
            Err(CsiError::PermissionDenied) if opts.stale => {
                self.store.settle(false).await?;
                self.store.read(run)?
            }
            other => other?,
        };
        // A blocking query (an index given) waits for a change after that index, if this node
        // has room for one more.
        if opts.index > 0 && found.changed_at <= opts.index {
            self.store.room_for_watcher()?;
        }
        if opts.index > 0 {
            let wait = if opts.wait.is_zero() {
                MAX_WAIT
            } else {
                opts.wait.min(MAX_WAIT)
            };
            let jitter_ms = rand::rng().random_range(0..=(wait.as_millis() as u64 / 16).max(1) - 1);
            let deadline = Instant::now() + wait + std::time::Duration::from_millis(jitter_ms);
            while found.changed_at <= opts.index && Instant::now() < deadline {
                let woke = self.store.wait(&watch, opts.index, deadline).await;
                // The first read was as fresh as the caller asked; this node has applied
                // everything since, so its own state is at least as fresh now.
                found = self.store.read(run)?;
                if woke <= opts.index {
                    break;
                }
                found.changed_at = found.changed_at.max(woke);
            }
        }
        self.store.make_durable().await?;
        Ok(Read {
            value: found.value,
            index: found.index,
        })
    }
}

/// Apply answered a command with an outcome of another command's kind: a fault of this server.
fn mismatched(command: &str, outcome: &Outcome) -> CsiError {
    CsiError::Cluster(ClusterError::Internal(format!(
        "apply answered {command} with {outcome:?}"
    )))
}

/// Refuses unless `allowed`.
fn require(allowed: bool) -> Result<(), CsiError> {
    if allowed {
        Ok(())
    } else {
        Err(CsiError::PermissionDenied)
    }
}
