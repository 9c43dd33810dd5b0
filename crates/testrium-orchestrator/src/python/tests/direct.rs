//! Tests of the direct-tests process (test functions, callbacks, results) with a real
//! interpreter.

use super::*;

#[test]
fn direct_tests_honour_priorities_parallelism_and_callbacks() {
    let fixture = Fixture::new("direct");
    fixture.file("checks.py", DIRECT_TESTS);
    fixture.file("_private.py", "def test_never(): raise SystemExit(3)\n");
    fixture.file(
        "setup.py",
        "def test_not_collected(): raise SystemExit(3)\n",
    );
    let input = fixture.scratch.0.join("run").join("direct-in.json");
    let output_json = fixture.scratch.0.join("run").join("direct-out.json");
    let mut spec = DirectTestsInput {
        group: "g".into(),
        db: fixture.db(),
        units: vec![RequiredProbes {
            name: "checker".into(),
            enabled: true,
            events: vec!["checked".into(), "never".into()],
        }],
        prior_results: Vec::new(),
        required: None,
        correlations: None,
    };
    spec = spec.prior_result(PriorResult::new(
        "unit_processes",
        true,
        std::time::Duration::from_millis(5),
    ));
    spec.write(&input).unwrap();
    let output = fixture.run(
        fixture
            .runtime
            .direct_tests_command(&fixture.group(), &input, &output_json),
        "tests",
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let results = parse_direct_results(&output_json).unwrap();
    let summary: Vec<(&str, bool)> = results
        .iter()
        .map(|t| (t.name.as_str(), t.passed))
        .collect();
    assert_eq!(
        summary,
        [
            ("test_early", true),
            ("test_middle", true),
            ("test_parallel_one", true),
            ("test_parallel_two", true),
            ("test_late", true),
            ("test_raises", false),
            ("test_rejected", false),
            ("tests_results", true),
        ]
    );
    let raised = results[5].message.as_deref().unwrap();
    assert!(raised.starts_with("AssertionError: expected failure\nTraceback"));
    assert_eq!(
        results[6].message.as_deref(),
        Some("validate_test('test_rejected') returned False")
    );
    assert_eq!(results[7].kind, DirectTestKind::Callback);
}

#[test]
fn a_falsy_tests_results_and_an_import_error_fail() {
    let fixture = Fixture::new("tail");
    fixture.file(
        "checks.py",
        "def test_ok():\n    pass\ndef tests_results(data):\n    return None\n",
    );
    fixture.file("broken.py", "import no_such_module_here\n");
    let input = fixture.scratch.0.join("in.json");
    let out = fixture.scratch.0.join("out.json");
    let spec = DirectTestsInput {
        group: "g".into(),
        db: fixture.db(),
        units: Vec::new(),
        prior_results: Vec::new(),
        required: Some(serde_json::json!({"completed": [], "missing": []})),
        correlations: Some(serde_json::json!({"orphan_sends": []})),
    };
    spec.write(&input).unwrap();
    let output = fixture.run(
        fixture
            .runtime
            .direct_tests_command(&fixture.group(), &input, &out),
        "tests",
    );
    assert_eq!(output.status.code(), Some(1));
    let results = parse_direct_results(&out).unwrap();
    let summary: Vec<(&str, DirectTestKind, bool)> = results
        .iter()
        .map(|t| (t.name.as_str(), t.kind, t.passed))
        .collect();
    assert_eq!(
        summary,
        [
            ("load broken.py", DirectTestKind::Load, false),
            ("test_ok", DirectTestKind::Test, true),
            ("tests_results", DirectTestKind::Callback, false),
        ]
    );
    assert!(
        results[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("ModuleNotFoundError")
    );
}

#[test]
fn gated_direct_tests_run_once_their_input_exists() {
    let fixture = Fixture::new("tests-gated");
    fixture.file("checks.py", "def test_one():\n    pass\n");
    let input = fixture.scratch.0.join("in.json");
    let out = fixture.scratch.0.join("out.json");
    let mut command = fixture
        .runtime
        .direct_tests_command_gated(&fixture.group(), &input, &out);
    let mut child = command
        .env("TESTRIUM_EVENT_DB", fixture.db())
        .spawn()
        .unwrap();
    let spec = DirectTestsInput {
        group: "g".into(),
        db: fixture.db(),
        units: Vec::new(),
        prior_results: Vec::new(),
        required: None,
        correlations: None,
    };
    spec.write(&input).unwrap();
    let status = wait_with_deadline(&mut child, std::time::Duration::from_secs(30));
    assert!(status.success());
    let results = parse_direct_results(&out).unwrap();
    assert_eq!(results.len(), 1);
    assert!(results[0].passed && results[0].name == "test_one");
}

#[test]
fn needs_direct_tests_only_when_a_file_can_define_them() {
    let scratch = Scratch::new("needs");
    scratch.write(
        "test_case.py",
        "from testrium.modules.events import Events_Manager\ndef run(): pass\n",
    );
    scratch.write("_helpers.py", "def test_hidden(): pass\n");
    assert!(!needs_direct_tests(&scratch.0));
    scratch.write("more.py", "def tests_results(data): return True\n");
    assert!(needs_direct_tests(&scratch.0));
}

#[test]
fn parse_direct_results_reports_a_broken_file() {
    let scratch = Scratch::new("parse");
    let path = scratch.write("out.json", "{\"tests\": 3}");
    let error = parse_direct_results(&path).unwrap_err();
    assert!(matches!(error.kind, PythonErrorKind::ParseResults(_)));
    let error = parse_direct_results(&scratch.0.join("absent.json")).unwrap_err();
    assert!(matches!(error.kind, PythonErrorKind::ReadResults(_)));
}
