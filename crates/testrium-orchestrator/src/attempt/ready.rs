//! Readiness checks of units that record no readiness probe: `ready_tcp`, `ready_http`,
//! `ready_log`, `ready_command`. The driver tries a starting unit's check — fast at first
//! (5 ms), then less often (up to 250 ms) — until it passes, the unit's `ready_timeout` (the
//! scheduler's call) or the unit's end. A try never blocks the supervisor: connections run on
//! a short-lived thread, a command is a process polled like the units.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use testrium_config::ReadyCheck;
use testrium_events::{Probe, ProbeRecord};

use super::Supervisor;
use crate::logs::LogTail;
use crate::process::{self, Exit, Process, stop_processes};

/// The first pause between two tries, and the longest; in between, a 24th of the time
/// the check has been tried (a service that comes up after 0.3 s is seen within ~15 ms).
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(250);
/// How soon the driver looks again at a try in flight (a connection ends in microseconds on
/// loopback; its answer must not wait for the next pause).
const IN_FLIGHT_LOOK: Duration = Duration::from_millis(1);
/// The longest one try may take (a connection, a request, a command).
const TRY_LIMIT: Duration = Duration::from_secs(5);
/// The step of the event recording that a check passed.
pub(super) const READY_STEP: &str = "testrium-ready";

/// A check with its placeholders expanded, ready to try.
#[derive(Debug)]
enum Resolved {
    Tcp(String),
    Http { authority: String, path: String },
    Log(regex::Regex),
    Command(Vec<String>),
}

/// One try in flight.
#[derive(Debug)]
enum Pending {
    Thread(JoinHandle<Result<(), String>>),
    Command(Process, Instant),
}

/// The state of one unit's readiness check.
#[derive(Debug)]
pub(super) struct ReadyState {
    check: Resolved,
    /// The check as tried, e.g. `tcp 127.0.0.1:6379`.
    shown: String,
    started: Instant,
    next_try: Instant,
    pending: Option<Pending>,
    log: Option<LogTail>,
}

impl ReadyState {
    fn pause(&self, now: Instant) -> Duration {
        (now.saturating_duration_since(self.started) / 24).clamp(FIRST_PAUSE, MAX_PAUSE)
    }

    /// Stops a try in flight (a command is killed; a thread ends by itself within its limit).
    pub(super) fn abandon(&mut self) {
        if let Some(Pending::Command(mut process, _)) = self.pending.take() {
            stop_processes(&mut [&mut process], Duration::ZERO);
        }
    }
}

