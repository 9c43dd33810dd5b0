//! Starting a unit directly inside the attempt's cgroup: `clone3(CLONE_INTO_CGROUP)` (Linux
//! 5.7+), a hand-rolled fork and exec.
//!
//! Why: a child that joins a cgroup between fork and exec (writing to `cgroup.procs`) takes the
//! write side of the kernel's global `cgroup_threadgroup_rwsem`, which waits for an RCU grace
//! period: 9–20 ms on the first join, with the runner waiting for the child's `exec`. A child
//! created by `clone3` with `CLONE_INTO_CGROUP` is born in the cgroup and takes no such lock.
//!
//! The child gets what `std::process::Command::spawn` plus [`super::unix::configure_child`]
//! give it: stdin from `/dev/null` and stdout and stderr to the unit's log (opened for append),
//! or, for the Python fork server, stdin and stdout on its socket and stderr to its log;
//! its own process group, the working directory, the environment (this process's with the
//! command's changes), `SIGPIPE` back to its default and an empty signal mask, the
//! parent-death signal (and a check that the runner did not die before it was set), and the
//! program looked up on `PATH` as `execvp` does (a file without a `#!` line is run by
//! `/bin/sh`). Everything is allocated before `clone3`; the child makes only
//! async-signal-safe system calls, and reports a failed `exec` (its errno), so the caller gets
//! the same `io::Error` as from std.
//!
//! On x86_64 the child shares the runner's memory until it execs, on a stack of its own, and
//! the spawning thread waits meanwhile (`CLONE_VM | CLONE_VFORK`, as glibc's `posix_spawn`):
//! no page table is copied and the runner copies no page on write while the child gets to
//! `exec`. All signals are blocked around the clone, and the child puts every handled one back
//! to its default before it unblocks them (no handler of the runner runs in it); a failed
//! `exec` leaves its errno in a slot of the shared memory. Elsewhere the child is a copy of the
//! runner (`fork`-like) and reports over a close-on-exec pipe.
//!
//! Where the kernel refuses (`ENOSYS` before 5.3, `E2BIG`/`EINVAL` before 5.7, `EPERM`,
//! `EACCES` or `EBUSY` for the cgroup), [`spawn_into`] returns `None` and remembers it for
//! the rest of the process: the caller falls back to the join between fork and exec.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::libc;

use super::unix::PidFd;

/// Set once `clone3(CLONE_INTO_CGROUP)` was refused: every later spawn of this process takes
/// the fallback at once.
static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// Whether `clone3(CLONE_INTO_CGROUP)` was refused in this process (every spawn falls back).
#[cfg(test)]
pub(crate) fn refused() -> bool {
    UNSUPPORTED.load(Ordering::Relaxed)
}

/// `struct clone_args` of `linux/sched.h` (the fields up to `cgroup`, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

#[cfg(target_arch = "x86_64")]
const CLONE_VM: u64 = 0x100;
#[cfg(target_arch = "x86_64")]
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// A process started by [`spawn_into`].
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: u32,
    pub(crate) pidfd: PidFd,
}

/// Where the child's standard streams go.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChildStdio<'a> {
    /// stdin from `/dev/null`, stdout and stderr appended to this log.
    Log(&'a Path),
    /// stdin and stdout on this descriptor (the fork server's socket), stderr appended to the
    /// log.
    Socket(BorrowedFd<'a>, &'a Path),
}

/// Everything the child needs, allocated before the clone.
struct Prepared {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    /// `/bin/sh <program> <args…>` for a program `execve` refuses with `ENOEXEC`.
    sh_argv: Vec<CString>,
    cwd: Option<CString>,
    stdin: OwnedFd,
    stdout: OwnedFd,
    /// `None`: stderr is stdout.
    stderr: Option<File>,
}

