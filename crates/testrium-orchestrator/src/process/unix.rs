//! Every `unsafe` and Linux-specific piece of process handling, in one place.
//!
//! - each unit runs in its own process group (`setpgid(0, 0)` in the child), so one `killpg`
//!   reaches the unit and the children it did not move elsewhere;
//! - each unit gets `PR_SET_PDEATHSIG(SIGKILL)`, so it dies with the runner's spawning thread
//!   even when the runner is SIGKILLed;
//! - the runner can make itself a child subreaper (`PR_SET_CHILD_SUBREAPER`), so orphans of
//!   units (double-forked daemons, `setsid` children) are re-parented to it, not to init;
//! - every unit process tree carries a marker in its environment ([`ENV_RUN_ID`]); at teardown
//!   `/proc` is swept for processes carrying the marker of the attempt, and at start for
//!   markers of runners that died;
//! - where the runner may create one, each attempt has a cgroup every unit joins before
//!   `exec` ([`join_cgroup`], see `cgroup.rs`), or is born in (`clone3(CLONE_INTO_CGROUP)`,
//!   see `clone.rs`): teardown kills it whole;
//! - child exits are watched through pidfds (`pidfd_open`) and `ppoll`, so the supervisor
//!   never blocks on one child, and reaped with `waitpid(pid)` (never `waitpid(-1)`, which
//!   would steal the children of other runs or of the embedding program).

use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use nix::libc;
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::Signal;
use nix::sys::time::TimeSpec;
use nix::unistd::Pid;

/// The environment variable marking every process of one attempt:
/// `<runner pid>.<runner start time>.<pid namespace inode>.<run id>`.
pub(crate) const ENV_RUN_ID: &str = "TESTRIUM_RUN_ID";

/// Makes the calling process a child subreaper: orphaned descendants are re-parented to it.
/// Process-wide and idempotent.
pub(crate) fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Prepares `cmd` to run as a unit: its own process group, and SIGKILL when the spawning
/// thread of the runner dies.
pub(crate) fn configure_child(cmd: &mut Command) {
    cmd.process_group(0);
    let runner = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // system calls (prctl, getppid, kill); it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The runner may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() as u32 != runner {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// Makes the child join a cgroup before it runs anything: between fork and exec it writes
/// `0` (itself) to `procs`, an open `cgroup.procs`. Best effort: a refused write leaves the
/// child where it was.
pub(crate) fn join_cgroup(cmd: &mut Command, procs: std::os::fd::RawFd) {
    // SAFETY: the closure runs between fork and exec and only calls write(2) on a descriptor
    // the parent keeps open for the child's whole spawn; it allocates nothing and takes no
    // lock.
    unsafe {
        cmd.pre_exec(move || {
            libc::write(procs, b"0".as_ptr().cast(), 1);
            Ok(())
        });
    }
}

/// A pidfd: becomes readable when the process exits.
#[derive(Debug)]
pub(crate) struct PidFd(OwnedFd);

impl PidFd {
    /// Opens a pidfd for `pid` (Linux 5.3+). The process must not have been reaped yet.
    pub(crate) fn open(pid: u32) -> io::Result<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new file descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
        // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// A pidfd the kernel gave otherwise (`clone3` with `CLONE_PIDFD`).
    pub(crate) fn from_owned(fd: OwnedFd) -> PidFd {
        PidFd(fd)
    }
}

/// Waits until one of `fds` becomes readable (a process exited) or `extra` does, or `timeout`
/// passes. Returns early on EINTR.
pub(crate) fn wait_readable(
    fds: &[&PidFd],
    extra: Option<BorrowedFd<'_>>,
    timeout: Duration,
) -> io::Result<()> {
    let mut poll_fds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd.0.as_fd(), PollFlags::POLLIN))
        .chain(extra.map(|fd| PollFd::new(fd, PollFlags::POLLIN)))
        .collect();
    let ts = TimeSpec::from_duration(timeout);
    match nix::poll::ppoll(&mut poll_fds, Some(ts), None) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Sends `signal` to the process group `pgid`. Returns false when the group no longer exists.
pub(crate) fn signal_group(pgid: u32, signal: Signal) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    nix::sys::signal::killpg(Pid::from_raw(pgid), signal).is_ok()
}

/// Makes the child `pid` the leader of a process group of its own, as it does itself first
/// thing (a fork of the Python fork server): whichever is first. Best effort — it may have
/// exited, or set it and started a program already.
pub(crate) fn set_own_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let pid = Pid::from_raw(pid);
        let _ = nix::unistd::setpgid(pid, pid);
    }
}

/// Whether the process group `pgid` still has members.
pub(crate) fn group_exists(pgid: u32) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    nix::sys::signal::killpg(Pid::from_raw(pgid), None).is_ok()
}

/// Sends `signal` to one process. Returns false when it no longer exists.
pub(crate) fn signal_process(pid: u32, signal: Signal) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    nix::sys::signal::kill(Pid::from_raw(pid), signal).is_ok()
}

/// Reaps the child `pid` if it exited (WNOHANG), with its status as std reports it.
pub(crate) fn try_wait_pid(pid: u32) -> io::Result<Option<std::process::ExitStatus>> {
    use std::os::unix::process::ExitStatusExt;
    let pid = i32::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ECHILD))?;
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid writes the status into our integer.
        let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(Some(std::process::ExitStatus::from_raw(status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error);
        }
    }
}

/// Reaps `pid` if it is an exited child of this process (WNOHANG); true when reaped.
pub(crate) fn reap_child(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    matches!(
        nix::sys::wait::waitpid(Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG)),
        Ok(status) if status != nix::sys::wait::WaitStatus::StillAlive
    )
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// The state letter (`R`, `S`, `Z`, …).
    pub(crate) state: u8,
    /// The parent's pid.
    pub(crate) ppid: u32,
    /// The process group id.
    pub(crate) pgrp: u32,
    /// The session id.
    pub(crate) session: u32,
    /// Start time in clock ticks after boot: with the pid, identifies a process.
    pub(crate) start_time: u64,
}

