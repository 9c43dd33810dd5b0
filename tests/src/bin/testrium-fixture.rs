//! `testrium-fixture`: a unit that misbehaves on purpose, driven by a script of actions given
//! as arguments and run in order (see `testrium_tests::fixture::Action` for the typed model
//! and what each action produces).
//!
//! Probes go to the run database named by `TESTRIUM_EVENT_DB` as the unit `TESTRIUM_UNIT`.
//! Exit status: 0 after the last action; `exit:N` exits N; 90 on a bad action; 91 when a
//! probe cannot be written; 92 when `wait:` times out.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::time::Duration;

use testrium_events::Probe;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut probe: Option<Probe> = None;
    for (i, action) in args.iter().enumerate() {
        let (name, rest) = action.split_once(':').unwrap_or((action.as_str(), ""));
        let result = match name {
            "emit" => with_probe(&mut probe, |p| p.emit(rest).map(drop)),
            "send" | "recv" => {
                let Some((step, key)) = rest.split_once(':') else {
                    return bad(action);
                };
                with_probe(&mut probe, |p| {
                    if name == "send" {
                        p.send(step, key).map(drop)
                    } else {
                        p.receive(step, key).map(drop)
                    }
                })
            }
            "wait" => {
                let Some((unit, step)) = rest.split_once(':') else {
                    return bad(action);
                };
                let waited = with_probe_value(&mut probe, |p| {
                    p.wait_for(unit, step, Duration::from_secs(30))
                });
                match waited {
                    Some(true) => Ok(()),
                    Some(false) => return ExitCode::from(92),
                    None => Err(()),
                }
            }
            "print" => {
                println!("{rest}");
                Ok(())
            }
            "flood" => {
                let Ok(bytes) = rest.parse::<usize>() else {
                    return bad(action);
                };
                flood(bytes);
                Ok(())
            }
            "exit" => {
                let Ok(code) = rest.parse::<u8>() else {
                    return bad(action);
                };
                return ExitCode::from(code);
            }
            "span" => match send_span(rest) {
                Ok(()) => Ok(()),
                Err(e) => {
                    eprintln!("testrium-fixture: span `{rest}` not accepted: {e}");
                    return ExitCode::from(93);
                }
            },
            "span-on-term" => {
                let term = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                if signal_hook::flag::register(signal_hook::consts::SIGTERM, term.clone()).is_err()
                {
                    return bad(action);
                }
                while !term.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                match send_span(rest) {
                    Ok(()) => return ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("testrium-fixture: span `{rest}` not accepted: {e}");
                        return ExitCode::from(93);
                    }
                }
            }
            "sleep" => {
                let Ok(ms) = rest.parse::<u64>() else {
                    return bad(action);
                };
                std::thread::sleep(Duration::from_millis(ms));
                Ok(())
            }
            "crash" => std::process::abort(),
            "hang" => hang(),
            "ignore-term" => {
                // A handler that does nothing: SIGTERM no longer terminates the process.
                let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                if signal_hook::flag::register(signal_hook::consts::SIGTERM, flag).is_err() {
                    return bad(action);
                }
                Ok(())
            }
            "setsid" => nix::unistd::setsid().map(drop).map_err(drop),
            // A child in the unit's process group that keeps the unit's output open.
            "grandchild" => spawn_self(&["emit:grandchild-up", "hang"], false).map(drop),
            // A child that moves to its own process group.
            "escape" => spawn_self(&["emit:escaped-up", "hang"], true).map(drop),
            // Double fork + setsid: a middle process starts the daemon and exits at once.
            "daemonize" => spawn_self(&["spawn-daemon"], false)
                .and_then(|mut middle| middle.wait().map(drop).map_err(drop)),
            "spawn-daemon" => spawn_self(&["setsid", "emit:daemon-up", "hang"], false).map(drop),
            _ => return bad(action),
        };
        if result.is_err() {
            eprintln!("testrium-fixture: action {i} `{action}` failed");
            return ExitCode::from(91);
        }
    }
    ExitCode::SUCCESS
}

fn bad(action: &str) -> ExitCode {
    eprintln!("testrium-fixture: bad action `{action}`");
    ExitCode::from(90)
}

fn probe(slot: &mut Option<Probe>) -> Option<&Probe> {
    if slot.is_none() {
        match Probe::from_env() {
            Ok(p) => *slot = Some(p),
            Err(e) => {
                eprintln!("testrium-fixture: no probe: {e}");
                return None;
            }
        }
    }
    slot.as_ref()
}

fn with_probe<E: std::fmt::Display>(
    slot: &mut Option<Probe>,
    f: impl FnOnce(&Probe) -> Result<(), E>,
) -> Result<(), ()> {
    let p = probe(slot).ok_or(())?;
    f(p).map_err(|e| eprintln!("testrium-fixture: probe failed: {e}"))
}

fn with_probe_value<T, E: std::fmt::Display>(
    slot: &mut Option<Probe>,
    f: impl FnOnce(&Probe) -> Result<T, E>,
) -> Option<T> {
    let p = probe(slot)?;
    f(p).map_err(|e| eprintln!("testrium-fixture: probe failed: {e}"))
        .ok()
}

/// One span as OTLP/JSON in one HTTP/1.1 request to `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces`,
/// authorized with `$TESTRIUM_TOKEN`, as `$OTEL_SERVICE_NAME`.
fn send_span(name: &str) -> Result<(), String> {
    let var = |v: &str| std::env::var(v).map_err(|_| format!("{v} is not set"));
    let answer = testrium_tests::post_otlp_span(
        &var("OTEL_EXPORTER_OTLP_ENDPOINT")?,
        &var("TESTRIUM_TOKEN")?,
        &var("OTEL_SERVICE_NAME")?,
        name,
    )?;
    match answer.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ => Err(if answer.is_empty() {
            "no answer".to_owned()
        } else {
            answer
        }),
    }
}

fn hang() -> ! {
    loop {
        std::thread::park();
    }
}

fn flood(bytes: usize) {
    let chunk = vec![b'x'; 64 * 1024];
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        let _ = out.write_all(&chunk[..n]);
        let _ = err.write_all(&chunk[..n]);
        left -= n;
    }
    let _ = out.flush();
}

fn spawn_self(args: &[&str], own_group: bool) -> Result<std::process::Child, ()> {
    let exe = std::env::current_exe().map_err(drop)?;
    let mut command = Command::new(exe);
    command.args(args);
    if own_group {
        command.process_group(0);
    }
    command
        .spawn()
        .map_err(|e| eprintln!("testrium-fixture: spawn failed: {e}"))
}