/// Starts `command` with its standard streams as `stdio` says, born in the cgroup whose
/// folder is open as `cgroup` (see the module doc). `None`: the kernel cannot (the caller
/// falls back to its usual spawn); `Some(Err(_))`: the program could not be started (the
/// error `std` would give).
pub(crate) fn spawn_into(
    command: &Command,
    stdio: ChildStdio<'_>,
    cgroup: RawFd,
) -> Option<io::Result<Spawned>> {
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return None;
    }
    let prepared = match prepare(command, stdio) {
        Ok(prepared) => prepared,
        Err(e) => return Some(Err(e)),
    };
    match clone_and_exec(&prepared, cgroup) {
        Err(CloneError::Unsupported) => {
            UNSUPPORTED.store(true, Ordering::Relaxed);
            None
        }
        Err(CloneError::Spawn(e)) => Some(Err(e)),
        Ok(spawned) => Some(Ok(spawned)),
    }
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "nul byte in an argument, a variable or a path",
        )
    })
}

fn open_log(log: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(log)
}

fn prepare(command: &Command, stdio: ChildStdio<'_>) -> io::Result<Prepared> {
    // The environment: this process's, with the command's changes (as std builds it).
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (key, value) in command.get_envs() {
        env.retain(|(k, _)| k != key);
        if let Some(value) = value {
            env.push((key.to_owned(), value.to_owned()));
        }
    }
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    let program = resolve(command.get_program(), path_var.as_deref())?;
    let program = cstring(program.as_os_str().as_bytes())?;
    let mut argv = vec![cstring(command.get_program().as_bytes())?];
    for arg in command.get_args() {
        argv.push(cstring(arg.as_bytes())?);
    }
    let envp = env
        .into_iter()
        .map(|(k, v)| {
            let mut pair = k.into_vec();
            pair.push(b'=');
            pair.extend(v.into_vec());
            cstring(&pair)
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut sh_argv = vec![cstring(b"sh")?, program.clone()];
    sh_argv.extend(argv.iter().skip(1).cloned());
    let cwd = command
        .get_current_dir()
        .map(|d| cstring(d.as_os_str().as_bytes()))
        .transpose()?;
    let (stdin, stdout, stderr) = match stdio {
        ChildStdio::Log(log) => (
            OwnedFd::from(File::open("/dev/null")?),
            OwnedFd::from(open_log(log)?),
            None,
        ),
        ChildStdio::Socket(socket, log) => (
            socket.try_clone_to_owned()?,
            socket.try_clone_to_owned()?,
            Some(open_log(log)?),
        ),
    };
    Ok(Prepared {
        program,
        argv,
        envp,
        sh_argv,
        cwd,
        stdin,
        stdout,
        stderr,
    })
}

/// `program` as `execvp` would run it: a path as given, a bare name looked up on `PATH` (the
/// child's; `/bin:/usr/bin` without one). The errors are the ones `execvp` would end with.
fn resolve(program: &OsStr, path: Option<&OsStr>) -> io::Result<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    if program.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    let path = path.unwrap_or(OsStr::new("/bin:/usr/bin"));
    let mut denied = false;
    for dir in std::env::split_paths(path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(program);
        match std::fs::metadata(&candidate) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(candidate),
            Ok(_) => denied = true,
            Err(_) => {}
        }
    }
    Err(io::Error::from_raw_os_error(if denied {
        libc::EACCES
    } else {
        libc::ENOENT
    }))
}

enum CloneError {
    Unsupported,
    Spawn(io::Error),
}

/// Null-terminated pointer arrays into `strings` (which must outlive them).
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Where the kernel and the architecture allow it (x86_64), the child shares the runner's
/// memory until it execs and the runner waits meanwhile (`CLONE_VM | CLONE_VFORK`, as
/// `posix_spawn` does), on a stack of its own: no page table copied, no page copied on write
/// in the runner while the child gets to `exec`. Elsewhere a copy of the runner, as `fork`.
fn clone_and_exec(prepared: &Prepared, cgroup: RawFd) -> Result<Spawned, CloneError> {
    #[cfg(target_arch = "x86_64")]
    {
        clone_and_exec_vfork(prepared, cgroup)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        clone_and_exec_fork(prepared, cgroup)
    }
}

/// The child's stack for [`clone_and_exec_vfork`] (`posix_spawn` takes 32 KiB and the size of
/// the arguments; this child only makes system calls).
#[cfg(target_arch = "x86_64")]
const CHILD_STACK: usize = 64 * 1024;

