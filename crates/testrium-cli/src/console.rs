//! What `testrium run` prints while it works: on a terminal a live status line (which groups
//! run, for how long, how many units are up, probes seen / required, and what they wait for),
//! redrawn every second even when nothing happens; off a terminal (CI) a line for any group
//! running longer than 10 s, every 10 s, saying what it waits for; group reports as groups
//! finish; unit output with `--verbose`. Shared by the worker threads behind a mutex
//! so blocks never interleave. A closed stdout (broken pipe) silences it; the run goes on.

use std::collections::{BTreeSet, HashSet};
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use testrium_config::Group;
use testrium_events::UnitState;
use testrium_orchestrator::RunEvent;

use testrium_report::Style;
use testrium_report::sanitize;

/// Colour for stdout: only on a terminal, without `--no-color`, with `NO_COLOR` unset or empty
/// (<https://no-color.org>).
pub fn style_for_stdout(no_color_flag: bool) -> Style {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style::new(!(no_color_flag || no_color_env || !std::io::stdout().is_terminal()))
}

/// Live progress of one running group.
#[derive(Debug)]
struct Progress {
    group: String,
    attempt: u32,
    attempts: u32,
    units_total: usize,
    units_up: HashSet<String>,
    /// Units started and not ready yet.
    units_starting: BTreeSet<String>,
    required: HashSet<(String, String)>,
    seen: HashSet<(String, String)>,
    started: Instant,
    /// When a "still running" line was last printed (off a terminal).
    last_note: Option<Instant>,
}

