//! JUnit XML, the dialect GitHub Actions, GitLab and Jenkins read: one `<testsuite>` per group;
//! one `<testcase>` per unit, per declared circuit, per delivery contract, per direct test, and
//! one for the group's own checks (correlation, malformed rows, timeouts not tied to a unit). A failing testcase has
//! one `<failure>` whose body lists all its evidence; unit logs go to `<system-out>`.
//!
//! Unit text can hold anything: the writer escapes markup and replaces characters XML 1.0
//! forbids, so the document is well-formed whatever the units wrote.

use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::model::{AttemptReport, Failure, GroupReport, RunReport, UnitReport};
use crate::sanitize;

/// Most bytes of a unit log copied into `<system-out>` (its end is kept).
pub const LOG_LIMIT: u64 = 64 * 1024;

/// Where unit logs come from: the log file, or the tail stored in the report.
pub trait LogSource {
    /// The text of the unit's log (possibly only its end).
    fn log(&self, unit: &UnitReport) -> String;
}

/// Reads the log file named in the report, falling back to the stored tail.
#[derive(Debug, Clone, Copy)]
pub struct FileLogs;

impl LogSource for FileLogs {
    fn log(&self, unit: &UnitReport) -> String {
        unit.log_path
            .as_deref()
            .and_then(|path| read_tail(std::path::Path::new(path), LOG_LIMIT).ok())
            .unwrap_or_else(|| unit.log_tail.join("\n"))
    }
}

/// The last `limit` bytes of a file, lossily decoded, with a marker when cut.
pub fn read_tail(path: &std::path::Path, limit: u64) -> io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut prefix = String::new();
    if len > limit {
        file.seek(SeekFrom::Start(len - limit))?;
        prefix = format!("[… first {} bytes of the log left out …]\n", len - limit);
    }
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(prefix + &String::from_utf8_lossy(&bytes))
}

struct Case<'a> {
    /// The attempt it is part of.
    attempt: &'a AttemptReport,
    name: String,
    time: f64,
    failures: Vec<&'a Failure>,
    /// A failure with no structured entry (a unit that failed with no named failure).
    extra: Option<String>,
    out: Option<String>,
    /// The failures of this testcase in the attempts retried before it: type, message, body.
    reruns: Vec<(String, String, String)>,
}

