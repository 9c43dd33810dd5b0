//! A small Rust unit: a TCP echo server. Listens on 127.0.0.1 (any port), writes the port to
//! `$TESTRIUM_RUN_DIR/echo-server.port`, records `listening`, then for each connection reads
//! one line `<key>`, records Receive `request-received` with that key, records Send `response-sent` with key
//! `<key>-response` and answers `<key>`. Runs until stopped.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::ExitCode;

use testrium_events::{ENV_RUN_DIR, Probe};

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let probe = Probe::from_env()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let run_dir = std::env::var_os(ENV_RUN_DIR).ok_or("TESTRIUM_RUN_DIR is not set")?;
    let path = std::path::Path::new(&run_dir).join("echo-server.port");
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, port.to_string())?;
    std::fs::rename(&tmp, &path)?;
    probe.emit("listening")?;
    println!("listening on {port}");
    for stream in listener.incoming() {
        let mut stream = stream?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line)?;
        let key = line.trim();
        probe.receive("request-received", key)?;
        // Recorded before the answer leaves, so the Send happens before its Receive.
        probe.send("response-sent", &format!("{key}-response"))?;
        writeln!(stream, "{key}")?;
    }
    Ok(())
}
