//! Delivery contracts (issue 17) in every writer: a line in the terminal, a testcase in the
//! JUnit, a row in the HTML, an entry in the JSON (absent when no contract is declared).

use crate::fixtures;
use crate::junit::{self, LogSource};
use crate::model::{ContractReport, Failure, Latency, RunReport, UnitReport};
use crate::style::Style;

struct NoLogs;
impl LogSource for NoLogs {
    fn log(&self, _: &UnitReport) -> String {
        String::new()
    }
}

fn run_with_a_broken_contract() -> RunReport {
    let mut run = fixtures::run();
    let failure = Failure::new(
        "contract_duplicated",
        "contract `p:sent -> w:got` (exactly-once): 1 key(s) received more than once: `k2`",
    )
    .key("k2");
    let attempt = &mut run.groups[1].attempts[0];
    attempt.failures.push(failure.clone());
    attempt.contracts.push(ContractReport {
        name: "p:sent -> w:got".into(),
        delivery: "exactly-once".into(),
        passed: false,
        within_ms: Some(2000.0),
        sent: 3,
        received: 3,
        duplicated: 1,
        latency: Some(Latency {
            count: 3,
            mean_ms: 2.0,
            p50_ms: 2.0,
            p95_ms: 3.0,
            p99_ms: 3.0,
            max_ms: 3.0,
        }),
        failures: vec![failure],
        ..ContractReport::default()
    });
    run
}

#[test]
fn a_contract_is_in_every_report() {
    let run = run_with_a_broken_contract();

    let mut out = Vec::new();
    crate::terminal::write_group(&mut out, &run.groups[1], Style::PLAIN).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(
            "  contract p:sent -> w:got (exactly-once): broken (sent 3, received 3, lost 0, \
             duplicated 1, late 0, p50 2 ms  p95 3 ms  p99 3 ms  max 3 ms, within 2 s)"
        ),
        "{text}"
    );

    let mut out = Vec::new();
    junit::write(&mut out, &run, &NoLogs).unwrap();
    let xml = String::from_utf8(out).unwrap();
    let case = xml
        .split("<testcase ")
        .find(|c| c.contains("name=\"contract p:sent -&gt; w:got\""))
        .unwrap_or_else(|| panic!("{xml}"));
    assert!(case.contains("type=\"contract_duplicated\""), "{case}");
    // Claimed by the contract, not repeated under the group's own checks.
    let checks = xml
        .split("<testcase ")
        .filter(|c| c.contains("test_bad") && c.contains("name=\"group checks\""))
        .collect::<String>();
    assert!(!checks.contains("contract_duplicated"), "{checks}");

    let html = crate::html::render(&run);
    assert!(html.contains("<table class=\"contracts\">"), "{html}");
    assert!(
        html.contains("<tr class=\"bad\" data-contract=\"p:sent -&gt; w:got\">"),
        "{html}"
    );

    let json = serde_json::to_value(&run).unwrap();
    assert_eq!(
        json["groups"][1]["attempts"][0]["contracts"][0]["duplicated"],
        1
    );
    assert!(json["groups"][0]["attempts"][0].get("contracts").is_none());
    let back: RunReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, run);
}
