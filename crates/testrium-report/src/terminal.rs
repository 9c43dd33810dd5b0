//! The human report: one block per group as it finishes, then a summary. Everything a unit
//! wrote (names, probes, keys, messages, logs) goes through [`sanitize::terminal`] first.

use std::io::{self, Write};

use crate::model::{AttemptReport, ContractReport, GroupReport, Latency, RunReport};
use crate::sanitize::{self, terminal as t};
use crate::style::Style;

/// Most log lines shown per failing unit.
pub const LOG_TAIL_LINES: usize = 12;
/// Most failures listed per attempt (the JSON report has them all).
const MAX_FAILURES: usize = 30;
/// Most keys listed per orphan/duplicate list.
const MAX_KEYS: usize = 5;

/// A duration in seconds for people: `2 s`, `12.4 ms`, `850 µs` — three significant digits
/// ([`testrium_verify::fmt_seconds`], the one formatter of every human-readable report).
pub fn seconds(s: f64) -> String {
    testrium_verify::fmt_seconds(s)
}

/// A latency in milliseconds for people, as [`seconds`]: `412 µs`, `8.15 ms`.
pub fn millis(ms: f64) -> String {
    testrium_verify::fmt_seconds(ms / 1e3)
}

fn latency_line(l: &Latency) -> String {
    format!(
        "p50 {}  p95 {}  p99 {}  max {}",
        millis(l.p50_ms),
        millis(l.p95_ms),
        millis(l.p99_ms),
        millis(l.max_ms)
    )
}

/// Writes the block of one finished group.
pub fn write_group(out: &mut dyn Write, group: &GroupReport, style: Style) -> io::Result<()> {
    write_head(out, group, style)?;
    if let Some(attempt) = group.shown_attempt() {
        write_attempt(out, attempt, group.attempts.len(), style)?;
    }
    Ok(())
}

/// Writes one line for the group and, when it failed, its failures, root causes first
/// (`testrium run -q`).
pub fn write_group_brief(out: &mut dyn Write, group: &GroupReport, style: Style) -> io::Result<()> {
    write_head(out, group, style)?;
    if let Some(attempt) = group.shown_attempt().filter(|a| !a.passed) {
        write_failures(out, attempt, style)?;
    }
    Ok(())
}

/// The group's first line (verdict, name, time, attempts), its error and its attempts' verdicts.
fn write_head(out: &mut dyn Write, group: &GroupReport, style: Style) -> io::Result<()> {
    let interrupted = group.interrupted;
    let on_retry = group.passed_on_retry();
    let label = if on_retry {
        style.warn("FLAKY")
    } else if group.passed {
        style.pass("PASS")
    } else if interrupted {
        style.warn("INTR")
    } else {
        style.fail("FAIL")
    };
    let attempts = group.attempts.len();
    let mut head = format!("{label} {} {}", t(&group.name), seconds(group.duration_s));
    if attempts > 1 && !on_retry {
        let passed = group.attempts.iter().filter(|a| a.passed).count();
        head.push_str(&format!("  ({passed}/{attempts} attempts passed)"));
    }
    if on_retry {
        let retries = group.attempts.iter().filter(|a| a.retry).count();
        head.push_str(&format!(
            "  (passed after {retries} retr{})",
            if retries == 1 { "y" } else { "ies" }
        ));
    } else if group.flaky {
        head.push_str(&format!("  {}", style.warn("FLAKY")));
    }
    writeln!(out, "{head}")?;
    if let Some(error) = &group.error {
        writeln!(out, "  error: {}", t(error))?;
    }
    if group.flaky {
        let verdicts: Vec<&str> = group
            .attempts
            .iter()
            .map(|a| match (a.passed, a.retry) {
                (true, false) => "pass",
                (false, false) => "fail",
                (true, true) => "pass (retry)",
                (false, true) => "fail (retry)",
            })
            .collect();
        writeln!(out, "  attempts: {}", verdicts.join(", "))?;
    }
    Ok(())
}

