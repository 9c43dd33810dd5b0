//! Operating-system calls: the monotonic clock and file-change notification. The only module
//! with `unsafe` code in this crate.

#[cfg(feature = "sqlite")]
use std::path::Path;
#[cfg(feature = "sqlite")]
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// CLOCK_MONOTONIC in nanoseconds: the clock every process on the host shares, and the one
/// Python's `time.monotonic_ns()` reads, so timestamps written by Rust, Python and shell units
/// can be subtracted from each other.
///
/// On platforms without `clock_gettime` it falls back to a process-local monotonic clock
/// (comparable only within one process).
pub fn monotonic_ns() -> i64 {
    imp::monotonic_ns()
}

/// Wall-clock time as Unix seconds (the `Time` column).
#[cfg(feature = "sqlite")]
pub(crate) fn unix_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(unix)]
mod imp {
    #[cfg_attr(
        target_pointer_width = "64",
        expect(
            clippy::useless_conversion,
            reason = "time_t and c_long are 32-bit on some targets"
        )
    )]
    pub(super) fn monotonic_ns() -> i64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is supported on every
        // unix this crate builds for, and clock_gettime writes nothing else.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
        if rc != 0 {
            return super::fallback::monotonic_ns();
        }
        i64::from(ts.tv_sec)
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(ts.tv_nsec))
    }
}

#[cfg(not(unix))]
mod imp {
    pub(super) fn monotonic_ns() -> i64 {
        super::fallback::monotonic_ns()
    }
}

mod fallback {
    use std::sync::OnceLock;
    use std::time::Instant;

    pub(super) fn monotonic_ns() -> i64 {
        static START: OnceLock<Instant> = OnceLock::new();
        let start = START.get_or_init(Instant::now);
        i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX)
    }
}

/// Wakes a waiter when a file is written (inotify `IN_MODIFY` on Linux): the run database's
/// `-wal` file is appended to by every commit, so [`Probe::wait_for`](crate::Probe::wait_for)
/// can sleep until something was written instead of waking up every millisecond.
#[cfg(feature = "sqlite")]
#[derive(Debug)]
pub(crate) struct FileWatch {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
}

#[cfg(feature = "sqlite")]
impl FileWatch {
    /// Watches `path` for writes; `None` where that is not possible (not Linux, no such file,
    /// inotify limits reached): the caller then polls.
    #[cfg(target_os = "linux")]
    pub(crate) fn new(path: &Path) -> Option<FileWatch> {
        use std::os::fd::{FromRawFd, OwnedFd};
        use std::os::unix::ffi::OsStrExt;

        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: plain syscall without pointers.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
        let wd = unsafe { libc::inotify_add_watch(raw, c_path.as_ptr(), libc::IN_MODIFY) };
        (wd >= 0).then_some(FileWatch { fd })
    }

    /// Not available on this platform.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn new(_path: &Path) -> Option<FileWatch> {
        None
    }

    /// Blocks until the file was written since the last call, or `timeout` passes. Returns
    /// whether it was written.
    #[cfg(target_os = "linux")]
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        use std::os::fd::AsRawFd;

        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&raw mut pfd, 1, ms) };
        ready > 0 && self.drain()
    }

    /// Consumes the queued notifications without blocking; returns whether there were any.
    #[cfg(target_os = "linux")]
    pub(crate) fn drain(&self) -> bool {
        use std::os::fd::AsRawFd;

        let mut any = false;
        let mut buf = [0_u8; 4096];
        loop {
            // SAFETY: `buf` is writable for its whole length; the descriptor is non-blocking.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return any;
            }
            any = true;
        }
    }

    /// The descriptor that becomes readable on a write (for `poll`-style multiplexing).
    #[cfg(target_os = "linux")]
    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// Not available on this platform.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        std::thread::sleep(timeout);
        false
    }

    /// Not available on this platform.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn drain(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_never_goes_back() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(a > 0);
        assert!(b >= a);
    }

    #[cfg(all(target_os = "linux", feature = "sqlite"))]
    #[test]
    fn file_watch_wakes_on_write() {
        use std::io::Write;

        let path = std::env::temp_dir().join(format!("testrium-watch-{}", std::process::id()));
        let mut file = std::fs::File::create(&path).expect("create");
        let watch = FileWatch::new(&path).expect("inotify");
        assert!(!watch.wait(Duration::ZERO));
        file.write_all(b"x").expect("write");
        assert!(watch.wait(Duration::from_secs(10)));
        assert!(!watch.wait(Duration::ZERO), "events are drained");
        let _ = std::fs::remove_file(&path);
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn unix_time_is_after_2020() {
        assert!(unix_time() > 1_577_836_800.0);
    }
}
