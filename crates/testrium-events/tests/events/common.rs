//! Helpers shared by the tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh temporary folder, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "testrium-events-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn db(&self) -> PathBuf {
        self.0.join("Data.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real Python interpreter behind `python3` (a pyenv shim costs ~50 ms per start), resolved
/// once per test binary.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 must be installed to test the Python client");
        assert!(out.status.success(), "python3 failed: {out:?}");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// Writes the Python client as an importable `testrium` package under `dir`.
pub fn install_python_client(dir: &Path) {
    let modules = dir.join("testrium").join("modules");
    std::fs::create_dir_all(&modules).expect("create package");
    std::fs::write(dir.join("testrium").join("__init__.py"), "").expect("write");
    std::fs::write(modules.join("__init__.py"), "").expect("write");
    std::fs::write(
        modules.join("events.py"),
        testrium_events::PYTHON_EVENTS_MODULE,
    )
    .expect("write");
}

/// A `python` command that can `import testrium.modules.events` (installed under `dir`), with
/// the runner's variables cleared.
pub fn python_cmd(dir: &Path) -> Command {
    if !dir.join("testrium").exists() {
        install_python_client(dir);
    }
    let mut cmd = Command::new(python());
    cmd.env("PYTHONPATH", dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove(testrium_events::ENV_EVENT_DB)
        .env_remove(testrium_events::ENV_UNIT)
        .current_dir(dir);
    cmd
}

/// Runs a Python script and returns its stdout; fails the test with stderr if it fails.
pub fn run_python(dir: &Path, script: &str) -> String {
    let out = python_cmd(dir)
        .args(["-c", script])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n--- stderr ---\n{}",
        script,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A reader that keeps a snapshot of `db` open all the time (`BEGIN; SELECT; ...; COMMIT`,
/// again at once) until `stop`, as units waiting on probes and a busy runner do; returns the
/// largest size of the write-ahead log it saw. With it, nothing but a `RESTART` checkpoint
/// lets the log start over: commits keep growing it.
pub fn hold_snapshots(
    db: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        let conn = rusqlite::Connection::open(&db).expect("reader");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        let mut peak = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            conn.execute_batch("BEGIN").expect("begin");
            let _: i64 = conn
                .query_row("SELECT MAX(ID) FROM Events", [], |r| {
                    r.get::<_, Option<i64>>(0).map(|v| v.unwrap_or(0))
                })
                .expect("read");
            std::thread::sleep(std::time::Duration::from_millis(2));
            conn.execute_batch("COMMIT").expect("commit");
            peak = peak.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        peak
    })
}

/// How many rows the `Events` table of the run database `db` holds, read back.
pub fn stored_rows(db: &Path) -> usize {
    testrium_events::RunDb::open(db)
        .expect("open")
        .read_events()
        .expect("read")
        .events
        .len()
}