/// The attempt's failures, causes first with their consequences folded under them.
fn write_failures(out: &mut dyn Write, a: &AttemptReport, style: Style) -> io::Result<()> {
    let failures = a.failures.len() + a.omitted.failures as usize;
    if !a.failures.is_empty() {
        writeln!(out, "  {} ({failures}):", style.bold("failures"))?;
        // Causes first, each with its consequences folded under it, then the rest.
        let lines = failure_lines(a);
        let width = lines
            .iter()
            .take(MAX_FAILURES)
            .filter_map(|l| match l {
                FailureLine::Failure { depth: 0, index } => {
                    Some(a.failures[*index].kind.chars().count())
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let nested = lines
            .iter()
            .take(MAX_FAILURES)
            .filter_map(|l| match l {
                FailureLine::Failure { depth: 1, index } => {
                    Some(a.failures[*index].kind.chars().count())
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mut listed = 0;
        for line in lines.iter().take(MAX_FAILURES) {
            match line {
                FailureLine::Failure { depth, index } => {
                    listed += 1;
                    let f = &a.failures[*index];
                    // A failing direct test carries its traceback: its first line here, the
                    // rest under the test's own line below.
                    let message = match f.kind.as_str() {
                        "direct_test_failed" => first_line(&f.message),
                        _ => t(&f.message).into_owned(),
                    };
                    let (indent, width) = if *depth == 0 {
                        ("", width)
                    } else {
                        ("    ", nested)
                    };
                    writeln!(
                        out,
                        "    {indent}{:width$}  {message}",
                        style.fail(&f.kind),
                        width = width + style_overhead(style)
                    )?;
                }
                FailureLine::Exception { exception, frame } => {
                    let at = frame
                        .as_deref()
                        .map(|f| format!("  (at {})", t(f)))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "      {} {}{at}",
                        style.fail("exception:"),
                        t(exception)
                    )?;
                }
                FailureLine::Caused { count, kinds } => {
                    writeln!(out, "      caused {count} more: {kinds}")?;
                }
                FailureLine::More { count } => {
                    writeln!(out, "        … and {count} more")?;
                    listed += count;
                }
            }
        }
        if failures > listed {
            writeln!(
                out,
                "    … and {} more (see --json and the run database)",
                failures - listed
            )?;
        }
    }
    Ok(())
}

fn write_attempt(
    out: &mut dyn Write,
    a: &AttemptReport,
    attempts: usize,
    style: Style,
) -> io::Result<()> {
    if attempts > 1 && !a.passed {
        writeln!(out, "  attempt {} of {attempts}:", a.attempt)?;
    }
    if a.interrupted {
        writeln!(out, "  {}", style.warn("interrupted: units torn down"))?;
    }
    let warnings = a.warnings.len() + a.omitted.warnings as usize;
    write_failures(out, a, style)?;
    let folded = |w: &&crate::model::Failure| {
        w.kind == "exception"
            && a.root_causes
                .iter()
                .any(|r| r.exception.is_some() && r.unit.is_some() && r.unit == w.unit)
    };
    for w in a.warnings.iter().filter(|w| !folded(w)).take(MAX_FAILURES) {
        writeln!(
            out,
            "  {} {}: {}",
            style.warn("warning:"),
            w.kind,
            t(&w.message)
        )?;
    }
    if warnings > MAX_FAILURES {
        writeln!(
            out,
            "  … and {} more warnings (see --json and the run database)",
            warnings - MAX_FAILURES
        )?;
    }
    let bad_units: Vec<_> = a.units.iter().filter(|u| !u.passed).collect();
    if !bad_units.is_empty() || !a.passed {
        writeln!(out, "  {}:", style.bold("units"))?;
        let width = a
            .units
            .iter()
            .map(|u| t(&u.name).chars().count())
            .max()
            .unwrap_or(0);
        for u in &a.units {
            let mut line = format!("    {:width$}  {:8}", t(&u.name), u.status);
            if let Some(code) = u.exit_code {
                line.push_str(&format!("  exit {code}"));
            }
            if let Some(signal) = u.signal {
                line.push_str(&format!("  signal {signal}"));
            }
            if u.restarts > 0 {
                line.push_str(&format!("  restarted {}x", u.restarts));
            }
            for (name, port) in &u.ports {
                line.push_str(&format!("  {}={port}", t(name)));
            }
            if let Some(reason) = &u.reason {
                line.push_str(&format!("  ({})", t(reason)));
            }
            writeln!(out, "{}", line.trim_end())?;
        }
    } else if a.units.iter().any(|u| !u.ports.is_empty()) {
        // A passing group has no units section: its ports still show.
        let ports: Vec<String> = a
            .units
            .iter()
            .flat_map(|u| {
                u.ports
                    .iter()
                    .map(move |(name, port)| format!("{}.{}={port}", t(&u.name), t(name)))
            })
            .collect();
        writeln!(out, "  ports: {}", ports.join(" "))?;
    }
    for u in bad_units {
        if u.log_tail.is_empty() {
            continue;
        }
        // The last lines, or from the start of the traceback when it is longer.
        let from = u.log_tail.len().saturating_sub(LOG_TAIL_LINES);
        let from = crate::cause::traceback_start(&u.log_tail).map_or(from, |tb| from.min(tb));
        let shown = &u.log_tail[from..];
        writeln!(out, "  last {} log lines of {}:", shown.len(), t(&u.name))?;
        for line in shown {
            writeln!(
                out,
                "    {} {}",
                style.dim("|"),
                sanitize::terminal_log_line(line)
            )?;
        }
    }
    let seen = a.probes.iter().filter(|p| p.count > 0).count();
    if !a.probes.is_empty() {
        writeln!(out, "  probes: {seen}/{} required seen", a.probes.len())?;
    }
    let c = &a.correlation;
    if c.paired > 0
        || !c.orphan_sends.is_empty()
        || !c.orphan_receives.is_empty()
        || !c.duplicate_keys.is_empty()
    {
        let (orphan_sends, orphan_receives, duplicate_keys) = a.correlation_counts();
        writeln!(
            out,
            "  correlation: {} paired, {} orphan sends, {} orphan receives, {} duplicate keys",
            c.paired, orphan_sends, orphan_receives, duplicate_keys,
        )?;
        for (what, list) in [
            ("orphan sends", &c.orphan_sends),
            ("orphan receives", &c.orphan_receives),
            ("duplicate keys", &c.duplicate_keys),
        ] {
            if list.is_empty() {
                continue;
            }
            let keys: Vec<String> = list
                .iter()
                .take(MAX_KEYS)
                .map(|k| {
                    let key = t(&format!("{:?}", k.key)).into_owned();
                    if what == "duplicate keys" {
                        // unit = the senders, step = "N sends, M receives"
                        format!("key {key} ({} by {})", t(&k.step), t(&k.unit))
                    } else {
                        format!("{}:{} key {key}", t(&k.unit), t(&k.step))
                    }
                })
                .collect();
            let more = if list.len() > MAX_KEYS {
                format!(", … {} more", list.len() - MAX_KEYS)
            } else {
                String::new()
            };
            writeln!(out, "    {what}: {}{more}", keys.join(", "))?;
        }
        let width = c
            .routes
            .iter()
            .map(|r| r.from.chars().count() + r.to.chars().count() + 4)
            .max()
            .unwrap_or(0);
        for r in &c.routes {
            let route = format!("{} -> {}", t(&r.from), t(&r.to));
            writeln!(
                out,
                "    {route:width$}  {:>5} {}  {}",
                r.latency.count,
                if r.latency.count == 1 {
                    "pair "
                } else {
                    "pairs"
                },
                latency_line(&r.latency)
            )?;
        }
    }
    for circuit in &a.circuits {
        let verdict = if circuit.passed {
            style.pass("held")
        } else {
            style.fail("broken")
        };
        let mut line = format!("  circuit {}: {verdict}", t(&circuit.name));
        let mut notes = vec![format!(
            "{}/{} complete",
            circuit.complete, circuit.instances
        )];
        if let Some(total) = &circuit.total {
            notes.push(format!("p95 {}", millis(total.p95_ms)));
        }
        if let Some(budget) = circuit.budget_ms {
            notes.push(format!("budget {}", millis(budget)));
        }
        line.push_str(&format!(" ({})", notes.join(", ")));
        if let Some(message) = &circuit.message {
            line.push_str(&format!(": {}", t(message)));
        }
        writeln!(out, "{line}")?;
    }
    for contract in &a.contracts {
        write_contract(out, contract, style)?;
    }
    for f in &a.faults {
        let what = format!(
            "{} {} after {} #{}",
            t(&f.action),
            t(&f.unit),
            t(&f.after),
            f.occurrence
        );
        let line = match (f.fired, f.latency_ms) {
            (true, Some(ms)) => format!("fired {} after its probe", millis(ms)),
            (true, None) => "fired".to_owned(),
            (false, _) if f.optional => "never triggered (optional)".to_owned(),
            (false, _) => style.fail("never triggered").to_string(),
        };
        writeln!(out, "  fault {what}: {line}")?;
    }
    for test in &a.direct_tests {
        let label = if test.passed {
            style.pass("PASS")
        } else {
            style.fail("FAIL")
        };
        let mut line = format!(
            "  test {label} {} {}",
            t(&test.name),
            seconds(test.duration_s)
        );
        let mut more: Vec<&str> = Vec::new();
        if let Some(message) = &test.message {
            let mut lines = message.trim_end().lines();
            line.push_str(&format!(": {}", t(lines.next().unwrap_or_default())));
            more = lines.collect();
        }
        writeln!(out, "{line}")?;
        let from = more.len().saturating_sub(LOG_TAIL_LINES);
        for extra in &more[from..] {
            writeln!(
                out,
                "    {} {}",
                style.dim("|"),
                sanitize::terminal_log_line(extra)
            )?;
        }
    }
    writeln!(out, "  run dir: {}", style.dim(&t(&a.run_dir)))?;
    Ok(())
}

/// `  contract NAME (DELIVERY): held|broken (sent N, received N, lost N, duplicated N, late N,
/// p95 …)`: one line per delivery contract.
fn write_contract(out: &mut dyn Write, c: &ContractReport, style: Style) -> io::Result<()> {
    let verdict = if c.passed {
        style.pass("held")
    } else {
        style.fail("broken")
    };
    let mut notes = vec![format!(
        "sent {}, received {}, lost {}, duplicated {}, late {}",
        c.sent, c.received, c.lost, c.duplicated, c.late
    )];
    if c.unsent > 0 {
        notes.push(format!("unsent {}", c.unsent));
    }
    if let Some(l) = &c.latency {
        notes.push(latency_line(l));
    }
    if let Some(w) = c.within_ms {
        notes.push(format!("within {}", millis(w)));
    }
    writeln!(
        out,
        "  contract {} ({}): {verdict} ({})",
        t(&c.name),
        t(&c.delivery),
        notes.join(", ")
    )
}

/// The first line of a message (real or already escaped line breaks), with `…` when cut.
/// Most consequences listed under their cause.
const MAX_CONSEQUENCES: usize = 5;

enum FailureLine {
    Failure {
        depth: u8,
        index: usize,
    },
    Exception {
        exception: String,
        frame: Option<String>,
    },
    Caused {
        count: u64,
        kinds: String,
    },
    More {
        count: usize,
    },
}

/// The failures in the order they are shown: each root cause, its exception, a count of its
/// consequences by kind and the first of them; then the failures of no known cause.
fn failure_lines(a: &AttemptReport) -> Vec<FailureLine> {
    let mut lines = Vec::new();
    let mut shown = vec![false; a.failures.len()];
    for root in &a.root_causes {
        if root.failure >= a.failures.len() {
            continue;
        }
        shown[root.failure] = true;
        lines.push(FailureLine::Failure {
            depth: 0,
            index: root.failure,
        });
        if let Some(exception) = &root.exception {
            lines.push(FailureLine::Exception {
                exception: exception.clone(),
                frame: root.frame.clone(),
            });
        }
        let consequences: Vec<usize> = (0..a.failures.len())
            .filter(|&i| a.failures[i].caused_by == Some(root.failure))
            .collect();
        if consequences.is_empty() {
            continue;
        }
        let mut by_kind: Vec<(&str, usize)> = Vec::new();
        for &i in &consequences {
            let kind = a.failures[i].kind.as_str();
            match by_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => by_kind.push((kind, 1)),
            }
        }
        let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
        lines.push(FailureLine::Caused {
            count: consequences.len() as u64,
            kinds: kinds.join(", "),
        });
        for &i in consequences.iter().take(MAX_CONSEQUENCES) {
            shown[i] = true;
            lines.push(FailureLine::Failure { depth: 1, index: i });
        }
        if consequences.len() > MAX_CONSEQUENCES {
            for &i in &consequences[MAX_CONSEQUENCES..] {
                shown[i] = true;
            }
            lines.push(FailureLine::More {
                count: consequences.len() - MAX_CONSEQUENCES,
            });
        }
    }
    lines.extend(
        (0..a.failures.len())
            .filter(|&i| !shown[i])
            .map(|index| FailureLine::Failure { depth: 0, index }),
    );
    lines
}

fn first_line(message: &str) -> String {
    let clean = t(message);
    let cut = clean.find("\\n").map_or(&*clean, |i| &clean[..i]);
    if cut.len() < clean.trim_end_matches("\\n").len() {
        format!("{cut} …")
    } else {
        cut.to_owned()
    }
}

/// Colour codes add invisible characters that `{:width$}` would count.
fn style_overhead(style: Style) -> usize {
    if style.color() {
        "\u{1b}[1;31m\u{1b}[0m".len()
    } else {
        0
    }
}

/// Writes the closing summary of a run. Skipped groups are named with their reason, except
/// those left out by the command line (`--less`, names, `-k`, `--partition`), which are
/// counted by reason and named only when `verbose`.
pub fn write_summary(
    out: &mut dyn Write,
    run: &RunReport,
    style: Style,
    verbose: bool,
) -> io::Result<()> {
    let flaky: Vec<&str> = run.flaky().map(|g| g.name.as_str()).collect();
    let mut line = format!(
        "\n{} {} group{}: {} passed, {} failed",
        style.bold("Summary:"),
        run.groups.len(),
        if run.groups.len() == 1 { "" } else { "s" },
        run.passed(),
        run.failed()
    );
    if !flaky.is_empty() {
        line.push_str(&format!(", {} flaky", flaky.len()));
    }
    if !run.skipped.is_empty() {
        line.push_str(&format!(", {} skipped", run.skipped.len()));
    }
    line.push_str(&format!(" in {}", seconds(run.duration_s)));
    writeln!(out, "{line}")?;
    if run.interrupted {
        writeln!(
            out,
            "  {}",
            style.warn("interrupted: the run was cut short")
        )?;
    }
    for g in run.groups.iter().filter(|g| !g.passed) {
        let label = if g.interrupted {
            style.warn("INTR")
        } else {
            style.fail("FAIL")
        };
        writeln!(out, "  {label} {}", t(&g.name))?;
    }
    for name in flaky {
        writeln!(out, "  {} {}", style.warn("FLAKY"), t(name))?;
    }
    // Regression (issue 11 item 7): skipped groups were only counted ("1 skipped"), so a
    // group disabled in its config, or a hidden `.test_wip/`, went unnoticed.
    let mut left_out: Vec<(&str, usize)> = Vec::new();
    for s in &run.skipped {
        if s.kind.by_selection() {
            match left_out.iter_mut().find(|(reason, _)| *reason == s.reason) {
                Some((_, n)) => *n += 1,
                None => left_out.push((&s.reason, 1)),
            }
            if !verbose {
                continue;
            }
        }
        writeln!(
            out,
            "  {} {}: {}",
            style.warn("SKIP"),
            t(&s.name),
            t(&s.reason)
        )?;
    }
    if !left_out.is_empty() {
        let counts: Vec<String> = left_out
            .iter()
            .map(|(reason, n)| format!("{n} {}", t(reason)))
            .collect();
        let named = if verbose {
            ""
        } else {
            " (--verbose names them)"
        };
        writeln!(out, "  left out: {}{named}", counts.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn render(run: &RunReport) -> String {
        let mut out = Vec::new();
        for g in &run.groups {
            write_group(&mut out, g, Style::PLAIN).unwrap();
        }
        write_summary(&mut out, run, Style::PLAIN, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn absurd_durations_stay_short() {
        assert_eq!(millis(0.4123), "412 µs");
        assert_eq!(millis(2000.0), "2 s");
        assert_eq!(millis(f64::MAX), "1.80e305 s");
        assert_eq!(millis(f64::INFINITY), "inf");
        assert_eq!(seconds(1e300), "1.00e300 s");
        assert_eq!(seconds(75.25), "75.3 s");
        assert_eq!(crate::model::finite(f64::INFINITY), f64::MAX);
        assert_eq!(crate::model::finite(f64::NAN), 0.0);
    }

    #[test]
    fn passing_and_failing_groups() {
        insta::assert_snapshot!(render(&fixtures::run()));
    }

    /// The first failure line of a group's block.
    fn first_failure(text: &str) -> &str {
        text.lines()
            .skip_while(|l| !l.starts_with("  failures"))
            .nth(1)
            .unwrap_or_default()
    }

    /// Regression (issue 16): the missing probes of a unit that crashed were listed before
    /// the crash, and its Python exception was printed as a warning.
    #[test]
    fn a_crash_cascade_shows_the_crash_first() {
        let mut run = fixtures::run();
        run.groups.retain(|g| !g.passed);
        let text = render(&run);
        assert!(first_failure(&text).contains("non_zero_exit"), "{text}");
        assert!(
            text.contains("ValueError: boom  (at target.py:5 in handle)"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    /// Issue 16: a group that passed on a retry is FLAKY, with the root cause of the attempt
    /// that failed first.
    #[test]
    fn a_flaky_group_shows_the_root_cause_of_its_failed_attempt_first() {
        let text = render(&fixtures::flaky_on_retry());
        assert!(text.starts_with("FLAKY test_bad"), "{text}");
        assert!(first_failure(&text).contains("non_zero_exit"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_spawn_failure_shows_the_spawn_first() {
        let text = render(&fixtures::spawn_failure());
        assert!(first_failure(&text).contains("spawn_failed"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_readiness_timeout_shows_the_timeout_first() {
        let text = render(&fixtures::readiness_timeout());
        assert!(first_failure(&text).contains("readiness_timeout"), "{text}");
        insta::assert_snapshot!(text);
    }

    /// Regression (issue 11 item 7): skipped groups were only counted. Those skipped by their
    /// own config or folder are named with the reason; those left out by the command line are
    /// counted by reason, and named with `--verbose`.
    #[test]
    fn skipped_groups_are_named_or_counted() {
        let run = fixtures::run();
        let mut quiet = Vec::new();
        write_summary(&mut quiet, &run, Style::PLAIN, false).unwrap();
        let quiet = String::from_utf8(quiet).unwrap();
        assert!(
            quiet.contains("SKIP test_off: disabled (`enabled = false`)"),
            "{quiet}"
        );
        assert!(!quiet.contains("test_other"), "{quiet}");
        assert!(quiet.contains("left out: 1 not selected"), "{quiet}");
        let mut verbose = Vec::new();
        write_summary(&mut verbose, &run, Style::PLAIN, true).unwrap();
        let verbose = String::from_utf8(verbose).unwrap();
        assert!(
            verbose.contains("SKIP test_other: not selected"),
            "{verbose}"
        );
        assert!(verbose.contains("SKIP test_off: disabled"), "{verbose}");
    }

    #[test]
    fn hostile_unit_text_is_not_executed() {
        let text = render(&fixtures::hostile());
        assert!(
            !text.contains('\u{1b}'),
            "raw ESC reached the terminal: {text:?}"
        );
        assert!(!text.contains('\u{7}'));
        assert!(!text.contains('\u{202e}'));
        assert!(text.contains("\\u{1b}[2J"), "{text}");
        insta::assert_snapshot!(text);
    }
}