fn cases<'a>(a: &'a AttemptReport, suffix: &str, logs: &dyn LogSource) -> Vec<Case<'a>> {
    let mut cases = Vec::new();
    let mut claimed = vec![false; a.failures.len()];
    for u in &a.units {
        let failures: Vec<&Failure> = a
            .failures
            .iter()
            .enumerate()
            .filter(|(_, f)| f.circuit.is_none() && f.unit.as_deref() == Some(u.name.as_str()))
            .map(|(i, f)| {
                claimed[i] = true;
                f
            })
            .collect();
        let extra = (!u.passed && failures.is_empty()).then(|| {
            format!(
                "unit {} ended {}{}",
                u.name,
                u.status,
                u.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )
        });
        cases.push(Case {
            attempt: a,
            name: format!("unit {}{suffix}", u.name),
            time: u.duration_s.unwrap_or(0.0),
            failures,
            extra,
            out: Some(logs.log(u)),
            reruns: Vec::new(),
        });
    }
    for c in &a.circuits {
        let failures: Vec<&Failure> = a
            .failures
            .iter()
            .enumerate()
            .filter(|(_, f)| f.circuit.as_deref() == Some(c.name.as_str()))
            .map(|(i, f)| {
                claimed[i] = true;
                f
            })
            .collect();
        let extra = (!c.passed && failures.is_empty()).then(|| {
            c.message
                .clone()
                .unwrap_or_else(|| format!("circuit {} broken", c.name))
        });
        cases.push(Case {
            attempt: a,
            name: format!("circuit {}{suffix}", c.name),
            time: 0.0,
            failures,
            extra,
            out: Some(c.hops.join(" -> ")),
            reruns: Vec::new(),
        });
    }
    for c in &a.contracts {
        let failures: Vec<&Failure> = a
            .failures
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                c.failures
                    .iter()
                    .any(|cf| cf.kind == f.kind && cf.key == f.key && cf.message == f.message)
            })
            .map(|(i, f)| {
                claimed[i] = true;
                f
            })
            .collect();
        let extra = (!c.passed && failures.is_empty())
            .then(|| format!("contract {} ({}) broken", c.name, c.delivery));
        cases.push(Case {
            attempt: a,
            name: format!("contract {}{suffix}", c.name),
            time: 0.0,
            failures,
            extra,
            out: Some(format!(
                "{}: sent {}, received {}, lost {}, duplicated {}, late {}, unsent {}",
                c.delivery, c.sent, c.received, c.lost, c.duplicated, c.late, c.unsent
            )),
            reruns: Vec::new(),
        });
    }
    for t in &a.direct_tests {
        cases.push(Case {
            attempt: a,
            name: format!("test {}{suffix}", t.name),
            time: t.duration_s,
            failures: Vec::new(),
            extra: (!t.passed).then(|| t.message.clone().unwrap_or_else(|| "failed".into())),
            out: None,
            reruns: Vec::new(),
        });
    }
    let rest: Vec<&Failure> = a
        .failures
        .iter()
        .zip(&claimed)
        .filter(|(_, claimed)| !**claimed)
        .map(|(f, _)| f)
        .collect();
    let c = &a.correlation;
    let (orphan_sends, orphan_receives, duplicate_keys) = a.correlation_counts();
    let mut summary = format!(
        "{} paired, {} orphan sends, {} orphan receives, {} duplicate keys\nrun dir: {}",
        c.paired, orphan_sends, orphan_receives, duplicate_keys, a.run_dir
    );
    for w in &a.warnings {
        summary.push_str(&format!("\nwarning: {}: {}", w.kind, w.message));
    }
    cases.push(Case {
        attempt: a,
        name: format!("group checks{suffix}"),
        time: a.duration_s,
        extra: (!a.passed
            && rest.is_empty()
            && cases
                .iter()
                .all(|c| c.failures.is_empty() && c.extra.is_none()))
        .then(|| "the attempt failed".to_owned()),
        failures: rest,
        out: Some(summary),
        reruns: Vec::new(),
    });
    cases
}

fn text(s: &str) -> BytesText<'static> {
    BytesText::new(&sanitize::xml(s)).into_owned()
}

fn attr(s: &str) -> String {
    sanitize::xml(&s.replace(['\n', '\r'], " ")).into_owned()
}

fn secs(s: f64) -> String {
    format!("{:.3}", s.max(0.0))
}