/// Everything [`child`] needs: pointers into a [`Prepared`] and the pointer arrays made from
/// it, which must outlive the child's use of them.
struct ChildArgs {
    io: ChildIo,
    runner: u32,
    cwd: *const libc::c_char,
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    sh_argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
}

impl ChildArgs {
    fn new(
        prepared: &Prepared,
        [argv, sh_argv, envp]: [&[*const libc::c_char]; 3],
        report: Report,
    ) -> ChildArgs {
        let (report, shared_errno, reset_handlers) = match report {
            Report::Pipe(fd) => (fd, std::ptr::null(), false),
            Report::Shared(errno) => (-1, errno, true),
        };
        ChildArgs {
            io: ChildIo {
                stdin: prepared.stdin.as_raw_fd(),
                stdout: prepared.stdout.as_raw_fd(),
                stderr: prepared
                    .stderr
                    .as_ref()
                    .map_or(prepared.stdout.as_raw_fd(), AsRawFd::as_raw_fd),
                report,
                shared_errno,
                reset_handlers,
            },
            runner: std::process::id(),
            cwd: prepared
                .cwd
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr()),
            program: prepared.program.as_ptr(),
            argv: argv.as_ptr(),
            sh_argv: sh_argv.as_ptr(),
            envp: envp.as_ptr(),
        }
    }
}

/// Where the child reports a failed `exec`.
enum Report {
    /// Its errno written to this pipe (a child with memory of its own).
    Pipe(RawFd),
    /// Its errno stored here (a child sharing the runner's memory); also: the child puts the
    /// handled signals back to their default first.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Shared(*const std::sync::atomic::AtomicI32),
}

/// The child's first function, on its own stack.
#[cfg(target_arch = "x86_64")]
extern "C" fn child_entry(args: *const ChildArgs) -> ! {
    // SAFETY: `args` points to the parent's `ChildArgs`, alive (the parent is suspended until
    // this child execs or exits, CLONE_VFORK); see `child`.
    unsafe { child(&*args) }
}

#[cfg(target_arch = "x86_64")]
fn clone_and_exec_vfork(prepared: &Prepared, cgroup: RawFd) -> Result<Spawned, CloneError> {
    use std::sync::atomic::{AtomicI32, Ordering};

    let argv = pointers(&prepared.argv);
    let envp = pointers(&prepared.envp);
    let sh_argv = pointers(&prepared.sh_argv);
    let cgroup = u64::try_from(cgroup)
        .map_err(|_| CloneError::Spawn(io::Error::from_raw_os_error(libc::EBADF)))?;
    let errno = AtomicI32::new(0);
    let args = ChildArgs::new(
        prepared,
        [&argv, &sh_argv, &envp],
        Report::Shared(&raw const errno),
    );
    // 16-byte aligned for the call on it.
    let mut stack = vec![0u128; CHILD_STACK / 16];
    let mut pidfd: libc::c_int = -1;
    let clone_args = CloneArgs {
        flags: CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_INTO_CGROUP,
        pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.as_mut_ptr() as u64,
        stack_size: CHILD_STACK as u64,
        cgroup,
        ..CloneArgs::default()
    };
    // No handler of the runner may run in the child (it shares the runner's memory): every
    // signal blocked until the child has put the handled ones back to their default.
    // SAFETY: plain signal-mask calls on valid sigset_t values.
    let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&raw mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut old_mask);
    }
    // SAFETY: clone3 with CLONE_VM | CLONE_VFORK and a stack of its own: the child starts on
    // `stack` in `child_entry` (see `clone3_on_stack`), which never returns; this thread is
    // suspended until the child execs or exits, so `args`, `errno`, `stack` and the strings
    // they point to outlive its use of them.
    let pid = unsafe {
        clone3_on_stack(
            &raw const clone_args,
            std::mem::size_of::<CloneArgs>(),
            child_entry,
            &raw const args,
        )
    };
    let error = (pid < 0).then(io::Error::last_os_error);
    // SAFETY: as above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const old_mask, std::ptr::null_mut());
    }
    drop(stack);
    if let Some(error) = error {
        return Err(clone_error(error));
    }
    let failed = errno.load(Ordering::SeqCst);
    spawned(pid, pidfd, (failed != 0).then_some(failed))
}