impl Progress {
    /// What the group waits for: units not ready, probes not recorded (a few of each).
    fn waiting_for(&self) -> String {
        let mut parts = Vec::new();
        if !self.units_starting.is_empty() {
            let names: Vec<String> = self
                .units_starting
                .iter()
                .take(3)
                .map(|u| format!("`{}`", sanitize::one_line(u, 30)))
                .collect();
            let more = self.units_starting.len().saturating_sub(3);
            parts.push(format!(
                "{}{} not ready",
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        let mut missing: Vec<&(String, String)> = self.required.difference(&self.seen).collect();
        missing.sort();
        if !missing.is_empty() {
            let names: Vec<String> = missing
                .iter()
                .take(3)
                .map(|(u, p)| {
                    format!(
                        "`{}:{}`",
                        sanitize::one_line(u, 30),
                        sanitize::one_line(p, 30)
                    )
                })
                .collect();
            let more = missing.len().saturating_sub(3);
            parts.push(format!(
                "probes {}{} missing",
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if parts.is_empty() {
            "units to exit".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// Off a terminal, a group running longer than this says what it waits for, this often.
const NOTE_EVERY: Duration = Duration::from_secs(10);

/// The run's console.
pub struct Console {
    out: Box<dyn Write + Send>,
    style: Style,
    live: bool,
    verbose: bool,
    prefix_group: bool,
    /// `-q`: no `RUN` lines and no "still running" notes, only each group's line.
    quiet: bool,
    broken: bool,
    status_len: usize,
    last_draw: Option<Instant>,
    running: Vec<Progress>,
    /// Terminal columns (`COLUMNS`, else 80).
    width: usize,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("live", &self.live)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

const REDRAW_EVERY: Duration = Duration::from_millis(80);

impl Console {
    /// A console on `out`. `live`: redraw a status line (a terminal); `prefix_group`: name the
    /// group on unit output lines (several groups at once).
    pub fn new(
        out: Box<dyn Write + Send>,
        style: Style,
        live: bool,
        verbose: bool,
        prefix_group: bool,
    ) -> Self {
        Console {
            out,
            style,
            live,
            verbose,
            prefix_group,
            quiet: false,
            broken: false,
            status_len: 0,
            last_draw: None,
            running: Vec::new(),
            width: std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|&c| c >= 20)
                .unwrap_or(80),
        }
    }

    /// `-q`: print only each group's line (and failures), no progress lines.
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    fn io(&mut self, result: io::Result<()>) {
        if let Err(err) = result {
            // Broken pipe (`testrium run | head`) or any other write error: stop printing,
            // keep running; reports and history still get written.
            let _ = err;
            self.broken = true;
        }
    }

    fn clear_status(&mut self) {
        if self.live && self.status_len > 0 && !self.broken {
            let result = write!(self.out, "\r\u{1b}[2K");
            self.io(result);
            self.status_len = 0;
        }
    }

    fn draw_status(&mut self, force: bool) {
        if !self.live || self.broken || self.running.is_empty() {
            return;
        }
        let now = Instant::now();
        if !force && self.last_draw.is_some_and(|t| now - t < REDRAW_EVERY) {
            return;
        }
        self.last_draw = Some(now);
        let parts: Vec<String> = self
            .running
            .iter()
            .map(|p| {
                let attempt = if p.attempts > 1 {
                    format!(" #{}/{}", p.attempt, p.attempts)
                } else {
                    String::new()
                };
                let waiting = if p.units_starting.is_empty() && p.seen.len() == p.required.len() {
                    String::new()
                } else {
                    format!(" — waiting for {}", p.waiting_for())
                };
                format!(
                    "{}{attempt} {}s: units {}/{} up, probes {}/{}{waiting}",
                    sanitize::one_line(&p.group, 40),
                    now.saturating_duration_since(p.started).as_secs(),
                    p.units_up.len(),
                    p.units_total,
                    p.seen.len(),
                    p.required.len()
                )
            })
            .collect();
        // One terminal row at most: a wrapped status line could not be erased.
        let line = sanitize::one_line(&format!("RUNNING {}", parts.join(" | ")), self.width - 1);
        let result = write!(self.out, "\r\u{1b}[2K{}", self.style.dim(&line))
            .and_then(|()| self.out.flush());
        self.status_len = line.chars().count();
        self.io(result);
    }

    /// Prints whole lines (a report block, a message), keeping the status line below them.
    pub fn print(&mut self, render: impl FnOnce(&mut dyn Write, Style) -> io::Result<()>) {
        if self.broken {
            return;
        }
        self.clear_status();
        let mut buffer = Vec::new();
        let _ = render(&mut buffer, self.style);
        let result = self.out.write_all(&buffer).and_then(|()| self.out.flush());
        self.io(result);
        self.draw_status(true);
    }

    /// Prints one line.
    pub fn line(&mut self, text: &str) {
        self.print(|out, _| writeln!(out, "{text}"));
    }

    /// A group is about to run.
    pub fn group_started(&mut self, group: &Group) {
        let required = group
            .enabled_units()
            .flat_map(|u| u.events.iter().map(|e| (u.name.clone(), e.clone())))
            .collect();
        self.running.push(Progress {
            group: group.name.clone(),
            attempt: 1,
            attempts: 1,
            units_total: group.enabled_units().count(),
            units_up: HashSet::new(),
            units_starting: BTreeSet::new(),
            required,
            seen: HashSet::new(),
            started: Instant::now(),
            last_note: None,
        });
        self.draw_status(true);
    }

    /// A group is done (its report is printed separately).
    pub fn group_finished(&mut self, group: &str) {
        self.running.retain(|p| p.group != group);
        self.clear_status();
        self.draw_status(true);
    }

    /// Something happened in a running group.
    pub fn event(&mut self, group: &str, event: &RunEvent) {
        let Some(index) = self.running.iter().position(|p| p.group == group) else {
            return;
        };
        match event {
            RunEvent::AttemptStarted {
                attempt, attempts, ..
            } => {
                let p = &mut self.running[index];
                p.attempt = *attempt;
                p.attempts = *attempts;
                p.units_up.clear();
                p.units_starting.clear();
                p.seen.clear();
                if !self.live && !self.quiet {
                    let suffix = if *attempts > 1 {
                        format!(" (attempt {attempt}/{attempts})")
                    } else {
                        String::new()
                    };
                    let text = format!("RUN  {}{suffix}", sanitize::terminal(group));
                    self.line(&text);
                }
            }
            RunEvent::UnitStateChanged { unit, state, .. } => {
                let p = &mut self.running[index];
                if matches!(state, UnitState::Ready | UnitState::Running) {
                    p.units_up.insert(unit.clone());
                } else {
                    p.units_up.remove(unit);
                }
                if *state == UnitState::Starting {
                    p.units_starting.insert(unit.clone());
                } else {
                    p.units_starting.remove(unit);
                }
                self.draw_status(false);
            }
            RunEvent::ProbeRecorded { event, .. } => {
                let p = &mut self.running[index];
                let probe = (event.unit.clone(), event.step.clone());
                if p.required.contains(&probe) {
                    p.seen.insert(probe);
                }
                self.draw_status(false);
            }
            // Units on other hosts need the address and the token; on loopback they are in
            // the units' environment (and `token` in the run directory) already.
            RunEvent::ReceiverListening { endpoint, token } => {
                let loopback = endpoint
                    .trim_start_matches("http://")
                    .parse::<std::net::SocketAddr>()
                    .is_ok_and(|a| a.ip().is_loopback());
                if !loopback {
                    let text = format!(
                        "OTLP   {}: {} token {}",
                        sanitize::terminal(group),
                        sanitize::terminal(endpoint),
                        sanitize::terminal(token)
                    );
                    self.line(&text);
                }
            }
            RunEvent::UnitOutput { unit, line } if self.verbose => {
                let who = if self.prefix_group {
                    format!("{}/{}", sanitize::terminal(group), sanitize::terminal(unit))
                } else {
                    sanitize::terminal(unit).into_owned()
                };
                let text = format!(
                    "{} {}",
                    self.style.dim(&format!("[{who}]")),
                    sanitize::terminal_log_line(line)
                );
                self.line(&text);
            }
            _ => {}
        }
    }

    /// Time passed (called about once a second): on a terminal the status line is redrawn
    /// (its elapsed times move); off a terminal, each group running longer than 10 s says what
    /// it waits for, every 10 s, so a stuck group in CI does not look like a working one.
    pub fn tick(&mut self, now: Instant) {
        if self.quiet {
            return;
        }
        if self.live {
            self.draw_status(true);
            return;
        }
        let mut notes = Vec::new();
        for p in &mut self.running {
            let running_for = now.saturating_duration_since(p.started);
            let due = p.last_note.map_or(running_for >= NOTE_EVERY, |t| {
                now.saturating_duration_since(t) >= NOTE_EVERY
            });
            if due {
                p.last_note = Some(now);
                notes.push(format!(
                    "...  {} still running after {} s: units {}/{} up, probes {}/{}; waiting for {}",
                    sanitize::terminal(&p.group),
                    running_for.as_secs(),
                    p.units_up.len(),
                    p.units_total,
                    p.seen.len(),
                    p.required.len(),
                    p.waiting_for()
                ));
            }
        }
        for note in notes {
            self.line(&note);
        }
    }

    /// Ends the live line and flushes.
    pub fn finish(&mut self) {
        self.running.clear();
        self.clear_status();
        let result = self.out.flush();
        self.io(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn verbose_output_is_prefixed_and_sanitised() {
        let shared = Shared::default();
        let mut console = Console::new(Box::new(shared.clone()), Style::PLAIN, false, true, false);
        let group = Group::builder("test_g", "/tmp")
            .unit(testrium_config::Unit::passive("u").events(["p"]))
            .build()
            .unwrap();
        console.group_started(&group);
        console.event(
            "test_g",
            &RunEvent::UnitOutput {
                unit: "u".into(),
                line: "hello \u{1b}[2J".into(),
            },
        );
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "[u] hello \\u{1b}[2J\n");
    }

    #[test]
    fn live_status_line_counts_units_up_and_probes_seen() {
        let shared = Shared::default();
        let mut console = Console::new(Box::new(shared.clone()), Style::PLAIN, true, false, false);
        console.width = 80;
        let group = Group::builder("test_g", "/tmp")
            .unit(testrium_config::Unit::passive("u").events(["p", "q"]))
            .build()
            .unwrap();
        console.group_started(&group);
        console.event(
            "test_g",
            &RunEvent::UnitStateChanged {
                unit: "u".into(),
                state: UnitState::Ready,
                pid: Some(1),
                at: Duration::ZERO,
            },
        );
        let probe =
            testrium_events::Event::new(1, "u", "p", testrium_events::EventType::Default, 0.0);
        console.event(
            "test_g",
            &RunEvent::ProbeRecorded {
                event: probe,
                at: Duration::ZERO,
            },
        );
        // A printed line forces a redraw below it.
        console.line("PASS something");
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.starts_with(
                "\r\u{1b}[2KRUNNING test_g 0s: units 0/1 up, probes 0/2 — waiting for probes \
                 `u:p`, `u:q`"
            ),
            "{text:?}"
        );
        assert!(
            text.ends_with(
                "\r\u{1b}[2KPASS something\n\r\u{1b}[2KRUNNING test_g 0s: units 1/1 up, probes \
                 1/2 — waiting for probes `u:q` missing"
            ),
            "{text:?}"
        );
        console.finish();
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.ends_with("missing\r\u{1b}[2K"),
            "the status line is cleared at the end"
        );
    }

    /// Issue 16: off a terminal nothing was printed between `RUN` and the result, so a stuck
    /// group looked like a working one. A group running longer than 10 s says what it waits
    /// for, every 10 s.
    #[test]
    fn off_a_terminal_a_long_running_group_says_what_it_waits_for() {
        let shared = Shared::default();
        let mut console = Console::new(Box::new(shared.clone()), Style::PLAIN, false, false, false);
        let group = Group::builder("test_stuck", "/tmp")
            .unit(testrium_config::Unit::passive("client").events(["answered"]))
            .build()
            .unwrap();
        console.group_started(&group);
        console.event(
            "test_stuck",
            &RunEvent::UnitStateChanged {
                unit: "server".into(),
                state: UnitState::Starting,
                pid: Some(1),
                at: Duration::ZERO,
            },
        );
        let start = console.running[0].started;
        console.tick(start + Duration::from_secs(5));
        let quiet = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert_eq!(quiet, "", "nothing before 10 s");
        console.tick(start + Duration::from_secs(11));
        console.tick(start + Duration::from_secs(15));
        console.tick(start + Duration::from_secs(21));
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "...  test_stuck still running after 11 s: units 0/1 up, probes 0/1; waiting for \
             `server` not ready; probes `client:answered` missing\n\
             ...  test_stuck still running after 21 s: units 0/1 up, probes 0/1; waiting for \
             `server` not ready; probes `client:answered` missing\n"
        );
    }

    #[test]
    fn broken_pipe_silences_without_panicking() {
        let mut console = Console::new(Box::new(Closed), Style::PLAIN, true, false, false);
        console.line("first");
        assert!(console.broken);
        console.line("second");
        console.finish();
    }
}
