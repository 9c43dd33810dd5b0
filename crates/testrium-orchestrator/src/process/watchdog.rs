//! The attempt's watchdog: a process that outlives the runner to kill what the attempt
//! started if the runner dies without tearing down (SIGKILL). Units die with the runner by
//! their parent-death signal, but their descendants do not.
//!
//! It is a fork of the runner that never execs: it holds the read end of a pipe whose write
//! end only the runner has. A line `x` (the runner ended cleanly) ends it; end of file (the
//! runner is gone) makes it kill, twice over, everything in the attempt's cgroup
//! (`cgroup.kill`, else each pid of `cgroup.procs`) and every process carrying the attempt's
//! marker, then remove the cgroup. It used to be `sh -c <script>`: its exec and start-up
//! cost 1 ms of every attempt here (the dynamic loader's CPU probing is slow in this VM).
//!
//! After `fork` in a multi-threaded process the child may only make async-signal-safe calls:
//! everything it needs (paths, the marker to look for, buffers) is made before the fork, and
//! the child makes raw system calls only — no allocation, no lock, no Rust I/O.
//!
//! A fork keeps, for as long as it lives, the pages its parent changes afterwards. The
//! `testrium` binary is small when an attempt starts (a few MiB); a program embedding `Run`
//! may not be: above [`FORK_LIMIT`] of resident memory the watchdog is `sh -c <script>` doing
//! the same, as before.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::libc;

use super::unix::{ENV_RUN_ID, PidFd, reap_child, wait_readable};

/// The largest resident set (bytes) for which the watchdog is a fork of this process.
const FORK_LIMIT: u64 = 32 << 20;

/// The watchdog's program where it is not a fork: `$1` the marker, `$2` the cgroup folder.
const WATCHDOG_SCRIPT: &str = r#"IFS= read -r line
[ "$line" = x ] && exit 0
for pass in 1 2; do
  if [ -n "$2" ]; then
    echo 1 > "$2/cgroup.kill" 2>/dev/null || kill -9 $(cat "$2/cgroup.procs" 2>/dev/null) 2>/dev/null
  fi
  for d in /proc/[0-9]*; do
    if tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qxF "TESTRIUM_RUN_ID=$1"; then
      kill -9 "${d#/proc/}" 2>/dev/null
    fi
  done
