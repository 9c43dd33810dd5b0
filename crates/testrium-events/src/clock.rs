//! Clocks. The only module with `unsafe` code in this crate.

use std::time::{SystemTime, UNIX_EPOCH};

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

    #[test]
    fn unix_time_is_after_2020() {
        assert!(unix_time() > 1_577_836_800.0);
    }
}
