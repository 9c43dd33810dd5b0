//! Starting, watching and stopping processes. The safe face of [`unix`], which holds every
//! `unsafe` and OS-specific call.

mod cgroup;
mod clone;
pub(crate) use clone::ChildStdio;
mod unix;
mod watchdog;

use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub(crate) use nix::sys::signal::Signal;

pub(crate) use self::cgroup::AttemptCgroup;
pub(crate) use self::unix::{
    ENV_RUN_ID, become_subreaper, join_cgroup, set_own_group, signal_group,
};
pub(crate) use self::watchdog::Watchdog;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// Someone else reaped it (a `waitpid(-1)` in the embedding program): its status is lost.
    Lost,
}

impl Exit {
    fn from_status(status: ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        }
    }

    /// Exit code 0.
    pub(crate) fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

/// A started process: the leader of its own process group.
#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    /// Started through std; `None` when started by `clone3` or adopted (a fork of the Python
    /// fork server): reaped with `waitpid` then.
    child: Option<Child>,
    pidfd: Option<unix::PidFd>,
    exit: Option<Exit>,
}

impl Process {
    /// Starts `cmd` in its own process group with a parent-death signal.
    pub(crate) fn spawn(mut cmd: Command) -> io::Result<Process> {
        unix::configure_child(&mut cmd);
        let child = cmd.spawn()?;
        // Without pidfds (old kernels) the supervisor falls back to its tick.
        let pidfd = unix::PidFd::open(child.id()).ok();
        Ok(Process {
            pid: child.id(),
            child: Some(child),
            pidfd,
            exit: None,
        })
    }

    /// A child of this process that someone else started (a fork of the Python fork server,
    /// re-parented to this child subreaper) and that leads its own process group: from now
    /// on waited for and signalled like a spawned one. The caller must know that `pid` is a
    /// child of this process that nobody else reaps.
    pub(crate) fn adopt(pid: u32) -> Process {
        Process {
            pid,
            child: None,
            pidfd: unix::PidFd::open(pid).ok(),
            exit: None,
        }
    }

    /// The pid, which is also the process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Reaps the process if it exited (never blocks).
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<Exit>> {
        if let Some(exit) = self.exit {
            return Ok(Some(exit));
        }
        let waited = match self.child.as_mut() {
            Some(child) => child.try_wait(),
            None => unix::try_wait_pid(self.pid),
        };
        let status = match waited {
            Ok(status) => status.map(Exit::from_status),
            // ECHILD: another waiter in this process reaped it.
            Err(e) if e.raw_os_error() == Some(nix::libc::ECHILD) => Some(Exit::Lost),
            Err(e) => return Err(e),
        };
        self.exit = status;
        if self.exit.is_some() {
            self.pidfd = None;
        }
        Ok(self.exit)
    }

    /// Whether the process was reaped.
    pub(crate) fn exited(&self) -> Option<Exit> {
        self.exit
    }

    /// Sends `signal` to the whole process group (the leader may already be gone).
    pub(crate) fn signal_group(&self, signal: Signal) -> bool {
        unix::signal_group(self.pid(), signal)
    }
}

/// Whether this process is a child subreaper (orphans of its descendants come to it).
pub(crate) fn is_subreaper() -> bool {
    nix::sys::prctl::get_child_subreaper().unwrap_or(false)
}

/// Waits until one of `processes` exits or `timeout` passes (whichever first).
pub(crate) fn wait_any<'a>(
    processes: impl IntoIterator<Item = &'a Process>,
    timeout: Duration,
) -> io::Result<()> {
    wait_any_or(processes, None, timeout)
}

/// Like [`wait_any`], also waking when `extra` becomes readable.
pub(crate) fn wait_any_or<'a>(
    processes: impl IntoIterator<Item = &'a Process>,
    extra: Option<BorrowedFd<'_>>,
    timeout: Duration,
) -> io::Result<()> {
    let fds: Vec<&unix::PidFd> = processes
        .into_iter()
        .filter(|p| p.exit.is_none())
        .filter_map(|p| p.pidfd.as_ref())
        .collect();
    unix::wait_readable(&fds, extra, timeout)
}