/// A refused `clone3`: `Unsupported` where the kernel cannot do it (the caller falls back),
/// else the error.
fn clone_error(error: io::Error) -> CloneError {
    match error.raw_os_error() {
        Some(
            libc::ENOSYS
            | libc::E2BIG
            | libc::EINVAL
            | libc::EPERM
            | libc::EACCES
            | libc::EBUSY
            | libc::EOPNOTSUPP,
        ) => CloneError::Unsupported,
        _ => CloneError::Spawn(error),
    }
}

/// The started child `pid` with the descriptor `clone3` stored in `pidfd`; `exec_errno`: its
/// `exec` failed with this errno (it is reaped, so no zombie is left).
fn spawned(
    pid: libc::c_long,
    pidfd: libc::c_int,
    exec_errno: Option<i32>,
) -> Result<Spawned, CloneError> {
    let pid =
        u32::try_from(pid).map_err(|_| CloneError::Spawn(io::Error::other("pid out of range")))?;
    // SAFETY: CLONE_PIDFD stored a new descriptor that nothing else owns.
    let pidfd = PidFd::from_owned(unsafe { OwnedFd::from_raw_fd(pidfd) });
    if let Some(errno) = exec_errno {
        // The child exits at once.
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
            None,
        );
        return Err(CloneError::Spawn(io::Error::from_raw_os_error(errno)));
    }
    Ok(Spawned { pid, pidfd })
}

/// `clone3(args, size)`; in the child, on the stack the arguments give, `entry(arg)`.
/// Returns the child's pid in the parent, or -1 (errno set).
///
/// # Safety
///
/// `args` must describe a stack of its own (16-byte aligned top) and `entry` must never
/// return; with `CLONE_VM` the parent must not touch what the child uses until it resumes.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_on_stack(
    args: *const CloneArgs,
    size: usize,
    entry: extern "C" fn(*const ChildArgs) -> !,
    arg: *const ChildArgs,
) -> libc::c_long {
    let ret: libc::c_long;
    // SAFETY: the caller's contract. The child returns from `syscall` with rax = 0 and rsp at
    // the top of its stack; it clears the frame pointer and calls `entry(arg)` (rsp 16-byte
    // aligned at the call), which never returns. The parent takes the jump with the pid or
    // the error in rax. `syscall` clobbers rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args,
            in("rsi") size,
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        // SAFETY: errno of this thread.
        unsafe { *libc::__errno_location() = i32::try_from(-ret).unwrap_or(libc::EINVAL) };
        return -1;
    }
    ret
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn clone_and_exec_fork(prepared: &Prepared, cgroup: RawFd) -> Result<Spawned, CloneError> {
    let spawn_err = |e: io::Error| CloneError::Spawn(e);
    let argv = pointers(&prepared.argv);
    let envp = pointers(&prepared.envp);
    let sh_argv = pointers(&prepared.sh_argv);
    let (report_read, report_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| spawn_err(e.into()))?;
    let mut pidfd: libc::c_int = -1;
    let cgroup =
        u64::try_from(cgroup).map_err(|_| spawn_err(io::Error::from_raw_os_error(libc::EBADF)))?;
    let args = CloneArgs {
        flags: CLONE_PIDFD | CLONE_INTO_CGROUP,
        pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup,
        ..CloneArgs::default()
    };
    let child_args = ChildArgs::new(
        prepared,
        [&argv, &sh_argv, &envp],
        Report::Pipe(report_write.as_raw_fd()),
    );
    // SAFETY: clone3 without CLONE_VM duplicates this process like fork: the child runs on a
    // copy of this thread's stack and returns from the syscall with 0. It then only runs
    // `child`, which makes async-signal-safe system calls on memory allocated above (the
    // pointer arrays, C strings and descriptors live until this function returns in the
    // parent, and the child's copy of them is never freed) and never returns.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::addr_of!(args),
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // SAFETY: see above; this is the child.
        unsafe { child(&child_args) }
    }
    if pid < 0 {
        return Err(clone_error(io::Error::last_os_error()));
    }
    drop(report_write);
    // The child's exec closes the pipe (EOF); a failed exec writes its errno first.
    let mut errno = [0u8; 4];
    let mut got = 0;
    while got < errno.len() {
        match nix::unistd::read(&report_read, &mut errno[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => {
                got = 0;
                break;
            }
        }
    }
    spawned(
        pid,
        pidfd,
        (got == errno.len()).then(|| i32::from_ne_bytes(errno)),
    )
}

