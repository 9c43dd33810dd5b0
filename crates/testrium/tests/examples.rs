//! The bundled examples (`examples/` at the root of the repository) as `cargo test` cases, run
//! by the umbrella crate's harness: `cargo test -p testrium --test examples [-- FILTER]`.
//!
//! The shell example calls `testrium emit` and the Rust one runs `testrium-example-unit`: both
//! binaries are (re)built first, into the target folder the harness puts on the units' `PATH`.
//! A no-op right after `cargo test --workspace`; never stale when only this package is tested.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let listing = std::env::args().any(|a| a == "--list");
    if !listing {
        build_unit_binaries();
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    testrium::harness::main(examples);
}

/// Builds `testrium` and `testrium-example-unit` with the cargo running the tests, in the
/// profile of this test binary.
fn build_unit_binaries() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-q", "-p", "testrium-cli", "--bin", "testrium"])
        .args([
            "-p",
            "testrium-example-units",
            "--bin",
            "testrium-example-unit",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir()
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(status.success(), "cannot build the examples' unit binaries");
}

/// `target/<profile>`: the folder of this test binary, without `deps`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}
