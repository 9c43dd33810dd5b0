//! Integration tests of testrium-config: loading real folders, discovery, templates.

use std::path::{Path, PathBuf};

use testrium_config::{DiscoverOptions, Launch, discover, load_group, write_template};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn original_template_validates_cleanly() {
    let dir = workspace().join("examples/test_python_request_response");
    let group = load_group(&dir).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(group.name, "test_python_request_response");
    assert_eq!(group.units.keys().collect::<Vec<_>>(), ["target", "source"]);
    let source = &group.units["source"];
    assert_eq!(source.init, 1);
    assert_eq!(source.dependencies, ["target"]);
    assert_eq!(
        source.launch,
        Launch::Entrypoint {
            module: "test_case".into(),
            function: "run_source".into()
        }
    );
    assert_eq!(group.settings.timeout.as_secs(), 10);
}

#[test]
fn examples_folder_discovers() {
    let found = discover(&workspace().join("examples"), &DiscoverOptions::new())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        found
            .groups
            .iter()
            .any(|g| g.name == "test_python_request_response"),
        "{found:?}"
    );
}

#[test]
fn generated_template_validates() {
    let tmp = std::env::temp_dir().join(format!("testrium-config-gen-{}", std::process::id()));
    let dir = tmp.join("test_generated");
    let report = write_template(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.written.len(), 4);
    let group = load_group(&dir).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(group.circuits.len(), 1);
    let again = write_template(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(again.written.is_empty());
    assert_eq!(again.existing.len(), 4);
    let _ = std::fs::remove_dir_all(&tmp);
}
