//! The Python fork server of an attempt: one pre-warmed interpreter (the runner's `testrium`
//! package and the probe client imported, no user code) whose forks run the `entrypoint` units
//! and the direct tests, instead of a fresh interpreter each (the `fork-server` mode of
//! `runner.py` says how a fork is made).
//!
//! The runner talks to it over a socket pair (its stdin and stdout): one request (a length,
//! then NUL-separated fields: the server needs no JSON parser, whose import cost 7 ms before
//! the first fork), one answer a line, each within a deadline. A request carries exactly what
//! the exec'd interpreter would get — its arguments, working directory, log file and
//! environment (as its differences from the server's) — and the answer is the pid of the
//! fork: a child of the runner (one `clone(CLONE_PARENT)`, else two forks with the runner a
//! child subreaper), the leader of its own process group (set by the fork and by the runner,
//! whichever is first), in the attempt's cgroup (the server is), killed when the runner dies. From then on it is an ordinary
//! [`Process`] ([`Process::adopt`]): reaped, signalled and torn down as an exec'd unit is.
//!
//! A server that fails to start, dies, or misses a deadline is killed and never asked again:
//! the request that found it broken and every later one start a fresh interpreter, and the
//! attempt's report carries a warning. A unit whose interpreter settings differ from the
//! server's (`PYTHON*`, `LC_*`, `LANG` in its environment) gets a fresh interpreter too.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{self, Process, Signal};

/// How long the first answer may take: it includes the interpreter's start.
const FIRST_ANSWER: Duration = Duration::from_secs(10);
/// How long any later answer (two forks) may take.
const ANSWER: Duration = Duration::from_secs(5);
/// The longest request sent: the socket's buffer holds it whole, so a write never blocks.
const MAX_REQUEST: usize = 64 * 1024;
/// Length of the `TESTRIUM_UNIT` slot in the server's environment (see `runner.py`).
pub(super) const UNIT_SLOT: usize = 255;

/// What became of a request.
#[derive(Debug)]
pub(super) enum Forked {
    /// The unit runs, a fork of the server.
    Started(Process),
    /// This one needs a fresh interpreter; the server stays.
    Exec,
    /// The server is broken (the reason): it was killed; start this one and every later one
    /// in a fresh interpreter.
    Broken(String),
}

/// A running fork server.
#[derive(Debug)]
pub(super) struct ForkServer {
    process: Process,
    socket: UnixStream,
    pending: Vec<u8>,
    answered: bool,
    /// The server's whole environment (`None`: not UTF-8): a request carries only how a
    /// fork's differs from it.
    env: Option<BTreeMap<String, String>>,
}

