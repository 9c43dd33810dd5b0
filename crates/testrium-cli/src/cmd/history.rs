//! `testrium history [GROUP]`: the last runs from `<base>/.testrium/history.db`, pass rate and
//! p95 latency trend per group, flaky groups, and latency regressions: a lasting shift, judged
//! by [`RegressionRule`] — the group's last 3 attempts each above the median p95 of its up to
//! 20 attempts before them (at least 5) by `--regression-factor` and by more than 1 ms.

use std::io::{self, Write};

use testrium_events::{History, HistoryRecord, RegressionRule};
use testrium_orchestrator::TestriumExitCode;

use crate::args::{GlobalArgs, HistoryArgs};
use testrium_report::Style;
use testrium_report::sanitize::terminal as t;
use testrium_report::terminal::{millis, seconds};

/// The rule for `factor` (`--regression-factor`, 1.25 for a shift of 25 %).
fn rule(factor: f64) -> RegressionRule {
    RegressionRule::default().relative(factor - 1.0)
}

/// Runs `testrium history` and returns the exit code.
pub fn main(global: &GlobalArgs, args: HistoryArgs) -> u8 {
    if !(args.regression_factor.is_finite() && args.regression_factor >= 1.0) {
        say!("error: --regression-factor must be a number of at least 1");
        return TestriumExitCode::CONFIG_ERROR;
    }
    let base = match &args.base {
        Some(base) => base.clone(),
        None => match std::env::current_dir() {
            Ok(dir) => dir,
            Err(err) => {
                say!("error: cannot read the current directory: {err}");
                return TestriumExitCode::ENVIRONMENT_ERROR;
            }
        },
    };
    let path = History::path_for(&base);
    if !path.exists() {
        // A closed stdout is not an error here either.
        let _ = writeln!(
            io::stdout(),
            "no history yet in {} (run `testrium run` first)",
            base.display()
        );
        return TestriumExitCode::SUCCESS;
    }
    let history = match History::open(&base) {
        Ok(h) => h,
        Err(err) => {
            say!("error: {}", crate::cmd::error_chain(&err));
            return TestriumExitCode::ENVIRONMENT_ERROR;
        }
    };
    // Enough records for the shown runs and their baselines.
    let judged = rule(args.regression_factor);
    let wanted = args
        .last
        .saturating_add(judged.recent + judged.baseline)
        .max(200);
    let records = match history.recent(args.group.as_deref(), wanted) {
        Ok(r) => r,
        Err(err) => {
            say!("error: {}", crate::cmd::error_chain(&err));
            return TestriumExitCode::ENVIRONMENT_ERROR;
        }
    };
    let style = crate::console::style_for_stdout(global.no_color);
    let mut out = io::stdout().lock();
    match write(&mut out, &records, args.last, args.regression_factor, style) {
        Ok(()) => TestriumExitCode::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => TestriumExitCode::SUCCESS,
        Err(err) => {
            say!("error: cannot write to stdout: {err}");
            TestriumExitCode::ENVIRONMENT_ERROR
        }
    }
}

/// A shown attempt with its regression judgement.
#[derive(Debug, PartialEq)]
struct Row<'a> {
    record: &'a HistoryRecord,
    /// Median p95 of the previous attempts, when there were enough.
    baseline_p95_s: Option<f64>,
    regression: bool,
}

/// Judges the newest `last` records (newest first, as `History::recent` returns them): each
/// against the attempts of its group up to it.
fn rows(records: &[HistoryRecord], last: usize, factor: f64) -> Vec<Row<'_>> {
    let rule = rule(factor);
    records
        .iter()
        .enumerate()
        .take(last)
        .map(|(i, record)| {
            let p95s: Vec<f64> = records[i..]
                .iter()
                .filter(|r| r.group == record.group)
                .filter_map(|r| r.p95_s)
                .collect();
            let judged = record.p95_s.and_then(|_| rule.judge(&p95s));
            Row {
                record,
                baseline_p95_s: judged
                    .map(|j| j.baseline_p95_s)
                    .or_else(|| rule.baseline_p95_s(&p95s)),
                regression: judged.is_some(),
            }
        })
        .collect()
}