/// Writes the JUnit XML document for a run.
pub fn write(out: impl Write, run: &RunReport, logs: &dyn LogSource) -> io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let suites: Vec<(&GroupReport, Vec<Case<'_>>)> = run
        .groups
        .iter()
        .map(|g| {
            // An attempt that failed and was retried is no testcase of its own: its failures
            // are the `<flakyFailure>`s (its retry passed) or `<rerunFailure>`s (it failed
            // again) of the retry's testcases, as surefire and nextest write them.
            let shown = (0..g.attempts.len()).filter(|&i| !g.retried(i)).count();
            let many = shown > 1;
            let mut earlier: Vec<Case<'_>> = Vec::new();
            let mut all = Vec::new();
            for (i, a) in g.attempts.iter().enumerate() {
                let suffix = if many {
                    format!(" [attempt {}]", a.attempt)
                } else {
                    String::new()
                };
                let mut these = cases(a, &suffix, logs);
                if g.retried(i) {
                    earlier.extend(these.into_iter().map(|mut c| {
                        c.name.truncate(c.name.len() - suffix.len());
                        c
                    }));
                    continue;
                }
                for case in &mut these {
                    let base = &case.name[..case.name.len() - suffix.len()];
                    case.reruns = earlier
                        .iter()
                        .filter(|e| e.name == base)
                        .filter_map(failure_parts)
                        .collect();
                }
                earlier.clear();
                all.extend(these);
            }
            (g, all)
        })
        .collect();
    let failing = |cases: &[Case<'_>]| {
        cases
            .iter()
            .filter(|c| !c.failures.is_empty() || c.extra.is_some())
            .count()
    };
    let tests: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failures: usize = suites.iter().map(|(_, c)| failing(c)).sum();
    let errors = suites.iter().filter(|(g, _)| g.error.is_some()).count();
    w.create_element("testsuites")
        .with_attribute(("name", "testrium"))
        .with_attribute(("tests", tests.to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("errors", errors.to_string().as_str()))
        .with_attribute(("time", secs(run.duration_s).as_str()))
        .write_inner_content(|w| {
            for (g, cases) in &suites {
                write_suite(w, g, cases, failing(cases))?;
            }
            Ok(())
        })?;
    w.get_mut().write_all(b"\n")?;
    Ok(())
}

fn write_suite<W: Write>(
    w: &mut Writer<W>,
    g: &GroupReport,
    cases: &[Case<'_>],
    failures: usize,
) -> io::Result<()> {
    let started = g.attempts.first().map(|a| a.started_at);
    let mut suite = w
        .create_element("testsuite")
        .with_attribute(("name", attr(&g.name).as_str()))
        .with_attribute(("tests", cases.len().to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute((
            "errors",
            usize::from(g.error.is_some()).to_string().as_str(),
        ))
        .with_attribute(("skipped", "0"))
        .with_attribute(("time", secs(g.duration_s).as_str()));
    if let Some(started) = started {
        suite = suite.with_attribute(("timestamp", crate::iso8601(started).as_str()));
    }
    suite.write_inner_content(|w| {
        w.create_element("properties").write_inner_content(|w| {
            let mut props = vec![
                ("attempts", g.attempts.len().to_string()),
                ("flaky", g.flaky.to_string()),
            ];
            for a in &g.attempts {
                props.push(("run_dir", a.run_dir.clone()));
            }
            for (name, value) in props {
                w.create_element("property")
                    .with_attribute(("name", name))
                    .with_attribute(("value", attr(&value).as_str()))
                    .write_empty()?;
            }
            Ok(())
        })?;
        if let Some(error) = &g.error {
            w.create_element("testcase")
                .with_attribute(("classname", attr(&g.name).as_str()))
                .with_attribute(("name", "group"))
                .with_attribute(("time", "0.000"))
                .write_inner_content(|w| {
                    w.create_element("error")
                        .with_attribute(("message", attr(error).as_str()))
                        .with_attribute(("type", "error"))
                        .write_text_content(text(error))?;
                    Ok(())
                })?;
        }
        for case in cases {
            write_case(w, &g.name, case)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The failure that stands for a testcase: the first root cause among its failures, else
/// the cause of its first failure (a circuit broken by a unit's crash), else its first.
fn primary<'a>(a: &'a AttemptReport, case: &Case<'a>) -> Option<&'a Failure> {
    let first = case.failures.first()?;
    let own = case.failures.iter().find(|f| {
        f.caused_by.is_none()
            && a.root_causes.iter().any(|r| {
                a.failures
                    .get(r.failure)
                    .is_some_and(|g| std::ptr::eq(g, **f))
            })
    });
    own.copied()
        .or_else(|| first.caused_by.and_then(|c| a.failures.get(c)))
        .or(Some(first))
}

/// A root cause's message, with the unit's uncaught exception and its frame when known.
fn cause_message(a: &AttemptReport, f: &Failure) -> String {
    let root = a.root_causes.iter().find(|r| {
        a.failures
            .get(r.failure)
            .is_some_and(|g| std::ptr::eq(g, f))
    });
    let mut message = f.message.clone();
    if let Some(exception) = root.and_then(|r| r.exception.as_deref()) {
        message.push_str(&format!(": {exception}"));
        if let Some(frame) = root.and_then(|r| r.frame.as_deref()) {
            message.push_str(&format!(" (at {frame})"));
        }
    }
    message
}

/// A failing testcase's `<failure>`: its type and message (the root cause) and its body
/// (every evidence line); `None` when it passed.
fn failure_parts(case: &Case<'_>) -> Option<(String, String, String)> {
    let a = case.attempt;
    let mut lines: Vec<String> = case
        .failures
        .iter()
        .map(|f| match f.caused_by.and_then(|c| a.failures.get(c)) {
            Some(cause) => format!("{}: {} (caused by {})", f.kind, f.message, cause.kind),
            None => format!("{}: {}", f.kind, cause_message(a, f)),
        })
        .collect();
    lines.extend(case.extra.clone());
    if lines.is_empty() {
        return None;
    }
    // Type and message: the root cause.
    let (kind, message) = match primary(a, case) {
        Some(f) => (
            f.kind.clone(),
            format!("{}: {}", f.kind, cause_message(a, f)),
        ),
        None => ("failure".to_owned(), lines[0].clone()),
    };
    Some((kind, message, lines.join("\n")))
}

fn write_case<W: Write>(w: &mut Writer<W>, group: &str, case: &Case<'_>) -> io::Result<()> {
    w.create_element("testcase")
        .with_attribute(("classname", attr(group).as_str()))
        .with_attribute(("name", attr(&case.name).as_str()))
        .with_attribute(("time", secs(case.time).as_str()))
        .write_inner_content(|w| {
            let failure = failure_parts(case);
            if let Some((kind, message, body)) = &failure {
                w.create_element("failure")
                    .with_attribute(("message", attr(message).as_str()))
                    .with_attribute(("type", attr(kind).as_str()))
                    .write_text_content(text(body))?;
            }
            // Earlier tries of a retried attempt: flaky when this one passed.
            let tag = if failure.is_some() {
                "rerunFailure"
            } else {
                "flakyFailure"
            };
            for (kind, message, body) in &case.reruns {
                w.create_element(tag)
                    .with_attribute(("message", attr(message).as_str()))
                    .with_attribute(("type", attr(kind).as_str()))
                    .write_text_content(text(body))?;
            }
            if let Some(out) = case.out.as_deref().filter(|o| !o.is_empty()) {
                w.create_element("system-out")
                    .write_text_content(text(out))?;
            }
            Ok(())
        })?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fixtures;
    use quick_xml::Reader;
    use quick_xml::XmlVersion;
    use quick_xml::events::Event;

    struct StoredTails;
    impl LogSource for StoredTails {
        fn log(&self, unit: &UnitReport) -> String {
            unit.log_tail.join("\n")
        }
    }

    fn render(run: &RunReport) -> String {
        let mut out = Vec::new();
        write(&mut out, run, &StoredTails).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A parsed element.
    #[derive(Debug, Default)]
    pub(crate) struct El {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub text: String,
        pub children: Vec<El>,
    }

    impl El {
        pub fn attr(&self, name: &str) -> &str {
            self.attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("<{}> has no attribute {name}", self.name))
        }
        pub fn all(&self, name: &str) -> Vec<&El> {
            self.children.iter().filter(|c| c.name == name).collect()
        }
        pub fn one(&self, name: &str) -> &El {
            let found = self.all(name);
            assert_eq!(found.len(), 1, "<{}> children named {name}", self.name);
            found[0]
        }
    }

    /// Parses a whole document strictly (matching end tags, known entities, characters
    /// allowed by XML 1.0); panics on any well-formedness error.
    pub(crate) fn parse(xml: &str) -> El {
        for c in xml.chars() {
            assert!(
                matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..),
                "character {c:?} is not allowed in XML 1.0"
            );
        }
        let mut reader = Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut stack = vec![El::default()];
        loop {
            let event = reader.read_event().unwrap();
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let el = El {
                        name: e.name().as_ref().to_owned(),
                        attrs: e
                            .attributes()
                            .map(|a| {
                                let a = a.unwrap();
                                (
                                    a.key.as_ref().to_owned(),
                                    a.normalized_value(XmlVersion::Explicit1_0)
                                        .unwrap()
                                        .into_owned(),
                                )
                            })
                            .collect(),
                        ..El::default()
                    };
                    if matches!(event, Event::Start(_)) {
                        stack.push(el);
                    } else {
                        stack.last_mut().unwrap().children.push(el);
                    }
                }
                Event::End(_) => {
                    let el = stack.pop().unwrap();
                    stack.last_mut().unwrap().children.push(el);
                }
                Event::Text(t) => {
                    stack
                        .last_mut()
                        .unwrap()
                        .text
                        .push_str(&t.xml_content(XmlVersion::Explicit1_0));
                }
                Event::GeneralRef(r) => {
                    let text = match r.resolve_char_ref().unwrap() {
                        Some(c) => c.to_string(),
                        None => match r.into_inner().as_ref() {
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "amp" => "&".into(),
                            "quot" => "\"".into(),
                            "apos" => "'".into(),
                            other => panic!("unknown entity &{other};"),
                        },
                    };
                    stack.last_mut().unwrap().text.push_str(&text);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(stack.len(), 1, "unclosed elements");
        let mut root = stack.pop().unwrap();
        assert_eq!(root.children.len(), 1, "one root element");
        root.children.pop().unwrap()
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&fixtures::run()));
    }

    #[test]
    fn parses_back_field_by_field() {
        let root = parse(&render(&fixtures::run()));
        assert_eq!(root.name, "testsuites");
        let suites = root.all("testsuite");
        assert_eq!(suites.len(), 3);
        let ok = suites[0];
        assert_eq!(ok.attr("name"), "test_ok");
        assert_eq!(ok.attr("failures"), "0");
        let names: Vec<&str> = ok.all("testcase").iter().map(|c| c.attr("name")).collect();
        assert_eq!(
            names,
            [
                "unit source",
                "unit target",
                "circuit request",
                "group checks"
            ]
        );
        assert!(
            ok.all("testcase")
                .iter()
                .all(|c| c.all("failure").is_empty())
        );
        assert_eq!(
            ok.all("testcase")[0].one("system-out").text,
            "source: started\nsource: done"
        );

        let bad = suites[1];
        assert_eq!(bad.attr("failures"), "3");
        let cases = bad.all("testcase");
        // Regression (issue 16): the type read `missing_probe` and the message `… (and 1
        // more)` for a unit that crashed; both are the root cause now, for the testcases its
        // crash broke too.
        let source = cases[0].one("failure");
        assert_eq!(source.attr("type"), "non_zero_exit");
        assert!(
            source
                .text
                .contains("key `k1` that was never received (caused by non_zero_exit)")
        );
        let target = cases[1].one("failure");
        assert_eq!(target.attr("type"), "non_zero_exit");
        assert_eq!(
            target.attr("message"),
            "non_zero_exit: target exited with code 1: ValueError: boom (at target.py:5 in handle)"
        );
        assert!(
            target
                .text
                .contains("missing_probe: target: `command-received` was never recorded")
        );
        assert!(cases[1].one("system-out").text.contains("ValueError: boom"));
        assert_eq!(cases[2].one("failure").attr("type"), "non_zero_exit");
        assert_eq!(root.attr("tests"), "16");

        let flaky = suites[2];
        let names: Vec<&str> = flaky
            .all("testcase")
            .iter()
            .map(|c| c.attr("name"))
            .collect();
        assert!(names.contains(&"unit target [attempt 2]"), "{names:?}");
        let props = flaky.one("properties").all("property");
        assert!(
            props
                .iter()
                .any(|p| p.attr("name") == "flaky" && p.attr("value") == "true")
        );
    }

    /// Issue 16: an attempt retried to a pass is no testcase of its own; its failures are
    /// `<flakyFailure>`s of the retry's testcases, as surefire and nextest write them.
    #[test]
    fn a_retried_attempt_is_flaky_failures_of_its_retry() {
        let root = parse(&render(&fixtures::flaky_on_retry()));
        let suite = root.one("testsuite");
        assert_eq!(suite.attr("failures"), "0");
        let cases = suite.all("testcase");
        assert!(cases.iter().all(|c| !c.attr("name").contains("[attempt")));
        assert!(cases.iter().all(|c| c.all("failure").is_empty()));
        let target = cases
            .iter()
            .find(|c| c.attr("name") == "unit target")
            .unwrap();
        let flaky = target.one("flakyFailure");
        assert_eq!(flaky.attr("type"), "non_zero_exit");
        assert!(flaky.text.contains("missing_probe"));
    }

    #[test]
    fn hostile_text_stays_well_formed() {
        let xml = render(&fixtures::hostile());
        let root = parse(&xml);
        let suite = root.one("testsuite");
        assert!(suite.attr("name").contains("<script>alert(1)</script>"));
        let unit = &suite.all("testcase")[1];
        assert!(unit.attr("name").starts_with("unit unitx\"'<script>"));
        assert!(unit.one("system-out").text.contains("\\u{0}"));
        assert!(!xml.contains("<script>"));
    }
}
