//! A small Rust unit: the client of `testrium-fixture-echo-server`. Waits for the server's
//! `listening` probe, reads the port from `$TESTRIUM_RUN_DIR/echo-server.port`, and for each
//! of N requests (first argument, default 1) records Send `request-sent` with key `req-<i>`,
//! sends the key, reads the answer and records Receive `response-received` with key
//! `req-<i>-response`. Then records `done` and exits 0.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use testrium_events::{ENV_RUN_DIR, Probe};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let requests: u32 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1,
    };
    let probe = Probe::from_env()?;
    if !probe.wait_for("server", "listening", Duration::from_secs(30))? {
        return Err("server never listened".into());
    }
    let run_dir = std::env::var_os(ENV_RUN_DIR).ok_or("TESTRIUM_RUN_DIR is not set")?;
    let port: u16 =
        std::fs::read_to_string(std::path::Path::new(&run_dir).join("echo-server.port"))?
            .trim()
            .parse()?;
    for i in 0..requests {
        let key = format!("req-{i}");
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        probe.send("request-sent", &key)?;
        writeln!(stream, "{key}")?;
        let mut answer = String::new();
        BufReader::new(&stream).read_line(&mut answer)?;
        if answer.trim() != key {
            return Err(format!("echo mismatch: sent {key}, got {answer:?}").into());
        }
        probe.receive("response-received", &format!("{key}-response"))?;
    }
    probe.emit("done")?;
    Ok(())
}