/// The descriptors the child puts in place.
struct ChildIo {
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    /// Where a failed `exec` reports its errno: a pipe (a child with memory of its own), or
    /// this slot (a child sharing the runner's memory until it execs, `CLONE_VM`).
    report: RawFd,
    shared_errno: *const std::sync::atomic::AtomicI32,
    /// Dispositions to put back to the default before the signal mask is cleared: a child
    /// sharing the runner's memory must not run the runner's handlers.
    reset_handlers: bool,
}

/// The child between `clone3` and `exec`: async-signal-safe system calls only, no allocation,
/// no lock, no return.
///
/// # Safety
///
/// Only in the child of `clone3`; every pointer valid (null-terminated arrays of C strings).
unsafe fn child(args: &ChildArgs) -> ! {
    let ChildArgs {
        io,
        runner,
        cwd,
        program,
        argv,
        sh_argv,
        envp,
    } = args;
    let (runner, cwd, program, argv, sh_argv, envp) =
        (*runner, *cwd, *program, *argv, *sh_argv, *envp);
    // SAFETY (whole body): plain system calls on descriptors and memory valid in this copy of
    // the process; see the function's contract.
    unsafe {
        let fail = |report: RawFd| -> ! {
            let errno = *libc::__errno_location();
            if io.shared_errno.is_null() {
                let bytes = errno.to_ne_bytes();
                libc::write(report, bytes.as_ptr().cast(), bytes.len());
            } else {
                (*io.shared_errno).store(errno.max(1), std::sync::atomic::Ordering::SeqCst);
            }
            libc::_exit(127)
        };
        if io.reset_handlers {
            // Every handled signal back to its default (the table is this child's own: no
            // CLONE_SIGHAND), while all of them are still blocked.
            for signal in 1..libc::SIGRTMAX() {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, std::ptr::null(), &raw mut old) == 0
                    && old.sa_sigaction != libc::SIG_DFL
                    && old.sa_sigaction != libc::SIG_IGN
                {
                    let mut default: libc::sigaction = std::mem::zeroed();
                    default.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(signal, &raw const default, std::ptr::null_mut());
                }
            }
        }
        if libc::dup2(io.stdin, 0) < 0
            || libc::dup2(io.stdout, 1) < 0
            || libc::dup2(io.stderr, 2) < 0
        {
            fail(io.report);
        }
        if libc::setpgid(0, 0) < 0 {
            fail(io.report);
        }
        if !cwd.is_null() && libc::chdir(cwd) < 0 {
            fail(io.report);
        }
        // As std: the runtime ignores SIGPIPE, the program gets the default; no signal
        // blocked.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &raw const empty, std::ptr::null_mut());
        // Dies with the runner's spawning thread; the runner may have died before this.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
            fail(io.report);
        }
        if libc::getppid() as u32 != runner {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        libc::execve(program, argv, envp);
        if *libc::__errno_location() == libc::ENOEXEC {
            // As execvp: a file without a `#!` line is a shell script.
            libc::execve(c"/bin/sh".as_ptr(), sh_argv, envp);
        }
        fail(io.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_is_looked_up_on_the_childs_path() {
        let found = resolve(
            OsStr::new("sh"),
            Some(OsStr::new("/nonexistent:/bin:/usr/bin")),
        )
        .expect("sh on PATH");
        assert!(found.ends_with("sh") && found.is_absolute(), "{found:?}");
        let missing = resolve(OsStr::new("no-such-program-xyz"), Some(OsStr::new("/bin")))
            .expect_err("missing");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            resolve(OsStr::new("./x/y"), None).expect("path"),
            PathBuf::from("./x/y")
        );
    }
}
