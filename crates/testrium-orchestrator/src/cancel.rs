//! Cancellation of a run by its caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

const RUNNING: u8 = 0;
const CANCELLED: u8 = 1;
const KILL_NOW: u8 = 2;

/// A cheap, clonable flag the caller flips to stop a [`Run`](crate::Run).
///
/// The library installs no signal handler: a binary wires SIGINT/SIGTERM to
/// [`cancel`](CancelToken::cancel) itself (the `testrium` CLI does, with signal-hook, and calls
/// [`kill_now`](CancelToken::kill_now) on a second Ctrl-C); a test flips it from another
/// thread. The run then tears every unit down (SIGTERM, grace period, SIGKILL — or SIGKILL at
/// once after `kill_now`), records the statuses, and returns an outcome marked interrupted.
/// The supervisor looks at the token at least every 10 ms.
///
/// ```
/// let token = testrium_orchestrator::CancelToken::new();
/// let for_handler = token.clone();
/// for_handler.cancel();
/// assert!(token.is_cancelled());
/// assert!(!token.is_kill_now());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicU8>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Asks every run holding this token (or a clone) to stop, with the usual grace period.
    /// Async-signal-safe (one atomic store).
    pub fn cancel(&self) {
        let _ = self
            .0
            .compare_exchange(RUNNING, CANCELLED, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Asks every run holding this token to stop now: units get SIGKILL without a grace period
    /// (the second Ctrl-C). Implies [`cancel`](CancelToken::cancel).
    pub fn kill_now(&self) {
        self.0.store(KILL_NOW, Ordering::SeqCst);
    }

    /// Whether [`cancel`](CancelToken::cancel) or [`kill_now`](CancelToken::kill_now) was
    /// called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst) != RUNNING
    }

    /// Whether [`kill_now`](CancelToken::kill_now) was called.
    pub fn is_kill_now(&self) -> bool {
        self.0.load(Ordering::SeqCst) == KILL_NOW
    }
}
