//! Rust units of the bundled `test_rust_circuit` example: `echo` answers pings over TCP on
//! loopback, `pinger` sends them. Every message is a probe pair keyed by its id, so the verifier
//! correlates each ping with its receipt and each pong with its answer. Each role records a
//! last probe (`echo-done`, `pinger-done`) when all its messages are through: the runner ends
//! the group once every required probe is recorded, so those keep it open until the end.
//!
//! Usage: `testrium-example-unit echo|pinger [--count N]` (started by the runner, which sets
//! `TESTRIUM_EVENT_DB`, `TESTRIUM_UNIT` and `TESTRIUM_RUN_DIR`).

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;

use testrium_events::{ENV_RUN_DIR, Probe};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = args.first().map(String::as_str).unwrap_or("");
    let count = match args.iter().position(|a| a == "--count") {
        Some(i) => match args.get(i + 1).map(|n| n.parse::<u32>()) {
            Some(Ok(n)) => n,
            _ => return usage("--count takes a whole number"),
        },
        None => 1,
    };
    let outcome = match role {
        "echo" => echo(count),
        "pinger" => pinger(count),
        _ => return usage("expected `echo` or `pinger`"),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("testrium-example-unit {role}: {err}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("usage: testrium-example-unit echo|pinger [--count N]: {problem}");
    ExitCode::from(2)
}

/// Where `echo` publishes its port for `pinger`: a file in the run directory.
fn port_file() -> Result<PathBuf> {
    let dir = std::env::var_os(ENV_RUN_DIR).ok_or("TESTRIUM_RUN_DIR is not set")?;
    Ok(PathBuf::from(dir).join("echo.port"))
}

fn echo(count: u32) -> Result<()> {
    let probe = Probe::from_env()?;
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    let file = port_file()?;
    std::fs::write(&file, port.to_string())?;
    probe.emit("echo-ready")?;

    let (stream, _) = listener.accept()?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    for _ in 0..count {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err("pinger closed the connection early".into());
        }
        let id = line.trim();
        probe.receive("ping-received", &format!("ping-{id}"))?;
        probe.send("pong-sent", &format!("pong-{id}"))?;
        writeln!(writer, "{id}")?;
    }
    probe.emit("echo-done")?;
    Ok(())
}

fn pinger(count: u32) -> Result<()> {
    let probe = Probe::from_env()?;
    let port: u16 = std::fs::read_to_string(port_file()?)?.trim().parse()?;
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    for id in 0..count {
        probe.send("ping-sent", &format!("ping-{id}"))?;
        writeln!(writer, "{id}")?;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err("echo closed the connection early".into());
        }
        let answered = line.trim();
        if answered != id.to_string() {
            return Err(format!("expected pong {id}, got {answered:?}").into());
        }
        probe.receive("pong-received", &format!("pong-{id}"))?;
    }
    probe.emit("pinger-done")?;
    Ok(())
}