impl Supervisor<'_> {
    /// Tries the readiness checks that are due; tells the scheduler what they found.
    pub(super) fn run_ready_checks(&mut self) {
        let now = Instant::now();
        for index in 0..self.procs.len() {
            if !self.sched.wants_check(index) {
                if let Some(mut state) = self.procs[index].ready.take() {
                    state.abandon();
                }
                continue;
            }
            if self.procs[index].ready.is_none() {
                match self.resolve_check(index) {
                    Ok((check, shown)) => {
                        self.sched.check_shown(index, shown.clone());
                        self.procs[index].ready = Some(ReadyState {
                            check,
                            shown,
                            started: now,
                            next_try: now,
                            pending: None,
                            log: None,
                        });
                    }
                    Err(error) => {
                        // Cannot happen after validation; the check then never passes.
                        self.sched.check_failed(index, error);
                        continue;
                    }
                }
            }
            match self.try_check(index, now) {
                Some(Ok(())) => {
                    self.record_ready(index);
                    self.procs[index].ready = None;
                    self.sched.check_passed(index);
                }
                Some(Err(error)) => self.sched.check_failed(index, error),
                None => {}
            }
        }
    }

    /// When the next try of a check is due.
    pub(super) fn next_ready_check(&self) -> Option<Instant> {
        let soon = Instant::now() + IN_FLIGHT_LOOK;
        self.procs
            .iter()
            .filter_map(|p| {
                p.ready.as_ref().map(|r| {
                    if r.pending.is_some() {
                        soon
                    } else {
                        r.next_try
                    }
                })
            })
            .min()
    }

    /// Polls the try in flight, or starts one when due. `Some` when a try ended.
    fn try_check(&mut self, index: usize, now: Instant) -> Option<Result<(), String>> {
        let procs = &mut self.procs[index];
        let log = &procs.log;
        let state = procs.ready.as_mut()?;
        let ended = match state.pending.take() {
            Some(Pending::Thread(handle)) if handle.is_finished() => Some(
                handle
                    .join()
                    .unwrap_or_else(|_| Err("the check's thread panicked".to_owned())),
            ),
            Some(Pending::Command(mut process, deadline)) => match process.try_wait() {
                Ok(Some(Exit::Code(0))) => Some(Ok(())),
                Ok(Some(Exit::Code(code))) => Some(Err(format!("exit {code}"))),
                Ok(Some(Exit::Signal(signal))) => Some(Err(format!("killed by signal {signal}"))),
                Ok(Some(Exit::Lost)) | Err(_) => Some(Err("exit status lost".to_owned())),
                Ok(None) if now >= deadline => {
                    stop_processes(&mut [&mut process], Duration::ZERO);
                    Some(Err(format!(
                        "did not finish within {} s",
                        TRY_LIMIT.as_secs()
                    )))
                }
                Ok(None) => {
                    state.pending = Some(Pending::Command(process, deadline));
                    None
                }
            },
            Some(pending) => {
                state.pending = Some(pending);
                None
            }
            None => None,
        };
        if ended.is_some() {
            let pause = state.pause(now);
            state.next_try = now + pause;
            return ended;
        }
        if state.pending.is_some() || now < state.next_try {
            return None;
        }
        // A try is due.
        match &state.check {
            Resolved::Tcp(address) => {
                let address = address.clone();
                state.pending = spawn_try(move || connect(&address).map(drop));
                state.next_try = now + state.pause(now);
                None
            }
            Resolved::Http { authority, path } => {
                let (authority, path) = (authority.clone(), path.clone());
                state.pending = spawn_try(move || http_get(&authority, &path));
                state.next_try = now + state.pause(now);
                None
            }
            Resolved::Log(pattern) => {
                let tail = state.log.get_or_insert_with(|| LogTail::new(log));
                let found = tail.read_lines().iter().any(|line| pattern.is_match(line));
                state.next_try = now + state.pause(now);
                if found { Some(Ok(())) } else { None }
            }
            Resolved::Command(argv) => {
                let argv = argv.clone();
                state.next_try = now + state.pause(now);
                match self.ready_command(index, &argv) {
                    Ok(process) => {
                        if let Some(state) = self.procs[index].ready.as_mut() {
                            state.pending = Some(Pending::Command(process, now + TRY_LIMIT));
                        }
                        None
                    }
                    Err(error) => Some(Err(error)),
                }
            }
        }
    }

    /// The unit's check with its placeholders expanded, and as it is shown.
    fn resolve_check(&self, index: usize) -> Result<(Resolved, String), String> {
        let unit = &self.sched.units[index].unit;
        let expand = |text: &str| self.expand(&unit.name, text);
        let kind = unit.ready_check.as_ref().map_or("", ReadyCheck::kind);
        let shown = match &unit.ready_check {
            Some(ReadyCheck::Command(argv)) => argv
                .iter()
                .map(|a| expand(a))
                .collect::<Result<Vec<_>, _>>()?
                .join(" "),
            Some(check) => expand(&check.target())?,
            None => String::new(),
        };
        let resolved = match &unit.ready_check {
            Some(ReadyCheck::Tcp(address)) => Ok(Resolved::Tcp(expand(address)?)),
            Some(ReadyCheck::Http(url)) => {
                let url = expand(url)?;
                let rest = url
                    .strip_prefix("http://")
                    .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
                let (authority, path) = match rest.find('/') {
                    Some(slash) => (&rest[..slash], &rest[slash..]),
                    None => (rest, "/"),
                };
                let authority = if authority.contains(':') {
                    authority.to_owned()
                } else {
                    format!("{authority}:80")
                };
                Ok(Resolved::Http {
                    authority,
                    path: path.to_owned(),
                })
            }
            Some(ReadyCheck::Log(pattern)) => regex::Regex::new(pattern)
                .map(Resolved::Log)
                .map_err(|e| e.to_string()),
            Some(ReadyCheck::Command(argv)) => Ok(Resolved::Command(
                argv.iter().map(|a| expand(a)).collect::<Result<_, _>>()?,
            )),
            _ => Err("the unit has no readiness check".to_owned()),
        }?;
        Ok((resolved, format!("{kind} {shown}")))
    }

    /// Starts one try of a `ready_command`: in the unit's working directory, with its
    /// environment, output to its log.
    fn ready_command(&self, index: usize, argv: &[String]) -> Result<Process, String> {
        let unit = &self.sched.units[index].unit;
        let Some(program) = argv.first() else {
            return Err("empty command".to_owned());
        };
        let cwd = self.unit_cwd(unit)?;
        let mut command = Command::new(super::command::resolve_program(program, &cwd));
        command.args(&argv[1..]);
        let log = self.procs[index].log.clone();
        self.prepare(&mut command, Some(&unit.name), &cwd, &log)?;
        self.unit_env(&mut command, unit)?;
        process::spawn_in(command, &log, self.cgroup.as_ref())
    }

    /// Records that the unit's check passed, as an event of the unit (best effort: the
    /// readiness itself does not depend on it).
    fn record_ready(&self, index: usize) {
        let unit = &self.sched.units[index].unit;
        let Some(check) = unit.ready_check.as_ref() else {
            return;
        };
        let target = self.procs[index].ready.as_ref().map_or_else(
            || check.target(),
            |r| {
                r.shown
                    .split_once(' ')
                    .map_or(r.shown.clone(), |(_, t)| t.to_owned())
            },
        );
        if let Ok(probe) = Probe::open(&self.dir.db, &unit.name) {
            let _ = probe.record(
                ProbeRecord::new(READY_STEP)
                    .meta("check", check.kind())
                    .meta("target", target),
            );
        }
    }
}

/// Runs `try_once` on a thread of its own.
fn spawn_try(try_once: impl FnOnce() -> Result<(), String> + Send + 'static) -> Option<Pending> {
    std::thread::Builder::new()
        .name("testrium-ready".to_owned())
        .spawn(try_once)
        .ok()
        .map(Pending::Thread)
}

fn connect(address: &str) -> Result<TcpStream, String> {
    let addrs: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{address}`: {e}"))?
        .collect();
    let mut last = format!("`{address}` resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TRY_LIMIT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = describe_io(&e),
        }
    }
    Err(last)
}

/// `connection refused` rather than `Connection refused (os error 111)`.
fn describe_io(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    text.to_lowercase()
}

/// A plain HTTP/1.1 GET; `Ok` on a 2xx status line.
fn http_get(authority: &str, path: &str) -> Result<(), String> {
    let mut stream = connect(authority)?;
    let _ = stream.set_read_timeout(Some(TRY_LIMIT));
    let _ = stream.set_write_timeout(Some(TRY_LIMIT));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: testrium\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| describe_io(&e))?;
    let mut head = Vec::with_capacity(64);
    let mut byte = [0u8; 1];
    while head.len() < 512 && !head.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(describe_io(&e)),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer: `{}`", line.trim()))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}