impl ForkServer {
    /// Starts the server from `command` (the bootstrap's `fork-server` mode, prepared as any
    /// process of the attempt; its stdin and stdout are replaced by the socket, its stderr
    /// goes to `log`), born in the attempt's `cgroup` where the kernel allows (its start is
    /// on the critical path of every forked unit: a join between fork and exec stalled it
    /// 12–18 ms).
    pub(super) fn start(
        mut command: Command,
        log: &Path,
        cgroup: Option<&process::AttemptCgroup>,
    ) -> Result<ForkServer, String> {
        let (socket, theirs) =
            UnixStream::pair().map_err(|e| format!("cannot create its socket: {e}"))?;
        let theirs = OwnedFd::from(theirs);
        let stdin = theirs
            .try_clone()
            .map_err(|e| format!("cannot create its socket: {e}"))?;
        let stdout = theirs
            .try_clone()
            .map_err(|e| format!("cannot create its socket: {e}"))?;
        command
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(stdout));
        let env = command_env(&command);
        let stdio = process::ChildStdio::Socket(theirs.as_fd(), log);
        let process = process::spawn_in_with(command, stdio, cgroup)?;
        drop(theirs);
        // Never blocks: reads wait in `ppoll` with the deadline (a fork may hold a copy of
        // the server's end for a moment, so its exit alone is not the end of the stream).
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("cannot configure its socket: {e}"))?;
        Ok(ForkServer {
            process,
            socket,
            pending: Vec::new(),
            answered: false,
            env,
        })
    }

    /// The server's pid.
    pub(super) fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's process (to wait on, and for the last-resort kill).
    pub(super) fn process_mut(&mut self) -> &mut Process {
        &mut self.process
    }

    /// Asks for a fork running `args` (the bootstrap's arguments, the script first) as `unit`
    /// (none for the direct tests) in `cwd` with exactly `env` (sent as its differences from
    /// the server's), output appended to `log`.
    pub(super) fn fork(
        &mut self,
        args: &[String],
        unit: Option<&str>,
        cwd: &Path,
        env: &BTreeMap<String, String>,
        log: &Path,
    ) -> Forked {
        let (Some(cwd), Some(log), Some(server_env)) = (cwd.to_str(), log.to_str(), &self.env)
        else {
            return Forked::Exec;
        };
        // Only the differences: a fork that replaced its whole environment copied ~140 pages
        // of the server (0.66 ms of every unit); the server reads less, too.
        let env_set: BTreeMap<&str, &str> = env
            .iter()
            .filter(|(key, value)| server_env.get(*key) != Some(*value))
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let env_unset: Vec<&str> = server_env
            .keys()
            .filter(|key| !env.contains_key(*key))
            .map(String::as_str)
            .collect();
        let Some(payload) = request_payload(args, unit, cwd, log, &env_set, &env_unset) else {
            // A NUL in an argument or a variable: the fresh interpreter's start says so.
            return Forked::Exec;
        };
        let mut request = format!("{}\n", payload.len()).into_bytes();
        request.extend_from_slice(payload.as_bytes());
        if request.len() > MAX_REQUEST {
            return Forked::Exec;
        }
        let deadline = Instant::now() + if self.answered { ANSWER } else { FIRST_ANSWER };
        if let Err(e) = send_all(&self.socket, &request) {
            return self.broken(format!("cannot send it a request: {e}"));
        }
        let answer = match self.read_line(deadline) {
            Ok(answer) => answer,
            Err(reason) => return self.broken(reason),
        };
        self.answered = true;
        let answer = String::from_utf8_lossy(&answer);
        let (kind, text) = answer.split_once(' ').unwrap_or((&answer, ""));
        match kind {
            "pid" => match text.parse::<u32>() {
                Ok(pid) => {
                    // Its own process group before anything may signal it: the fork sets it
                    // first thing, and so does its parent (this process), whichever is first.
                    process::set_own_group(pid);
                    Forked::Started(Process::adopt(pid))
                }
                Err(_) => self.broken(format!("invalid answer: {answer:?}")),
            },
            "exec" => Forked::Exec,
            "error" => self.broken(text.to_owned()),
            _ => self.broken(format!("invalid answer: {answer:?}")),
        }
    }

    /// One line from the server, waiting until `deadline`.
    fn read_line(&mut self, deadline: Instant) -> Result<Vec<u8>, String> {
        let mut buffer = [0u8; 512];
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line = self.pending[..end].to_vec();
                self.pending.drain(..=end);
                return Ok(line);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no answer within {}",
                    testrium_verify::fmt_seconds(
                        if self.answered { ANSWER } else { FIRST_ANSWER }.as_secs_f64()
                    )
                ));
            }
            // Woken by an answer or by the server's exit.
            let _ = process::wait_any_or([&self.process], Some(self.socket.as_fd()), left);
            match (&self.socket).read(&mut buffer) {
                Ok(0) => return Err(self.exit_reason()),
                Ok(n) => self.pending.extend_from_slice(&buffer[..n]),
                // Nothing to read and the server gone: nothing more will come (only the
                // server answers, and a fork may still hold a copy of its end).
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if matches!(self.process.try_wait(), Ok(Some(_))) {
                        return Err(self.exit_reason());
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot read its answer: {e}")),
            }
        }
    }

    fn exit_reason(&mut self) -> String {
        match self.process.try_wait() {
            Ok(Some(process::Exit::Code(code))) => format!("it exited with code {code}"),
            Ok(Some(process::Exit::Signal(signal))) => format!("it was killed by signal {signal}"),
            _ => "it closed its end".to_owned(),
        }
    }

    fn broken(&mut self, reason: String) -> Forked {
        self.stop();
        Forked::Broken(reason)
    }

    /// Ends the server (it has nothing to clean up) and reaps it.
    pub(super) fn stop(&mut self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        process::stop_processes(&mut [&mut self.process], Duration::ZERO);
        self.process.signal_group(Signal::SIGKILL);
    }
}

/// A request's payload (see `runner.py`): NUL-separated fields, lists preceded by their
/// length. `None` when a field holds a NUL.
fn request_payload(
    args: &[String],
    unit: Option<&str>,
    cwd: &str,
    log: &str,
    env_set: &BTreeMap<&str, &str>,
    env_unset: &[&str],
) -> Option<String> {
    let runner = std::process::id().to_string();
    let (argc, setc, unsetc) = (
        args.len().to_string(),
        env_set.len().to_string(),
        env_unset.len().to_string(),
    );
    let mut fields: Vec<&str> = vec![&runner, unit.unwrap_or(""), cwd, log, &argc];
    fields.extend(args.iter().map(String::as_str));
    fields.push(&setc);
    for (name, value) in env_set {
        fields.extend([*name, *value]);
    }
    fields.push(&unsetc);
    fields.extend(env_unset);
    if fields.iter().any(|field| field.contains('\0')) {
        return None;
    }
    Some(fields.join("\0"))
}

/// Sends all of `bytes` without ever raising SIGPIPE (a dead server is an error, not a
/// signal to the runner) and without blocking (the socket is non-blocking; a request fits in
/// its buffer, so a full one means the server stopped reading).
fn send_all(socket: &UnixStream, mut bytes: &[u8]) -> std::io::Result<()> {
    use nix::sys::socket::{MsgFlags, send};
    loop {
        if bytes.is_empty() {
            break Ok(());
        }
        match send(
            std::os::fd::AsRawFd::as_raw_fd(socket),
            bytes,
            MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => break Err(std::io::Error::from(e)),
        }
    }
}

/// The whole environment a process spawned from `command` gets: this process's own, with the
/// command's changes applied. `None` when a name or value is not UTF-8.
pub(super) fn command_env(command: &Command) -> Option<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (key, value) in std::env::vars_os() {
        env.insert(key.into_string().ok()?, value.into_string().ok()?);
    }
    for (key, value) in command.get_envs() {
        let key = key.to_str()?.to_owned();
        match value {
            Some(value) => {
                env.insert(key, value.to_str()?.to_owned());
            }
            None => {
                env.remove(&key);
            }
        }
    }
    Some(env)
}

/// The arguments of `command` (the bootstrap script first), when they are UTF-8.
pub(super) fn command_args(command: &Command) -> Option<Vec<String>> {
    command
        .get_args()
        .map(|a| a.to_str().map(str::to_owned))
        .collect()
}
