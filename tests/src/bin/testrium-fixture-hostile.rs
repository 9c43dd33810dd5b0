//! `testrium-fixture-hostile`: a unit for the reliability suite (`tests/tests/reliability.rs`),
//! driven by a script of actions given as arguments and run in order.
//!
//! - `emit:STEP` records the probe STEP (Default);
//! - `burst:N:STEP` records N probes STEP as fast as it can;
//! - `pairs:N:TAG` records N keyed pairs: Send `TAG-sent` then Receive `TAG-received`, keys
//!   `TAG-0` … `TAG-<N-1>` (2N rows);
//! - `term-emit-exit:STEP` blocks until SIGTERM, then records STEP and exits 0 (a probe
//!   recorded after the group ended);
//! - `term-emit-hang:STEP` blocks until SIGTERM, records STEP, and keeps ignoring SIGTERM;
//! - `hostile-text` records probes whose names and metadata hold quotes, `<script>`, newlines,
//!   ANSI/OSC escapes and non-ASCII text, and prints the same text on stdout and stderr (and
//!   bytes that are not UTF-8);
//! - `hang` sleeps forever; `exit:N` exits N.
//!
//! Probes go to `TESTRIUM_EVENT_DB` as the unit `TESTRIUM_UNIT`. Exit status: 0 after the last
//! action; 90 on a bad action; 91 when a probe cannot be written or a signal handler cannot be
//! installed.

use std::io::Write;
use std::process::ExitCode;

use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;
use testrium_events::{EventType, Probe, ProbeRecord};

/// Hostile texts: what the reports must render without executing or breaking.
const HOSTILE: &[&str] = &[
    "quote\"double'single`back",
    "<script>alert('xss')</script>",
    "line\nbreak\r\nthen\ttab",
    "\u{1b}[31mred\u{1b}[0m\u{1b}]0;pwned-title\u{7}\u{1b}[2J",
    "non-ascii: 日本語 ünïcödé 🚀 \u{202e}rtl",
    "xml: ]]> &amp; <![CDATA[ &#0; \u{0}nul",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut probe: Option<Probe> = None;
    for action in &args {
        let (name, rest) = action.split_once(':').unwrap_or((action.as_str(), ""));
        let done = match name {
            "emit" => with_probe(&mut probe, |p| {
                p.emit(rest).map(drop).map_err(|e| e.to_string())
            }),
            "burst" => {
                let Some((n, step)) = count_and(rest) else {
                    return bad(action);
                };
                with_probe(&mut probe, |p| {
                    for _ in 0..n {
                        p.emit(step).map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
            }
            "pairs" => {
                let Some((n, tag)) = count_and(rest) else {
                    return bad(action);
                };
                let (sent, received) = (format!("{tag}-sent"), format!("{tag}-received"));
                with_probe(&mut probe, |p| {
                    for i in 0..n {
                        let key = format!("{tag}-{i}");
                        p.send(&sent, &key).map_err(|e| e.to_string())?;
                        p.receive(&received, &key).map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
            }
            "term-emit-exit" | "term-emit-hang" => {
                let mut signals = match Signals::new([SIGTERM]) {
                    Ok(signals) => signals,
                    Err(e) => {
                        eprintln!("testrium-fixture-hostile: signals: {e}");
                        return ExitCode::from(91);
                    }
                };
                // Blocks until the runner tears the unit down.
                let _ = signals.forever().next();
                let recorded = with_probe(&mut probe, |p| {
                    p.emit(rest).map(drop).map_err(|e| e.to_string())
                });
                if recorded && name == "term-emit-exit" {
                    return ExitCode::SUCCESS;
                }
                if recorded {
                    // SIGTERM stays caught (ignored) by `signals`.
                    hang();
                }
                false
            }
            "hostile-text" => with_probe(&mut probe, hostile_text),
            "hang" => hang(),
            "exit" => {
                let Ok(code) = rest.parse::<u8>() else {
                    return bad(action);
                };
                return ExitCode::from(code);
            }
            _ => return bad(action),
        };
        if !done {
            eprintln!("testrium-fixture-hostile: action `{action}` failed");
            return ExitCode::from(91);
        }
    }
    ExitCode::SUCCESS
}

fn hostile_text(probe: &Probe) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for (i, text) in HOSTILE.iter().enumerate() {
        let _ = writeln!(out, "stdout {i}: {text}");
        let _ = writeln!(err, "stderr {i}: {text}");
        let record = ProbeRecord::new(format!("hostile-{i} {text}"))
            .event_type(EventType::Send)
            .key(format!("key {text}"))
            .meta("message", *text)
            .meta(*text, *text);
        probe.record(record).map_err(|e| e.to_string())?;
    }
    // Bytes that are not UTF-8 at all.
    let _ = out.write_all(b"raw bytes: \xff\xfe\xc3\x28 \xed\xa0\x80 end\n");
    let _ = err.write_all(b"raw bytes: \xff\xfe\xc3\x28 \xed\xa0\x80 end\n");
    let _ = out.flush();
    // An exception probe whose message is hostile too: it goes into every report.
    probe
        .exception("hostile-exception", HOSTILE.join(" | ").as_str())
        .map(drop)
        .map_err(|e| e.to_string())
}

fn count_and(rest: &str) -> Option<(u64, &str)> {
    let (n, what) = rest.split_once(':')?;
    Some((n.parse().ok()?, what))
}

fn bad(action: &str) -> ExitCode {
    eprintln!("testrium-fixture-hostile: bad action `{action}`");
    ExitCode::from(90)
}

fn with_probe(slot: &mut Option<Probe>, f: impl FnOnce(&Probe) -> Result<(), String>) -> bool {
    if slot.is_none() {
        match Probe::from_env() {
            Ok(p) => *slot = Some(p),
            Err(e) => {
                eprintln!("testrium-fixture-hostile: no probe: {e}");
                return false;
            }
        }
    }
    let Some(p) = slot.as_ref() else {
        return false;
    };
    match f(p) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("testrium-fixture-hostile: probe failed: {e}");
            false
        }
    }
}

fn hang() -> ! {
    loop {
        std::thread::park();
    }
}