fn write(
    out: &mut dyn Write,
    records: &[HistoryRecord],
    last: usize,
    factor: f64,
    style: Style,
) -> io::Result<()> {
    if records.is_empty() {
        return writeln!(out, "no runs recorded");
    }
    let rows = rows(records, last, factor);

    // Per group, over the shown attempts.
    let mut groups: Vec<&str> = Vec::new();
    for r in &rows {
        if !groups.contains(&r.record.group.as_str()) {
            groups.push(&r.record.group);
        }
    }
    groups.sort_unstable();
    writeln!(out, "{}", style.bold("Groups (over the runs shown)"))?;
    let width = groups
        .iter()
        .map(|g| t(g).chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "  {:width$}  {:>4}  {:>9}  {:>10}  trend",
        "group", "runs", "pass rate", "last p95"
    )?;
    for group in &groups {
        let mine: Vec<&Row<'_>> = rows.iter().filter(|r| r.record.group == *group).collect();
        let passed = mine.iter().filter(|r| r.record.passed).count();
        let rate = 100.0 * passed as f64 / mine.len() as f64;
        let last_p95 = mine
            .iter()
            .find_map(|r| r.record.p95_s)
            .map(|s| millis(s * 1e3))
            .unwrap_or_else(|| "–".into());
        // Oldest to newest, the p95 of each attempt that had pairs.
        let trend: Vec<String> = mine
            .iter()
            .rev()
            .filter_map(|r| r.record.p95_s)
            .map(|s| millis(s * 1e3))
            .collect();
        let mut line = format!(
            "  {:width$}  {:>4}  {:>8.0}%  {:>10}  {}",
            t(group),
            mine.len(),
            rate,
            last_p95,
            if trend.is_empty() {
                "–".to_owned()
            } else {
                trend.join(" → ")
            }
        );
        if passed > 0 && passed < mine.len() {
            line.push_str(&format!("  {}", style.warn("FLAKY")));
        }
        if mine.first().is_some_and(|r| r.regression) {
            line.push_str(&format!("  {}", style.fail("LATENCY REGRESSION")));
        }
        writeln!(out, "{line}")?;
    }

    writeln!(out, "\n{}", style.bold("Last runs (newest first)"))?;
    for r in &rows {
        let rec = r.record;
        let verdict = if rec.passed {
            style.pass("PASS")
        } else {
            style.fail("FAIL")
        };
        let mut line = format!(
            "  {}  {verdict}  {:width$}  #{}  {:>8}",
            testrium_report::iso8601(rec.time),
            t(&rec.group),
            rec.attempt,
            seconds(rec.duration_s),
        );
        if let Some(p95) = rec.p95_s {
            line.push_str(&format!("  p95 {}", millis(p95 * 1e3)));
        }
        if r.regression {
            line.push_str(&format!(
                "  {} (median of previous {})",
                style.fail("REGRESSION"),
                r.baseline_p95_s
                    .map(|s| millis(s * 1e3))
                    .unwrap_or_default()
            ));
        }
        if !rec.failure_kinds.is_empty() {
            line.push_str(&format!("  [{}]", t(&rec.failure_kinds.join(", "))));
        }
        writeln!(out, "{line}")?;
    }
    let rule = rule(factor);
    writeln!(
        out,
        "\nregression: the last {} attempts each with a p95 above {factor}× and more than {} above the median p95 of up to {} attempts before them (at least {} needed)",
        rule.recent,
        millis(rule.absolute_s * 1e3),
        rule.baseline,
        rule.min_baseline
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(group: &str, n: u32, passed: bool, p95_ms: Option<f64>) -> HistoryRecord {
        let mut r = HistoryRecord::new(group, format!("{group}-{n}"));
        r.attempt = 1;
        r.passed = passed;
        r.time = 1_795_684_465.0 + f64::from(n);
        r.duration_s = 0.5;
        r.p95_s = p95_ms.map(|ms| ms / 1e3);
        if !passed {
            r.failure_kinds = vec!["missing_probe".into()];
        }
        r
    }

    /// Newest first, as the history returns them.
    fn records() -> Vec<HistoryRecord> {
        let mut v = vec![
            rec("test_a", 1, true, Some(1.0)),
            rec("test_a", 2, true, Some(1.2)),
            rec("test_b", 3, false, None),
            rec("test_a", 4, true, Some(0.9)),
            rec("test_b", 5, true, Some(5.0)),
            rec("test_a", 6, true, Some(1.1)),
            rec("test_a", 7, true, Some(1.0)),
            rec("test_a", 8, true, Some(3.2)),
            rec("test_a", 9, true, Some(3.0)),
            rec("test_a", 10, true, Some(3.1)),
        ];
        v.reverse();
        v
    }

    #[test]
    fn flags_a_lasting_shift_of_the_last_runs() {
        let records = records();
        let rows = rows(&records, 20, 1.25);
        // Newest test_a: 3.1, 3.0, 3.2 vs the median of 1.0, 1.1, 0.9, 1.2, 1.0 = 1.0 ms.
        assert_eq!(rows[0].record.run_id, "test_a-10");
        assert_eq!(rows[0].baseline_p95_s, Some(0.001));
        assert!(rows[0].regression);
        // Two shifted runs are not lasting yet.
        assert!(!rows[1].regression);
        assert!(!rows.iter().skip(1).any(|r| r.regression));
        // A higher factor tolerates it.
        assert!(!rows_regress(&records, 3.5));
    }

    /// Regression (issue 16): one noisy run was flagged as a latency regression.
    #[test]
    fn a_single_spike_is_not_flagged() {
        let mut records = records();
        records.drain(..3);
        records.insert(0, rec("test_a", 11, true, Some(8.151)));
        assert!(!rows_regress(&records, 1.25));
    }

    fn rows_regress(records: &[HistoryRecord], factor: f64) -> bool {
        rows(records, 20, factor).iter().any(|r| r.regression)
    }

    #[test]
    fn report_text() {
        let mut out = Vec::new();
        write(&mut out, &records(), 20, 1.25, Style::PLAIN).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }
}