impl ProcStat {
    /// Whether the process still runs (exists and is not a zombie).
    pub(crate) fn is_running(self) -> bool {
        !matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Reads `/proc/<pid>/stat`; `None` when the process does not exist.
pub(crate) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything: parse after the
    // last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 (state); ppid is field 4; starttime is field 22.
    let state = *fields.first()?.as_bytes().first()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let session = fields.get(3)?.parse().ok()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some(ProcStat {
        state,
        ppid,
        pgrp,
        session,
        start_time,
    })
}

/// What the watchdog runs: wait on stdin; a line `x` means the runner ended cleanly; end of
/// file means it died (SIGKILL): then kill the attempt's cgroup `$2` when there is one, and
/// every process carrying the marker `$1`, twice (in case one forked during the first pass);
/// then remove the cgroup.
/// Every pid in `/proc` with its stat, this process excluded.
pub(crate) fn all_processes() -> Vec<(u32, ProcStat)> {
    let own = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .filter_map(|pid| proc_stat(pid).map(|stat| (pid, stat)))
        .collect()
}

/// The pids of this process's children (those of each of its threads), from
/// `/proc/self/task/<tid>/children`; `None` where the kernel does not keep that list
/// (`CONFIG_PROC_CHILDREN`).
pub(crate) fn own_children() -> Option<Vec<u32>> {
    let main = format!("/proc/self/task/{}/children", std::process::id());
    if !std::path::Path::new(&main).exists() {
        return None;
    }
    let mut children = Vec::new();
    for task in fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread that ended meanwhile has no list any more: it has no children either.
        if let Ok(list) = fs::read_to_string(task.path().join("children")) {
            children.extend(
                list.split_whitespace()
                    .filter_map(|pid| pid.parse::<u32>().ok()),
            );
        }
    }
    Some(children)
}

/// Now, in the unit of [`ProcStat::start_time`]: clock ticks since boot.
pub(crate) fn now_ticks() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).unwrap_or(100).max(1);
    let uptime = fs::read_to_string("/proc/uptime").unwrap_or_default();
    let seconds: f64 = uptime
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    (seconds * per_second as f64) as u64
}

/// The inode of this process's pid namespace (`/proc/self/ns/pid`), 0 when unreadable. Pids
/// in a marker mean something only in the namespace that wrote it: a runner on the host sees
/// the units of a runner inside a container, whose marker pids name other processes there.
pub(crate) fn pid_namespace() -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino())
}

/// The session of this process.
pub(crate) fn own_session() -> Option<u32> {
    proc_stat(std::process::id()).map(|s| s.session)
}

/// A process carrying a run marker: its pid, the marker's value and the unit it was started
/// for (`TESTRIUM_UNIT`), if its environment names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marked {
    pub(crate) pid: u32,
    pub(crate) marker: String,
    pub(crate) unit: Option<String>,
}

/// Every process (other than this one) whose initial environment holds `ENV_RUN_ID`, with
/// the marker's value. Processes whose environment cannot be read are skipped.
pub(crate) fn marked_processes() -> Vec<Marked> {
    let own = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let needle = format!("{ENV_RUN_ID}=");
    let unit_needle = format!("{}=", testrium_events::ENV_UNIT);
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let mut marker = None;
        let mut unit = None;
        for var in environ.split(|&b| b == 0) {
            if let Some(value) = var.strip_prefix(needle.as_bytes()) {
                marker = Some(String::from_utf8_lossy(value).into_owned());
            } else if let Some(value) = var.strip_prefix(unit_needle.as_bytes()) {
                unit = Some(String::from_utf8_lossy(value).into_owned());
            }
        }
        if let Some(marker) = marker {
            found.push(Marked { pid, marker, unit });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_reads_own_process() {
        let stat = proc_stat(std::process::id()).expect("own stat");
        assert!(stat.is_running());
        // Session and group are as the kernel reports them to this pid namespace: 0 when
        // their leader lives outside it (as in some CI containers), so compare, not test > 0.
        let sid = nix::unistd::getsid(None).expect("getsid");
        assert_eq!(i64::from(stat.session), i64::from(sid.as_raw()));
        assert_eq!(
            i64::from(stat.pgrp),
            i64::from(nix::unistd::getpgrp().as_raw())
        );
        assert_eq!(stat.ppid, std::os::unix::process::parent_id());
        assert!(now_ticks() >= stat.start_time);
        assert!(stat.start_time > 0);
    }

    /// The kernel's list of our children (when it keeps one) holds a child started by
    /// another thread too: orphans adopted as a subreaper are found through it.
    #[test]
    fn own_children_lists_the_children_of_every_thread() {
        let spawn = || {
            std::process::Command::new("cat")
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("cat")
        };
        let mut here = spawn();
        let mut there = std::thread::spawn(spawn).join().expect("thread");
        if let Some(children) = own_children() {
            assert!(children.contains(&here.id()), "{children:?}");
            assert!(children.contains(&there.id()), "{children:?}");
        }
        for child in [&mut here, &mut there] {
            drop(child.stdin.take());
            child.wait().expect("wait");
        }
    }

    #[test]
    fn pidfd_wakes_on_exit() {
        let mut child = Command::new("true").spawn().expect("spawn true");
        let fd = PidFd::open(child.id()).expect("pidfd");
        wait_readable(&[&fd], None, Duration::from_secs(10)).expect("poll");
        assert!(child.wait().expect("wait").success());
    }
}
