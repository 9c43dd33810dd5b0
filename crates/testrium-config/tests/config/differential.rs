//! Differential test against the original Python Testrium 0.3.0: every group its loader accepts
//! is accepted here too, except for the documented stricter rules (each a silent runtime failure
//! in the original). Runs only where the original is installed: set `TESTRIUM_ORIGINAL_PYTHON`
//! to its interpreter, or have it in `/tmp/orig-venv` (skipped otherwise, and says so).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use testrium_config::{DiscoverOptions, discover};

use crate::support::Scratch;

/// What we reject on purpose although the original loads it (docs/CONFIG.md).
const STRICTER: &[&str] = &[
    "depends on itself", // the original waits for the unit itself: it never starts
    "dependency cycle",  // the original never starts any unit of the cycle
    "is not a Python identifier", // the original fails at import time
    "is not a Python module name, and the group folder has no such file",
    "contradicts", // two spellings of one setting with different values
    // A legacy key of the wrong type next to its current name: the original never looked at it.
    "(legacy spelling of",
    // A boolean where a number goes (`repeat = true`): Python's `isinstance(True, int)`.
    "found a boolean",
];

fn original_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("TESTRIUM_ORIGINAL_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let venv = Path::new("/tmp/orig-venv/bin/python");
    venv.exists().then(|| venv.to_path_buf())
}

#[test]
fn everything_the_original_accepts_is_accepted() {
    let Some(python) = original_python() else {
        eprintln!("skipped: the original Testrium is not installed (TESTRIUM_ORIGINAL_PYTHON)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/differential.py");
    let scratch = Scratch::new();
    let base = scratch.path("groups");
    let mut checked = 0;
    for seed in ["1", "2"] {
        let out = Command::new(&python)
            .arg(&script)
            .arg(&base)
            .arg(seed)
            .arg("200")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        if !out.status.success() {
            eprintln!(
                "skipped: the original's loader did not run: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let accepted: BTreeSet<String> = serde_json_list(&String::from_utf8_lossy(&out.stdout))
            .into_iter()
            .collect();
        let found = discover(&base, &DiscoverOptions::new()).unwrap_or_else(|e| panic!("{e}"));
        let ours: BTreeSet<&str> = found.groups.iter().map(|g| g.name.as_str()).collect();
        // Accepted here, rejected by the original: never (we are not more lenient on these keys).
        for name in &ours {
            assert!(
                accepted.contains(*name),
                "{name}: accepted here, rejected by the original"
            );
        }
        for name in accepted.iter().filter(|n| !ours.contains(n.as_str())) {
            let problems: Vec<&str> = found
                .diagnostics
                .iter()
                .filter(|d| d.path.starts_with(name))
                .map(|d| d.message.as_str())
                .collect();
            assert!(
                !problems.is_empty(),
                "{name}: accepted by the original, skipped here"
            );
            for problem in problems {
                assert!(
                    STRICTER.iter().any(|s| problem.contains(s)),
                    "{name}: the original accepts it, we reject it: {problem}"
                );
            }
        }
        checked += accepted.len();
    }
    assert!(checked > 80, "too few valid groups generated ({checked})");
}

/// The script prints a JSON list of strings (group names are plain `test_NNNN`).
fn serde_json_list(text: &str) -> Vec<String> {
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}