/// Whether `pid` names a process that is running (not a zombie).
pub(crate) fn is_running(pid: u32) -> bool {
    unix::proc_stat(pid).is_some_and(unix::ProcStat::is_running)
}

/// Identifies this runner in markers: `<pid>.<start time>.<pid namespace inode>`.
pub(crate) fn runner_identity() -> String {
    let pid = std::process::id();
    let start = unix::proc_stat(pid).map_or(0, |s| s.start_time);
    format!("{pid}.{start}.{}", unix::pid_namespace())
}

/// Kills every process carrying the marker `marker`, and every process whose marker names a
/// runner that is dead (leftovers of a runner that was SIGKILLed), with `signal`.
/// Returns the pids signalled.
pub(crate) fn sweep(marker: Option<&str>, signal: Signal) -> Vec<u32> {
    let namespace = unix::pid_namespace();
    let mut hit = Vec::new();
    for unix::Marked {
        pid, marker: value, ..
    } in unix::marked_processes()
    {
        let ours = marker.is_some_and(|m| m == value);
        if (ours || runner_is_dead(&value, namespace)) && unix::signal_process(pid, signal) {
            hit.push(pid);
        }
    }
    hit
}

/// One unit's process tree: the members of its process group (`pgid`, the pid of the process
/// the runner started) and, where `marker` is given, the processes that left that group but
/// carry the attempt's marker and the unit's name in their environment (`setsid` daemons).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnitTree<'a> {
    pub(crate) pgid: u32,
    pub(crate) marker: &'a str,
    pub(crate) unit: &'a str,
}

impl UnitTree<'_> {
    /// The live processes of the tree. Zombies of the tree that are children of this process
    /// (orphans adopted as a subreaper) are reaped on the way: they are the unit's.
    pub(crate) fn live(&self) -> Vec<u32> {
        let own = std::process::id();
        let mut live = Vec::new();
        for (pid, stat) in unix::all_processes() {
            if stat.pgrp != self.pgid {
                continue;
            }
            if stat.is_running() {
                live.push(pid);
            } else if stat.ppid == own && pid != self.pgid {
                // The leader is reaped through its `Process`, never here.
                unix::reap_child(pid);
            }
        }
        for marked in unix::marked_processes() {
            if marked.marker == self.marker
                && marked.unit.as_deref() == Some(self.unit)
                && !live.contains(&marked.pid)
                && unix::proc_stat(marked.pid).is_some_and(unix::ProcStat::is_running)
            {
                live.push(marked.pid);
            }
        }
        live
    }

    /// Sends `signal` to every live process of the tree; returns whether there was one.
    pub(crate) fn signal(&self, signal: Signal) -> bool {
        let live = self.live();
        unix::signal_group(self.pgid, signal);
        for &pid in &live {
            unix::signal_process(pid, signal);
        }
        !live.is_empty()
    }
}

/// Kills what is left in the attempt cgroups of runners (of this pid namespace) that are
/// gone, and removes those cgroups. Returns how many processes it killed.
pub(crate) fn sweep_stale_cgroups(deadline: Instant) -> usize {
    let namespace = unix::pid_namespace();
    cgroup::sweep_stale(|identity| runner_is_dead(identity, namespace), deadline)
}

/// Whether the runner named in a marker value is gone (pid gone, or reused by another
/// process). Only a marker written in `namespace` (this runner's pid namespace) can be judged:
/// another namespace's pids name other processes here, so its units are left alone, as is a
/// marker that does not parse.
fn runner_is_dead(marker: &str, namespace: u64) -> bool {
    let mut parts = marker.splitn(4, '.');
    let (Some(pid), Some(start), Some(ns)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(pid), Ok(start), Ok(ns)) =
        (pid.parse::<u32>(), start.parse::<u64>(), ns.parse::<u64>())
    else {
        return false;
    };
    if ns != namespace {
        return false;
    }
    match unix::proc_stat(pid) {
        None => true,
        Some(stat) => !stat.is_running() || stat.start_time != start,
    }
}

