//! SIGINT, SIGTERM and SIGHUP (terminal closed, ssh connection dropped) for `testrium run`: the
//! first one cancels the run (units torn down with the grace period, statuses, reports and
//! history still written, exit 130), the second kills the units at once. Only the binary
//! installs handlers; the libraries never do.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use testrium_orchestrator::CancelToken;

/// Handlers installed for the duration of a run; dropping it removes them.
#[derive(Debug)]
pub struct SignalGuard {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

/// Wires SIGINT, SIGTERM and SIGHUP to `token`; `notice` is called (on the signal thread) with the
/// number of signals received so far, to tell the user what happens.
pub fn install(
    token: CancelToken,
    notice: Arc<dyn Fn(u32) + Send + Sync>,
) -> io::Result<SignalGuard> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("testrium-signals".into())
        .spawn(move || {
            let mut count = 0;
            for _ in signals.forever() {
                count += 1;
                if count == 1 {
                    token.cancel();
                } else {
                    token.kill_now();
                }
                notice(count);
            }
        })?;
    Ok(SignalGuard {
        handle,
        thread: Some(thread),
    })
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