done
if [ -n "$2" ]; then
  for try in 1 2 3 4 5 6 7 8 9 10; do
    rmdir "$2"/*/ "$2" 2>/dev/null
    [ -d "$2" ] || break
    sleep 0.2
  done
fi
"#;

/// How many times the cgroup's removal is tried, and the pause between two tries (its
/// processes take a moment to be gone after the kill).
const RMDIR_TRIES: u32 = 10;
const RMDIR_PAUSE_NS: libc::c_long = 200_000_000;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Watchdog {
    pid: u32,
    pidfd: Option<PidFd>,
    pipe: Option<OwnedFd>,
}

impl Watchdog {
    /// Starts the watchdog for `marker` and the attempt's cgroup folder, if any (best effort):
    /// a fork of this process while its resident set is at most [`FORK_LIMIT`], else `sh`.
    pub(crate) fn start(marker: &str, cgroup: Option<&Path>) -> io::Result<Watchdog> {
        if resident_bytes().is_some_and(|bytes| bytes <= FORK_LIMIT) {
            Watchdog::forked(marker, cgroup)
        } else {
            Watchdog::shell(marker, cgroup)
        }
    }

    /// `sh -c <script>` (`sh` must exist).
    fn shell(marker: &str, cgroup: Option<&Path>) -> io::Result<Watchdog> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // `/bin/sh` directly: a `PATH` of version-manager shims (pyenv, asdf) costs an exec
        // attempt per entry, on the way to the first unit's start.
        let sh = if Path::new("/bin/sh").is_file() {
            "/bin/sh"
        } else {
            "sh"
        };
        let child = std::process::Command::new(sh)
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("testrium-watchdog")
            .arg(marker)
            .arg(cgroup.map(Path::as_os_str).unwrap_or_default())
            .env_remove(ENV_RUN_ID)
            .stdin(std::process::Stdio::from(read))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            // Not in the runner's group (a Ctrl-C to the terminal's foreground group must not
            // stop it) and, unlike units, no parent-death signal: it must outlive the runner.
            .process_group(0)
            .spawn()?;
        // Reaped by `stand_down` through its pid, as the fork is.
        let pid = child.id();
        Ok(Watchdog {
            pid,
            pidfd: PidFd::open(pid).ok(),
            pipe: Some(write),
        })
    }

    /// A fork of this process.
    fn forked(marker: &str, cgroup: Option<&Path>) -> io::Result<Watchdog> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let mut plan = Plan::new(marker, cgroup, read.as_raw_fd())?;
        // All signals blocked across the fork, so that the child starts with them blocked: a
        // handler of the runner's must never run in it.
        let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initialises `all`; pthread_sigmask only reads it and writes `old`.
        let blocked = unsafe {
            libc::sigfillset(all.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr()) == 0
        };
        // SAFETY: in the child, `Plan::run` only makes async-signal-safe system calls on
        // memory allocated above, and never returns.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: see above; this is the child.
            unsafe { plan.run() }
        }
        if blocked {
            // SAFETY: `old` was written by the call above.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut()) };
        }
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        drop(read);
        let pid = u32::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
        Ok(Watchdog {
            pid,
            pidfd: PidFd::open(pid).ok(),
            pipe: Some(write),
        })
    }

    /// Tells the watchdog the runner ended cleanly and reaps it (waits up to `timeout`).
    pub(crate) fn stand_down(&mut self, timeout: Duration) {
        if let Some(pipe) = self.pipe.take() {
            let _ = nix::unistd::write(&pipe, b"x\n");
        }
        let Some(pidfd) = self.pidfd.take() else {
            reap_child(self.pid);
            return;
        };
        let deadline = Instant::now() + timeout;
        while !reap_child(self.pid) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Leave it: it exits on its own; only a zombie remains until the runner exits.
                return;
            }
            let _ = wait_readable(&[&pidfd], None, left);
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if self.pipe.is_some() {
            self.stand_down(Duration::from_millis(100));
        }
    }
}

/// What the child does, made before the fork.
struct Plan {
    /// The read end of the runner's pipe.
    pipe: RawFd,
    /// `<cgroup>`, `<cgroup>/cgroup.kill`, `<cgroup>/cgroup.procs`.
    cgroup: Option<[CString; 3]>,
    /// `\0TESTRIUM_RUN_ID=<marker>\0`: a variable of an environment (the block read with a
    /// `\0` put in front of it).
    needle: Vec<u8>,
    /// Where in this process's initial environment block (what `/proc/<pid>/environ` shows)
    /// the name `TESTRIUM_RUN_ID` of a marker this runner itself carries starts: the child
    /// renames it, so the sweep of an enclosing run does not take it for one of its own.
    inherited_marker: Option<*mut u8>,
    /// Buffers: directory entries, a file's contents (with room for the needle's overlap), a
    /// path.
    dents: Vec<u8>,
    text: Vec<u8>,
    path: Vec<u8>,
}

impl Plan {
    fn new(marker: &str, cgroup: Option<&Path>, pipe: RawFd) -> io::Result<Plan> {
        let cstring = |path: &Path| {
            CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| io::Error::other("a path with a NUL"))
        };
        let cgroup = match cgroup {
            Some(dir) => Some([
                cstring(dir)?,
                cstring(&dir.join("cgroup.kill"))?,
                cstring(&dir.join("cgroup.procs"))?,
            ]),
            None => None,
        };
        let mut needle = vec![0u8];
        needle.extend_from_slice(format!("{ENV_RUN_ID}={marker}").as_bytes());
        needle.push(0);
        Ok(Plan {
            pipe,
            cgroup,
            text: vec![0; 64 * 1024 + needle.len()],
            needle,
            inherited_marker: inherited_marker(),
            dents: vec![0; 32 * 1024],
            path: vec![0; 4096],
        })
    }

    /// The child: waits for the runner's word or its end.
    ///
    /// # Safety
    ///
    /// Only in the child of `fork`, with all signals blocked.
    unsafe fn run(&mut self) -> ! {
        // SAFETY: raw system calls on memory this process owns (its copy of the runner's).
        unsafe {
            libc::setpgid(0, 0);
            if let Some(name) = self.inherited_marker {
                // `TESTRIUM_RUN_ID=` becomes `TESTRIUM_RUN_IX=`.
                *name.add(ENV_RUN_ID.len() - 1) = b'X';
            }
            // Nothing of the runner's but the pipe: a descriptor kept here would keep a socket
            // listening or an inotify instance alive after the runner closed it.
            let pipe = if libc::dup2(self.pipe, 0) == 0 {
                if libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32) != 0 {
                    for fd in 1..65_536 {
                        libc::close(fd);
                    }
                }
                0
            } else {
                self.pipe
            };
            let mut byte = 0u8;
            loop {
                let n = libc::read(pipe, (&raw mut byte).cast(), 1);
                if n == 1 && byte == b'x' {
                    libc::_exit(0);
                }
                if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                    break;
                }
            }
            // The runner is gone.
            for _pass in 0..2 {
                self.kill_cgroup();
                self.kill_marked();
            }
            self.remove_cgroup();
            libc::_exit(0)
        }
    }

    /// `cgroup.kill`, else SIGKILL to each pid of `cgroup.procs`.
    unsafe fn kill_cgroup(&mut self) {
        let Some([_, kill, procs]) = &self.cgroup else {
            return;
        };
        // SAFETY: raw system calls on owned memory.
        unsafe {
            let fd = libc::open(kill.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                let done = libc::write(fd, b"1".as_ptr().cast(), 1) == 1;
                libc::close(fd);
                if done {
                    return;
                }
            }
            let fd = libc::open(procs.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return;
            }
            let mut pid: libc::pid_t = 0;
            loop {
                let n = libc::read(fd, self.text.as_mut_ptr().cast(), self.text.len());
                if n <= 0 {
                    break;
                }
                for &byte in &self.text[..n.unsigned_abs()] {
                    if byte.is_ascii_digit() {
                        pid = pid
                            .saturating_mul(10)
                            .saturating_add(libc::pid_t::from(byte - b'0'));
                    } else {
                        if pid > 0 {
                            libc::kill(pid, libc::SIGKILL);
                        }
                        pid = 0;
                    }
                }
            }
            if pid > 0 {
                libc::kill(pid, libc::SIGKILL);
            }
            libc::close(fd);
        }
    }

    /// SIGKILL to every process whose environment holds the marker.
    unsafe fn kill_marked(&mut self) {
        // Out of `self` for the walk (no allocation: an empty Vec holds none).
        let mut dents = std::mem::take(&mut self.dents);
        // SAFETY: raw system calls on owned memory.
        unsafe {
            let own = libc::getpid();
            each_entry(c"/proc", &mut dents, |name, _| {
                if let Some(pid) = parse_pid(name).filter(|&pid| pid != own)
                    && self.carries_marker(pid)
                {
                    libc::kill(pid, libc::SIGKILL);
                }
            });
        }
        self.dents = dents;
    }

    /// Whether `/proc/<pid>/environ` holds the marker.
    unsafe fn carries_marker(&mut self, pid: libc::pid_t) -> bool {
        let (digits, at) = decimal(pid);
        let mut len = 0;
        for part in [&b"/proc/"[..], &digits[at..], b"/environ\0"] {
            self.path[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        // SAFETY: raw system calls on owned memory; `path` is NUL-terminated above.
        unsafe {
            let fd = libc::open(self.path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return false;
            }
            // The block read with a `\0` in front, chunk after chunk; the needle's length
            // minus one of the end of a chunk is kept in front of the next.
            let keep = self.needle.len() - 1;
            self.text[0] = 0;
            let mut filled = 1;
            let mut found = false;
            loop {
                let room = self.text.len() - filled;
                let n = libc::read(fd, self.text[filled..].as_mut_ptr().cast(), room);
                if n <= 0 {
                    break;
                }
                filled += n.unsigned_abs();
                if self.text[..filled]
                    .windows(self.needle.len())
                    .any(|w| w == self.needle.as_slice())
                {
                    found = true;
                    break;
                }
                if filled > keep {
                    self.text.copy_within(filled - keep..filled, 0);
                    filled = keep;
                }
            }
            libc::close(fd);
            // The last variable has a `\0` after it too: a block that ends with the marker is
            // matched by the `\0` the kernel puts there.
            found
        }
    }

    /// Removes the cgroup's child folders, then the cgroup, trying again while its processes
    /// go.
    unsafe fn remove_cgroup(&mut self) {
        let Some([dir, _, _]) = &self.cgroup else {
            return;
        };
        let dir_bytes = dir.as_bytes();
        let path = &mut self.path;
        // SAFETY: raw system calls on owned memory.
        unsafe {
            for _ in 0..RMDIR_TRIES {
                each_entry(dir, &mut self.dents, |name, kind| {
                    let len = dir_bytes.len() + 1 + name.len();
                    if kind == libc::DT_DIR && name != b"." && name != b".." && len < path.len() {
                        path[..dir_bytes.len()].copy_from_slice(dir_bytes);
                        path[dir_bytes.len()] = b'/';
                        path[dir_bytes.len() + 1..len].copy_from_slice(name);
                        path[len] = 0;
                        libc::rmdir(path.as_ptr().cast());
                    }
                });
                if libc::rmdir(dir.as_ptr()) == 0 || *libc::__errno_location() == libc::ENOENT {
                    return;
                }
                let pause = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: RMDIR_PAUSE_NS,
                };
                libc::nanosleep(&pause, std::ptr::null_mut());
            }
        }
    }
}

/// Calls `visit(name, type)` for each entry of the folder `dir`, read with `getdents64` into
/// `buf` (no allocation). Nothing when it cannot be opened.
///
/// # Safety
///
/// Raw system calls only; safe after `fork`.
unsafe fn each_entry(dir: &CStr, buf: &mut [u8], mut visit: impl FnMut(&[u8], u8)) {
    // SAFETY: raw system calls on owned memory; the kernel fills `buf` with whole
    // `struct linux_dirent64` records: ino (8), off (8), reclen (2), type (1), name (NUL-ended).
    unsafe {
        let fd = libc::open(
            dir.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return;
        }
        loop {
            let n = libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len());
            let Ok(end) = usize::try_from(n) else {
                break;
            };
            if end == 0 {
                break;
            }
            let mut at = 0usize;
            while at + 19 < end {
                let reclen = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
                if reclen == 0 || at + reclen > end {
                    break;
                }
                let name = &buf[at + 19..at + reclen];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                visit(name, buf[at + 18]);
                at += reclen;
            }
        }
        libc::close(fd);
    }
}

/// This process's resident set in bytes (`/proc/self/statm`).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    Some(pages * page)
}

/// The pid a `/proc` entry names, if it is one.
fn parse_pid(name: &[u8]) -> Option<libc::pid_t> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    name.iter().try_fold(0 as libc::pid_t, |pid, &digit| {
        pid.checked_mul(10)?
            .checked_add(libc::pid_t::from(digit - b'0'))
    })
}

/// `pid` in decimal: the digits are `.0[.1..]`.
fn decimal(pid: libc::pid_t) -> ([u8; 12], usize) {
    let mut digits = [0u8; 12];
    let mut at = digits.len();
    let mut rest = pid.unsigned_abs();
    loop {
        at -= 1;
        // The remainder of a division by 10 is a digit.
        digits[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    (digits, at)
}

/// Where this process's initial environment block holds `TESTRIUM_RUN_ID=` (a runner started
/// by a unit of another run), from `/proc/self/stat` (`env_start`, `env_end`).
fn inherited_marker() -> Option<*mut u8> {
    std::env::var_os(ENV_RUN_ID)?;
    let stat = std::fs::read("/proc/self/stat").ok()?;
    let after_name = stat.iter().rposition(|&b| b == b')')?;
    let fields: Vec<&[u8]> = stat[after_name + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .collect();
    // Fields 50 and 51 of proc_pid_stat(5); `fields[0]` is field 3.
    let number = |index: usize| -> Option<usize> {
        std::str::from_utf8(fields.get(index)?).ok()?.parse().ok()
    };
    let (start, end) = (number(47)?, number(48)?);
    let name = format!("{ENV_RUN_ID}=");
    // SAFETY: the kernel says the block lies at [start, end) of this process's memory; it is
    // only read here (and written by the child to its own copy).
    let block = unsafe { std::slice::from_raw_parts(start as *const u8, end.checked_sub(start)?) };
    let offset = if block.starts_with(name.as_bytes()) {
        0
    } else {
        let mut needle = vec![0u8];
        needle.extend_from_slice(name.as_bytes());
        block
            .windows(needle.len())
            .position(|w| w == needle.as_slice())?
            + 1
    };
    Some((start + offset) as *mut u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (up to 20 s) for `child` to end; its exit status.
    fn ended(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
        let pidfd = PidFd::open(child.id()).expect("pidfd");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Some(status);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = wait_readable(&[&pidfd], None, left);
        }
    }

    /// A marker of this test process's own.
    fn marker(tag: &str) -> String {
        let ticks = super::super::unix::now_ticks();
        format!("watchdog-{tag}.{}.{ticks}", std::process::id())
    }

    /// `child` (a `cat`) still runs; it then ends normally once its input is closed.
    fn still_alive(child: &mut std::process::Child, what: &str) {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "{what} lives"
        );
        drop(child.stdin.take());
        assert!(ended(child).expect("cat ends").success());
    }

    fn cat(marker: &str) -> std::process::Child {
        std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .env(ENV_RUN_ID, marker)
            .spawn()
            .expect("cat")
    }

    /// How a watchdog is made.
    type Start = fn(&str, Option<&Path>) -> io::Result<Watchdog>;

    /// Both ways of making a watchdog.
    fn watchdogs() -> [(&'static str, Start); 2] {
        [("fork", Watchdog::forked), ("sh", Watchdog::shell)]
    }

    /// The runner gone (its end of the pipe closed without a word): the watchdog kills every
    /// process carrying the attempt's marker, and only those, then ends.
    #[test]
    fn without_the_runner_the_watchdog_kills_the_marked_processes() {
        for (how, start) in watchdogs() {
            killed_without_the_runner(how, start);
        }
    }

    fn killed_without_the_runner(how: &str, start: Start) {
        use std::os::unix::process::ExitStatusExt;

        let marker = marker(&format!("gone-{how}"));
        let mut marked = cat(&marker);
        let mut other = cat(&format!("{marker}-other"));
        let mut dog = start(&marker, None).expect("watchdog");
        drop(dog.pipe.take());
        let status = ended(&mut marked).expect("the marked process was killed");
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{how}");
        dog.stand_down(Duration::from_secs(20));
        assert!(
            reap_child(dog.pid) || PidFd::open(dog.pid).is_err(),
            "the {how} watchdog ended"
        );
        still_alive(&mut other, "another marker's process");
    }

    /// A clean end: the watchdog stands down at its word and kills nothing.
    #[test]
    fn at_the_runners_word_the_watchdog_ends_and_kills_nothing() {
        for (how, start) in watchdogs() {
            let marker = marker(&format!("word-{how}"));
            let mut marked = cat(&marker);
            let mut dog = start(&marker, None).expect("watchdog");
            let pid = dog.pid;
            dog.stand_down(Duration::from_secs(20));
            assert!(
                PidFd::open(pid).is_err(),
                "the {how} watchdog ended and was reaped"
            );
            still_alive(&mut marked, "the marked process");
        }
    }

    /// This process's resident set is read (the choice between a fork and `sh`).
    #[test]
    fn the_resident_set_is_read() {
        let bytes = resident_bytes().expect("statm");
        assert!(bytes > 0 && bytes < 64 << 30, "{bytes}");
    }

    #[test]
    fn pids_are_read_and_written_in_decimal() {
        assert_eq!(parse_pid(b"4242"), Some(4242));
        assert_eq!(parse_pid(b"self"), None);
        assert_eq!(parse_pid(b""), None);
        assert_eq!(parse_pid(b"99999999999999"), None);
        let (digits, at) = decimal(4_194_304);
        assert_eq!(&digits[at..], b"4194304");
        let (digits, at) = decimal(7);
        assert_eq!(&digits[at..], b"7");
    }
}
