//! The plain-text rendering of a verdict: no colours, deterministic, one item per line, with
//! every string that came from a unit escaped so it cannot move the cursor or inject lines.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::verdict::{ContractReport, FailureKind, LatencyStats, Verdict, WarningKind};

/// At most this many lines per failure or warning kind; the rest is counted.
const MAX_LINES_PER_KIND: usize = 20;

/// `s` escaped for a line of text: [`testrium_config::escape_text`], the escaper every
/// Testrium output shares (controls, bidi formatting, U+2028/U+2029, U+FFFE/U+FFFF as
/// `\u{..}`; `\n`, `\r`, `\t` as such), so text from units stays on one line and cannot
/// drive a terminal.
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    testrium_config::escape_text(s)
}

/// A duration in seconds for people, with three significant digits and the unit that reads
/// best: `850 µs`, `12.4 ms`, `2 s`, `75.3 s` (`ns` below a microsecond, whole seconds from
/// 1,000 s on); `0 s`; scientific notation from a million seconds on (only broken clocks
/// produce those), `inf`, `-inf` and `NaN` as such. The one formatter of durations and
/// latencies in every human-readable report; the JSON keeps the exact values.
pub fn fmt_seconds(s: f64) -> String {
    if s == 0.0 {
        return "0 s".to_owned();
    }
    if s.is_nan() {
        return "NaN".to_owned();
    }
    if s.is_infinite() {
        return if s > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let a = s.abs();
    if a >= 1e6 {
        // Absurd values come only from broken clocks: keep them short.
        return format!("{s:.2e} s");
    }
    // Rounded to three significant digits first, so 999.96 µs reads `1 ms`, not `1000 µs`.
    let digits = a.log10().floor() as i32;
    let step = 10f64.powi(digits - 2);
    let rounded = (a / step).round() * step;
    let (value, unit) = if rounded >= 1.0 {
        (rounded, "s")
    } else if rounded >= 1e-3 {
        (rounded * 1e3, "ms")
    } else if rounded >= 1e-6 {
        (rounded * 1e6, "µs")
    } else {
        (rounded * 1e9, "ns")
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let mut text = format!("{value:.decimals$}");
    if text.contains('.') {
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
    }
    let sign = if s < 0.0 { "-" } else { "" };
    format!("{sign}{text} {unit}")
}

/// The Linux name of a signal number, e.g. `SIGKILL (9)`.
pub(crate) fn signal_name(signal: i32) -> String {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match usize::try_from(signal)
        .ok()
        .and_then(|s| s.checked_sub(1))
        .and_then(|s| NAMES.get(s))
    {
        Some(name) => format!("{name} ({signal})"),
        None => format!("{signal}"),
    }
}

fn stats_line(s: &LatencyStats) -> String {
    format!(
        "count {}  min {}  mean {}  p50 {}  p95 {}  p99 {}  max {}",
        s.count,
        fmt_seconds(s.min_s),
        fmt_seconds(s.mean_s),
        fmt_seconds(s.p50_s),
        fmt_seconds(s.p95_s),
        fmt_seconds(s.p99_s),
        fmt_seconds(s.max_s)
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(crate) fn render(v: &Verdict) -> String {
    let mut out = String::new();
    let o = &mut out;
    let status = if v.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        o,
        "group {}: {status} ({}, {})",
        clean(&v.group),
        plural(v.failures.len(), "failure", "failures"),
        plural(v.warnings.len(), "warning", "warnings")
    );

    if !v.failures.is_empty() {
        let _ = writeln!(o, "failures:");
        for kind in FailureKind::ALL {
            let items: Vec<_> = v.failures.iter().filter(|f| f.kind == kind).collect();
            for f in items.iter().take(MAX_LINES_PER_KIND) {
                let _ = writeln!(o, "  [{kind}] {}", clean(&f.message));
            }
            if items.len() > MAX_LINES_PER_KIND {
                let _ = writeln!(
                    o,
                    "  [{kind}] … and {} more",
                    items.len() - MAX_LINES_PER_KIND
                );
            }
        }
    }
    if !v.warnings.is_empty() {
        let _ = writeln!(o, "warnings:");
        for kind in WarningKind::ALL {
            let items: Vec<_> = v.warnings.iter().filter(|w| w.kind == kind).collect();
            for w in items.iter().take(MAX_LINES_PER_KIND) {
                let _ = writeln!(o, "  [{kind}] {}", clean(&w.message));
            }
            if items.len() > MAX_LINES_PER_KIND {
                let _ = writeln!(
                    o,
                    "  [{kind}] … and {} more",
                    items.len() - MAX_LINES_PER_KIND
                );
            }
        }
    }

    if !v.units.is_empty() {
        let _ = writeln!(o, "units:");
        for u in &v.units {
            let mut line = format!("  {}: {}", clean(&u.name), u.status);
            if let Some(c) = u.exit_code {
                let _ = write!(line, ", exit {c}");
            }
            if let Some(s) = u.signal {
                let _ = write!(line, ", signal {}", signal_name(s));
            }
            if u.restarts > 0 {
                let _ = write!(
                    line,
                    ", {}",
                    plural(u.restarts as usize, "restart", "restarts")
                );
            }
            if let Some(f) = &u.failure {
                let _ = write!(line, " - {}", clean(&f.to_string()));
            }
            let _ = writeln!(o, "{line}");
            if u.status == crate::input::UnitStatus::Failed {
                for l in &u.log_tail {
                    let _ = writeln!(o, "    | {}", clean(l));
                }
            }
        }
    }
    if !v.direct_tests.is_empty() {
        let _ = writeln!(o, "direct tests:");
        for t in &v.direct_tests {
            let _ = writeln!(
                o,
                "  {}: {} in {}",
                clean(&t.name),
                if t.passed { "passed" } else { "failed" },
                fmt_seconds(t.duration_s)
            );
        }
    }

    let _ = writeln!(
        o,
        "probes: {} completed, {} missing",
        v.probes.completed.len(),
        v.probes.missing.len()
    );
    for p in &v.probes.completed {
        let _ = writeln!(
            o,
            "  ok      {}:{} (x{})",
            clean(&p.unit),
            clean(&p.probe),
            p.count
        );
    }
    for p in &v.probes.missing {
        let _ = writeln!(o, "  MISSING {}:{}", clean(&p.unit), clean(&p.probe));
    }

    let c = &v.correlation;
    let _ = writeln!(
        o,
        "correlation: {} paired, {} orphan sends, {} orphan receives, {} duplicate keys",
        c.pairs.len(),
        c.orphan_sends.len(),
        c.orphan_receives.len(),
        c.duplicate_keys.len()
    );
    if let Some(s) = &v.latency.overall {
        let _ = writeln!(
            o,
            "latency ({} monotonic, {} wall clock):",
            v.latency.monotonic_pairs, v.latency.wall_pairs
        );
        let _ = writeln!(o, "  all pairs: {}", stats_line(s));
        for r in &v.latency.routes {
            let _ = writeln!(
                o,
                "  {} -> {}: {}",
                clean(&r.send_unit),
                clean(&r.receive_unit),
                stats_line(&r.stats)
            );
        }
    }

    for circuit in &v.circuits {
        let _ = writeln!(
            o,
            "circuit {}: {} ({}/{} {} complete)",
            clean(&circuit.name),
            if circuit.passed() { "passed" } else { "FAILED" },
            circuit.complete,
            circuit.instances,
            if circuit.keyed { "keys" } else { "instances" },
        );
        for (i, h) in circuit.hops.iter().enumerate() {
            let mut line = format!("  {}. {}:{}", i + 1, clean(&h.unit), clean(&h.probe));
            if let Some(s) = &h.from_previous {
                let _ = write!(
                    line,
                    "  +{} p50, {} max",
                    fmt_seconds(s.p50_s),
                    fmt_seconds(s.max_s)
                );
            }
            if let Some(b) = h.budget_s {
                let _ = write!(line, " (budget {})", fmt_seconds(b));
            }
            let _ = write!(line, ", reached {}", h.reached);
            let _ = writeln!(o, "{line}");
        }
        if let Some(t) = &circuit.total {
            let mut line = format!(
                "  total {} p50, {} max",
                fmt_seconds(t.p50_s),
                fmt_seconds(t.max_s)
            );
            if let Some(b) = circuit.total_budget_s {
                let _ = write!(line, " (budget {})", fmt_seconds(b));
            }
            let _ = writeln!(o, "{line}");
        }
    }

    for c in &v.contracts {
        let _ = writeln!(o, "contract {}", contract_line(c));
    }

    let s = &v.summary;
    let mut line = format!(
        "events: {} ({} malformed, {} late)",
        s.events, s.malformed, s.late_events
    );
    if let Some(span) = s.events_span_s {
        let _ = write!(line, ", span {}", fmt_seconds(span));
    }
    if let Some(d) = s.group_duration_s {
        let _ = write!(line, ", group {}", fmt_seconds(d));
    }
    if s.timed_out {
        line.push_str(", timed out");
    }
    let _ = writeln!(o, "{line}");
    out
}

/// `name (delivery): passed|FAILED, sent N, received N, lost N, duplicated N, late N[,
/// unsent N][, latency p50 …]`: one contract on one line, as the reports show it.
pub(crate) fn contract_line(c: &ContractReport) -> String {
    let mut line = format!(
        "{} ({}): {}, sent {}, received {}, lost {}, duplicated {}, late {}",
        clean(&c.name),
        clean(&c.delivery),
        if c.passed { "passed" } else { "FAILED" },
        c.sent,
        c.received,
        c.lost,
        c.duplicated,
        c.late
    );
    if c.unsent > 0 {
        let _ = write!(line, ", unsent {}", c.unsent);
    }
    if let Some(s) = &c.latency {
        let _ = write!(
            line,
            ", latency p50 {} p95 {} p99 {} max {}",
            fmt_seconds(s.p50_s),
            fmt_seconds(s.p95_s),
            fmt_seconds(s.p99_s),
            fmt_seconds(s.max_s)
        );
    }
    if let Some(w) = c.within_s {
        let _ = write!(line, " (within {})", fmt_seconds(w));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 16): numbers read `budget 2000.000ms`, `p95 0.000ms`, `timeout of
    /// 8.000s`; three significant digits in a unit that reads best now.
    #[test]
    fn duration_formats() {
        let cases = [
            (0.0, "0 s"),
            (-0.0, "0 s"),
            (0.000_000_4, "400 ns"),
            (0.000_25, "250 µs"),
            (0.000_85, "850 µs"),
            (0.000_999_96, "1 ms"),
            (0.001, "1 ms"),
            (0.012_345_6, "12.3 ms"),
            (0.012_4, "12.4 ms"),
            (0.000_412_3, "412 µs"),
            (-0.25, "-250 ms"),
            (1.0, "1 s"),
            (2.0, "2 s"),
            (8.151, "8.15 s"),
            (125.5, "126 s"),
            (999_999.0, "1000000 s"),
            (1e308, "1.00e308 s"),
            (-1.8e10, "-1.80e10 s"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "NaN"),
        ];
        for (s, want) in cases {
            assert_eq!(fmt_seconds(s), want, "{s}");
        }
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), "SIGKILL (9)");
        assert_eq!(signal_name(15), "SIGTERM (15)");
        assert_eq!(signal_name(0), "0");
        assert_eq!(signal_name(64), "64");
        assert_eq!(signal_name(-3), "-3");
    }

    /// Regression (issue 12): this renderer printed U+200E, U+200F, U+FFFE and U+FFFF raw
    /// while the command line escaped them; both now use one escaper.
    #[test]
    fn clean_escapes_bidi_marks_and_noncharacters_like_the_cli() {
        assert_eq!(
            clean("a\u{200e}b\u{200f}c\u{fffe}d\u{ffff}"),
            "a\\u{200e}b\\u{200f}c\\u{fffe}d\\u{ffff}"
        );
    }

    #[test]
    fn clean_escapes_only_what_must_be() {
        assert!(matches!(clean("plain é ü 中"), Cow::Borrowed(_)));
        assert_eq!(
            clean("a\nb\tc\r\u{1b}[0m\u{7f}\u{9b}\u{202e}"),
            "a\\nb\\tc\\r\\u{1b}[0m\\u{7f}\\u{9b}\\u{202e}"
        );
    }
}