/// Whether the process `pid` that recorded a probe belongs to the process group `pgid` (or is
/// its leader). A process already gone is judged by its pid alone.
pub(crate) fn recorded_by_tree(pid: Option<i64>, pgid: u32) -> bool {
    let Some(pid) = pid.and_then(|p| u32::try_from(p).ok()) else {
        return false;
    };
    pid == pgid || unix::proc_stat(pid).is_some_and(|s| s.pgrp == pgid)
}

/// SIGKILLs every process in the process groups `pgids` (units whose leader may be gone, with
/// the children they left in their group) and waits until they are gone or `deadline`
/// passes, reaping those that are children of this process. Returns how many were signalled.
pub(crate) fn kill_groups(pgids: &[u32], deadline: Instant) -> usize {
    let pgids: Vec<u32> = pgids
        .iter()
        .copied()
        .filter(|&pgid| unix::group_exists(pgid))
        .collect();
    if pgids.is_empty() {
        return 0;
    }
    let members: Vec<u32> = unix::all_processes()
        .into_iter()
        .filter(|(_, s)| pgids.contains(&s.pgrp) && s.is_running())
        .map(|(pid, _)| pid)
        .collect();
    for &pgid in &pgids {
        unix::signal_group(pgid, Signal::SIGKILL);
    }
    wait_gone(&members, deadline);
    members.len()
}

/// Waits until none of `pids` runs (zombies of ours are reaped) or `deadline` passes.
fn wait_gone(pids: &[u32], deadline: Instant) {
    let own = std::process::id();
    loop {
        let mut alive = false;
        for &pid in pids {
            match unix::proc_stat(pid) {
                Some(stat) if stat.ppid == own && !stat.is_running() => {
                    unix::reap_child(pid);
                }
                Some(stat) if stat.is_running() => alive = true,
                _ => {}
            }
        }
        if !alive || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Kills (SIGKILL) every process carrying `marker` until none is left or `deadline` passes,
/// reaping those that became children of this process (through the subreaper).
/// Returns the pids that were found.
pub(crate) fn kill_marked(marker: &str, deadline: Instant) -> Vec<u32> {
    let mut all = Vec::new();
    loop {
        let hit = sweep(Some(marker), Signal::SIGKILL);
        if hit.is_empty() {
            break;
        }
        for &pid in &hit {
            if !all.contains(&pid) {
                all.push(pid);
            }
        }
        // Wait until the killed ones are gone, reaping our own.
        wait_gone(&hit, deadline);
        if Instant::now() >= deadline {
            break;
        }
    }
    all
}

/// Attempts of this process in flight, the start (clock ticks since boot) of the oldest one
/// since the count was last zero, and whether one of them may kill adopted orphans. The
/// subreaper flag is process-wide, so orphans adopted while attempts overlap cannot be told
/// apart: they are killed when the last one ends.
static IN_FLIGHT: Mutex<(usize, u64, bool)> = Mutex::new((0, 0, false));

/// Registers an attempt in flight; [`AttemptGuard::finish`] (or dropping it) ends it.
/// `kill_orphans`: the process starts no children of its own (the `testrium` binary), so any
/// child of it in another session born during the attempts is an adopted orphan of a unit and
/// is killed when the last attempt ends. An embedding program's own children cannot be told
/// from adopted orphans, so without it they are never touched.
pub(crate) fn enter_attempt(kill_orphans: bool) -> AttemptGuard {
    let mut in_flight = IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner);
    if in_flight.0 == 0 {
        // One tick of margin: start times are whole ticks.
        in_flight.1 = unix::now_ticks().saturating_sub(1);
        in_flight.2 = false;
    }
    in_flight.0 += 1;
    in_flight.2 |= kill_orphans;
    AttemptGuard { done: false }
}

/// An attempt in flight (see [`enter_attempt`]).
#[derive(Debug)]
pub(crate) struct AttemptGuard {
    done: bool,
}

impl AttemptGuard {
    /// Ends the attempt. When it was the last one in flight, kills the orphans this process
    /// adopted as a subreaper since the oldest overlapping attempt started and that left the
    /// runner's session (`setsid` daemons, even with a cleared environment), with their whole
    /// sessions, and reaps them. Returns how many processes were killed.
    pub(crate) fn finish(mut self) -> usize {
        self.done = true;
        leave_attempt()
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if !self.done {
            leave_attempt();
        }
    }
}

fn leave_attempt() -> usize {
    let mut in_flight = IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner);
    in_flight.0 = in_flight.0.saturating_sub(1);
    if in_flight.0 > 0 || !in_flight.2 {
        return 0;
    }
    kill_adopted_orphans(in_flight.1)
}

/// See [`AttemptGuard::finish`].
fn kill_adopted_orphans(since_ticks: u64) -> usize {
    let own = std::process::id();
    let Some(own_session) = unix::own_session() else {
        return 0;
    };
    // Our children, from the kernel's list of them where it keeps one (a few files instead of
    // every process in /proc: 0.5 ms of each attempt's end here).
    let candidates = match unix::own_children() {
        Some(children) => children
            .into_iter()
            .filter_map(|pid| unix::proc_stat(pid).map(|stat| (pid, stat)))
            .collect(),
        None => unix::all_processes(),
    };
    // Children of ours in a session of their own, born during the attempts: adopted daemons.
    // (Children the embedding program starts itself stay in its session.)
    let orphans: Vec<(u32, unix::ProcStat)> = candidates
        .into_iter()
        .filter(|(_, s)| s.ppid == own && s.session != own_session && s.start_time >= since_ticks)
        .collect();
    if orphans.is_empty() {
        return 0;
    }
    let processes = unix::all_processes();
    let mut killed = 0;
    for (pid, stat) in &orphans {
        if !stat.is_running() {
            unix::reap_child(*pid);
            continue;
        }
        // The daemon and everything in its session.
        for (other, other_stat) in &processes {
            if other_stat.session == *pid && other_stat.is_running() && other != pid {
                unix::signal_process(*other, Signal::SIGKILL);
                killed += 1;
            }
        }
        if unix::signal_process(*pid, Signal::SIGKILL) {
            killed += 1;
        }
    }
    // Reap the ones we killed (they are our children); bounded wait.
    let deadline = Instant::now() + Duration::from_secs(2);
    for (pid, _) in orphans {
        while !unix::reap_child(pid) && unix::proc_stat(pid).is_some() && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    killed
}

/// Starts `command`; the error names the program as resolved, the OS error, and what to do
/// about it (a missing file, a file without the run bit, a missing `#!` interpreter).
pub(crate) fn spawn(command: Command) -> Result<Process, String> {
    let program = check_spawnable(&command)?;
    Process::spawn(command).map_err(|e| describe_spawn_error(&program, &e))
}

/// Like [`spawn`], for a command whose stdin is `/dev/null` and whose stdout and stderr go to
/// `log` (as `attempt/command.rs` prepares every process of a run): where the attempt has a
/// cgroup and the kernel allows, the process is born in it (`clone3(CLONE_INTO_CGROUP)`, see
/// `clone.rs`) instead of joining it between fork and exec, which stalls the spawn 9–20 ms.
/// Elsewhere it is [`spawn`].
pub(crate) fn spawn_in(
    command: Command,
    log: &Path,
    cgroup: Option<&AttemptCgroup>,
) -> Result<Process, String> {
    spawn_in_with(command, clone::ChildStdio::Log(log), cgroup)
}

/// Like [`spawn_in`], with the standard streams given by `stdio` (the command itself must be
/// set up the same way: it is what is spawned where no clone into the cgroup is possible).
pub(crate) fn spawn_in_with(
    command: Command,
    stdio: clone::ChildStdio<'_>,
    cgroup: Option<&AttemptCgroup>,
) -> Result<Process, String> {
    let program = check_spawnable(&command)?;
    let Some(cgroup) = cgroup else {
        return Process::spawn(command).map_err(|e| describe_spawn_error(&program, &e));
    };
    match clone::spawn_into(&command, stdio, cgroup.dir_fd()) {
        Some(Ok(spawned)) => Ok(Process {
            pid: spawned.pid,
            child: None,
            pidfd: Some(spawned.pidfd),
            exit: None,
        }),
        Some(Err(e)) => Err(describe_spawn_error(&program, &e)),
        None => Process::spawn(command).map_err(|e| describe_spawn_error(&program, &e)),
    }
}

/// The program of `command` (for error messages), once its working directory exists.
fn check_spawnable(command: &Command) -> Result<std::path::PathBuf, String> {
    let program = Path::new(command.get_program()).to_path_buf();
    let cwd = command.get_current_dir().map(Path::to_path_buf);
    if let Some(cwd) = cwd.as_ref().filter(|cwd| !cwd.is_dir()) {
        return Err(format!(
            "working directory `{}` does not exist",
            cwd.display()
        ));
    }
    Ok(program)
}

/// The text of a spawn failure of `program` (a path, or a name looked up on `PATH`).
fn describe_spawn_error(program: &Path, error: &io::Error) -> String {
    use std::os::unix::fs::PermissionsExt;
    let shown = program.display();
    let is_path = program.components().count() > 1;
    let metadata = std::fs::metadata(program).ok().filter(|_| is_path);
    match error.kind() {
        io::ErrorKind::NotFound if !is_path => {
            format!("`{shown}` not found on PATH ({error})")
        }
        io::ErrorKind::NotFound => match metadata {
            // The file is there: what exec did not find is the interpreter of its `#!` line.
            Some(_) => match shebang(program) {
                Some(line) => format!(
                    "`{shown}`: its interpreter `{line}` (the `#!` line) was not found ({error})"
                ),
                None => format!("`{shown}`: {error}"),
            },
            None => format!("`{shown}` does not exist ({error})"),
        },
        io::ErrorKind::PermissionDenied => match metadata {
            Some(m) if m.is_dir() => format!("`{shown}` is a directory ({error})"),
            Some(m) if m.permissions().mode() & 0o111 == 0 => format!(
                "`{shown}` is not executable ({error}); hint: `chmod +x {shown}`, or start it \
                 through its interpreter (`command = [\"sh\", \"{shown}\"]`)"
            ),
            _ => format!("`{shown}`: {error}"),
        },
        _ => format!("`{shown}`: {error}"),
    }
}

/// The `#!` line of a script, without the `#!`, if it has one.
fn shebang(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let head = head.get(..n)?.strip_prefix(b"#!")?;
    let line = head.split(|&b| b == b'\n').next()?;
    Some(String::from_utf8_lossy(line).trim().to_owned())
}

/// SIGTERM to each process group, up to `grace` for them to exit, then SIGKILL; waits until
/// every leader is reaped. Returns, per process, whether it had to be killed.
pub(crate) fn stop_processes(processes: &mut [&mut Process], grace: Duration) -> Vec<bool> {
    let mut killed = vec![false; processes.len()];
    let first = if grace.is_zero() {
        Signal::SIGKILL
    } else {
        Signal::SIGTERM
    };
    for (i, process) in processes.iter_mut().enumerate() {
        if matches!(process.try_wait(), Ok(None)) {
            process.signal_group(first);
            killed[i] = grace.is_zero();
        }
    }
    let kill_at = Instant::now() + grace;
    let mut sent_kill = grace.is_zero();
    loop {
        let mut alive = Vec::new();
        for (i, process) in processes.iter_mut().enumerate() {
            if matches!(process.try_wait(), Ok(None)) {
                alive.push(i);
            }
        }
        if alive.is_empty() {
            break;
        }
        let now = Instant::now();
        if now >= kill_at && !sent_kill {
            for &i in &alive {
                processes[i].signal_group(Signal::SIGKILL);
                killed[i] = true;
            }
            sent_kill = true;
        }
        let wait = if sent_kill {
            Duration::from_millis(10)
        } else {
            kill_at.saturating_duration_since(now)
        };
        let _ = wait_any(alive.iter().map(|&i| &*processes[i]), wait);
    }
    for process in processes.iter() {
        process.signal_group(Signal::SIGKILL);
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Above the kernel's largest `pid_max` (2^22): never a live process.
    const NO_SUCH_PID: u32 = 99_999_999;

    #[test]
    fn a_marker_of_a_dead_runner_in_this_namespace_is_dead() {
        let ns = unix::pid_namespace();
        assert!(runner_is_dead(&format!("{NO_SUCH_PID}.5.{ns}.group-1"), ns));
        // Our own pid with another start time: the pid was reused.
        let own = std::process::id();
        assert!(runner_is_dead(&format!("{own}.0.{ns}.group-1"), ns));
    }

    /// Regression (issue 11 item 10): a unit reaped by another waiter in the embedding program
    /// (a `waitpid(-1)`) was reported as "exit -1". Its status is lost, and says so.
    #[test]
    fn a_process_reaped_by_someone_else_has_its_exit_status_lost() {
        let mut process = Process::spawn(Command::new("true")).expect("spawn true");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(process.pid()).expect("pid"));
        // Another waiter takes the exit status first.
        nix::sys::wait::waitpid(pid, None).expect("reap");
        assert_eq!(process.try_wait().expect("try_wait"), Some(Exit::Lost));
        assert_eq!(process.exited(), Some(Exit::Lost));
    }

    /// Issue 15: a unit is born in the attempt's cgroup (`clone3(CLONE_INTO_CGROUP)`) with
    /// everything `std`'s spawn gives it: its output in the log, its own process group, its
    /// working directory and environment, its exit code; a failed exec reports the same
    /// errors.
    #[test]
    fn spawn_in_a_cgroup_gives_the_child_what_spawn_gives() {
        let Some(cgroup) = AttemptCgroup::create(&format!("{}.2.2", std::process::id())) else {
            eprintln!("skipped: no cgroup can be created here");
            return;
        };
        let dir = std::env::temp_dir().join(format!("testrium-spawn-in-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("unit.log");
        let mut command = Command::new("sh");
        command
            .args([
                "-c",
                "echo \"out $TESTRIUM_TEST_VAR $(pwd)\"; echo err >&2; \
                 echo \"pgid $(ps -o pgid= $$ | tr -d ' ')\"; read line; echo \"stdin [$line]\"; \
                 cat /proc/self/cgroup; exit 7",
            ])
            .current_dir(&dir)
            .env("TESTRIUM_TEST_VAR", "set")
            .env_remove("HOME");
        let mut process = spawn_in(command, &log, Some(&cgroup)).expect("spawn");
        if clone::refused() {
            eprintln!("clone3(CLONE_INTO_CGROUP) refused here: the fallback was tested");
        }
        let pid = process.pid();
        let deadline = Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(exit) = process.try_wait().expect("try_wait") {
                break exit;
            }
            assert!(Instant::now() < deadline, "still running");
            let _ = wait_any([&process], Duration::from_millis(100));
        };
        assert_eq!(exit, Exit::Code(7));
        let text = std::fs::read_to_string(&log).expect("log");
        let relative = cgroup
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        assert!(
            text.contains(&format!("out set {}", dir.display())),
            "{text}"
        );
        assert!(text.contains("err\n"), "{text}");
        assert!(text.contains(&format!("pgid {pid}\n")), "{text}");
        assert!(text.contains("stdin []"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("0::") && l.ends_with(&relative)),
            "not in the cgroup: {text}"
        );

        let missing = spawn_in(Command::new("no-such-program-xyz"), &log, Some(&cgroup))
            .expect_err("missing");
        assert!(missing.contains("not found on PATH"), "{missing}");
        let script = dir.join("script.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write");
        let not_executable =
            spawn_in(Command::new(&script), &log, Some(&cgroup)).expect_err("not executable");
        assert!(
            not_executable.contains("is not executable"),
            "{not_executable}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn this_runner_is_alive() {
        let ns = unix::pid_namespace();
        assert!(!runner_is_dead(
            &format!("{}.group-1", runner_identity()),
            ns
        ));
    }

    #[test]
    fn a_marker_from_another_pid_namespace_is_never_judged() {
        // A runner inside a container: its pid means nothing here, so its units live on.
        let ns = unix::pid_namespace();
        let other = ns.wrapping_add(1);
        assert!(!runner_is_dead(
            &format!("{NO_SUCH_PID}.5.{other}.group-1"),
            ns
        ));
    }

    #[test]
    fn a_marker_that_does_not_parse_is_left_alone() {
        let ns = unix::pid_namespace();
        for marker in [
            "",
            "12",
            "12.34",
            "x.34.1.g",
            &format!("{NO_SUCH_PID}.5.g-1"),
        ] {
            assert!(!runner_is_dead(marker, ns), "{marker:?}");
        }
    }
}
