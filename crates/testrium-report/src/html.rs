//! The HTML report: one self-contained page (inline CSS and SVG, no script, no network) with the
//! verdict, the evidence and, per attempt, a timeline of the circuit: one lane per unit, probes
//! as points on a shared time axis, Send→Receive arrows labelled with their latency, failures
//! marked. Every piece of unit-provided text is escaped.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::model::{AttemptReport, GroupReport, RunReport, Timeline, finite};
use crate::sanitize::{html as e, html_with_code as code};
use crate::terminal::{millis, seconds};

const CSS: &str = r#"
:root { --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --muted: #656d76; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem 3rem; color: #1f2328; }
h1 { font-size: 1.5rem; margin: .5rem 0; } h2 { font-size: 1.2rem; margin: 0; } h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.badge { display: inline-block; padding: 0 .5em; border-radius: 4px; color: #fff; font-weight: 600; font-size: .85rem; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); } .badge.flaky { background: var(--warn); }
.summary { color: var(--muted); }
section.group { border: 1px solid var(--line); border-radius: 8px; margin: 1rem 0; padding: .8rem 1rem; }
section.group.fail { border-left: 5px solid var(--fail); } section.group.pass { border-left: 5px solid var(--pass); }
section.attempt { border-top: 1px dashed var(--line); margin-top: .8rem; }
table { border-collapse: collapse; margin: .3rem 0; } th, td { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
th { color: var(--muted); font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.failures, ul.warnings { padding-left: 1.2rem; } .warn { color: var(--warn); font-weight: 600; } ul.failures li { margin: .15rem 0; } li.root-cause { font-weight: 600; } li.root-cause li, .exception { font-weight: normal; } .exception { font-family: monospace; } .kind { color: var(--fail); font-weight: 600; }
.ok { color: var(--pass); } .bad { color: var(--fail); } .muted { color: var(--muted); }
pre.log { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; overflow-x: auto; white-space: pre-wrap; max-height: 20rem; }
svg.timeline { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
svg .lane line { stroke: #8c959f; stroke-dasharray: 3 3; } svg .lane text { font-size: 12px; fill: #1f2328; }
svg .axis line { stroke: var(--line); } svg .axis text { font-size: 10px; fill: var(--muted); }
svg .probe { stroke: #fff; stroke-width: 1; } svg .probe.Default { fill: #6e7781; } svg .probe.Send { fill: #0969da; }
svg .probe.Receive { fill: #8250df; } svg .probe.Exception { fill: var(--fail); }
svg .probe.failed { stroke: var(--fail); stroke-width: 3; }
svg .arrow line { stroke: #0969da; stroke-width: 1.2; } svg .arrow text { font-size: 10px; fill: #0969da; }
svg .missing text { font-size: 11px; fill: var(--fail); font-weight: 600; }
svg .axis text.break { font-size: 14px; fill: var(--muted); }
svg .probe-labels text { font-size: 10px; fill: var(--muted); }
svg line.alive { stroke: #8c959f; stroke-width: 2.5; }
svg .life path, svg .life rect { fill: #57606a; stroke: none; } svg .life.starting path { fill: var(--pass); }
svg .life.starting path.restart { fill: var(--warn); } svg .life.ready path { fill: var(--pass); stroke: var(--pass); stroke-width: 1.5; }
svg .life.failed rect { fill: var(--fail); } svg .life.stopped rect { fill: #fff; stroke: #57606a; stroke-width: 1.5; }
svg .life path.killed { fill: none; stroke: var(--fail); stroke-width: 2.5; }
svg .timeout line { stroke: var(--fail); stroke-width: 1.5; stroke-dasharray: 6 4; } svg .timeout text { font-size: 11px; fill: var(--fail); font-weight: 600; }
.histograms { display: flex; flex-wrap: wrap; gap: 1rem; } figure.histogram { margin: 0; font-size: 12px; }
figure.histogram svg { width: 320px; height: 90px; } figure.histogram rect { fill: #0969da; } figure.histogram text { font-size: 10px; fill: var(--muted); }
svg .density rect { fill: #0969da; } svg .density text { font-size: 10px; fill: #0969da; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.legend { font-size: 12px; } .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin: 0 4px 0 10px; }
.dot.Send { background: #0969da; } .dot.Receive { background: #8250df; } .dot.Default { background: #6e7781; }
.dot.Exception { background: var(--fail); } .dot.failed { border: 2px solid var(--fail); }
"#;

/// Writes the whole page.
pub fn write(mut out: impl Write, run: &RunReport) -> io::Result<()> {
    out.write_all(render(run).as_bytes())
}

/// The whole page as text.
pub fn render(run: &RunReport) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let verdict = if run.groups.iter().all(|g| g.passed) && !run.groups.is_empty() {
        "passed"
    } else {
        "failed"
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Testrium report: {verdict}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
    );
    let _ = write!(
        h,
        "<header>\n<h1>Testrium report <span class=\"badge {cls}\" id=\"verdict\">{label}</span></h1>\n\
         <p class=\"summary\">{n} group{plural}: {p} passed, {f} failed{flaky}{skipped} in {d} · \
         base <code>{base}</code> · started {at} · testrium {v}{interrupted}</p>\n</header>\n",
        cls = if verdict == "passed" { "pass" } else { "fail" },
        label = verdict.to_uppercase(),
        n = run.groups.len(),
        plural = if run.groups.len() == 1 { "" } else { "s" },
        p = run.passed(),
        f = run.failed(),
        flaky = match run.flaky().count() {
            0 => String::new(),
            n => format!(", {n} flaky"),
        },
        skipped = match run.skipped.len() {
            0 => String::new(),
            n => format!(", {n} skipped"),
        },
        d = seconds(run.duration_s),
        base = e(&run.base),
        at = crate::iso8601(run.started_at),
        v = e(&run.testrium_version),
        interrupted = if run.interrupted {
            " · <strong class=\"bad\">interrupted</strong>"
        } else {
            ""
        },
    );
    if !run.skipped.is_empty() {
        h.push_str("<p class=\"muted\">Skipped: ");
        let items: Vec<String> = run
            .skipped
            .iter()
            .map(|s| format!("<code>{}</code> ({})", e(&s.name), code(&s.reason)))
            .collect();
        h.push_str(&items.join(", "));
        h.push_str("</p>\n");
    }
    for (index, group) in run.groups.iter().enumerate() {
        group_section(&mut h, index, group);
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn group_section(h: &mut String, index: usize, g: &GroupReport) {
    let cls = if g.passed { "pass" } else { "fail" };
    let _ = write!(
        h,
        "<section class=\"group {cls}\" id=\"group-{index}\" data-group=\"{name}\">\n\
         <h2><span class=\"badge {cls}\">{label}</span> {name} <span class=\"muted\">{d}</span>{flaky}</h2>\n",
        name = e(&g.name),
        label = cls.to_uppercase(),
        d = seconds(g.duration_s),
        flaky = if g.passed_on_retry() {
            " <span class=\"badge flaky\">FLAKY</span> <span class=\"muted\">passed on retry</span>"
        } else if g.flaky {
            " <span class=\"badge flaky\">FLAKY</span>"
        } else {
            ""
        },
    );
    if let Some(error) = &g.error {
        let _ = writeln!(h, "<p class=\"bad\">error: {}</p>", code(error));
    }
    let many = g.attempts.len() > 1;
    for a in &g.attempts {
        attempt_section(h, index, a, many);
    }
    h.push_str("</section>\n");
}

/// Most items of a list shown at once; the rest are behind "show all N".
const LIST_SHOWN: usize = 50;

/// A `<ul>` of `items` showing the first [`LIST_SHOWN`], the rest in a `<details>`.
fn capped_list(h: &mut String, class: &str, items: &[String]) {
    // A top-level list has a line per item; one nested in an item stays on its line.
    let (open, nl) = if class.is_empty() {
        ("<ul>".to_owned(), "")
    } else {
        (format!("<ul class=\"{class}\">"), "\n")
    };
    let _ = write!(h, "{open}{nl}");
    for item in items.iter().take(LIST_SHOWN) {
        let _ = write!(h, "{item}{nl}");
    }
    let _ = write!(h, "</ul>{nl}");
    if items.len() > LIST_SHOWN {
        let _ = write!(
            h,
            "<details class=\"more\"><summary>show all {}</summary>{open}{nl}",
            items.len()
        );
        for item in &items[LIST_SHOWN..] {
            let _ = write!(h, "{item}{nl}");
        }
        let _ = write!(h, "</ul></details>{nl}");
    }
}

fn attempt_section(h: &mut String, group: usize, a: &AttemptReport, many: bool) {
    let _ = writeln!(
        h,
        "<section class=\"attempt {}\" data-attempt=\"{}\">",
        if a.passed { "pass" } else { "fail" },
        a.attempt
    );
    if many {
        let _ = writeln!(
            h,
            "<h3>Attempt {}{} <span class=\"{}\">{}</span> <span class=\"muted\">{}</span></h3>",
            a.attempt,
            if a.retry { " (retry)" } else { "" },
            if a.passed { "ok" } else { "bad" },
            if a.passed { "passed" } else { "failed" },
            seconds(a.duration_s)
        );
    }
    if a.interrupted {
        h.push_str("<p class=\"bad\">Interrupted: units were torn down.</p>\n");
    }
    if !a.failures.is_empty() {
        h.push_str("<h3>Failures</h3>\n");
        // Root causes first, their consequences folded under them, then the rest.
        let mut items: Vec<String> = Vec::new();
        let mut shown = vec![false; a.failures.len()];
        for root in &a.root_causes {
            let Some(f) = a.failures.get(root.failure) else {
                continue;
            };
            shown[root.failure] = true;
            let mut item = format!(
                "<li class=\"root-cause\"><code class=\"kind\">{}</code> {}",
                e(&f.kind),
                code(&f.message)
            );
            if let Some(exception) = &root.exception {
                let at = root
                    .frame
                    .as_deref()
                    .map(|f| format!(" <span class=\"frame\">at {}</span>", e(f)))
                    .unwrap_or_default();
                let _ = write!(item, "<div class=\"exception\">{}{at}</div>", e(exception));
            }
            let consequences: Vec<String> = (0..a.failures.len())
                .filter(|&i| a.failures[i].caused_by == Some(root.failure))
                .map(|i| {
                    shown[i] = true;
                    let c = &a.failures[i];
                    format!(
                        "<li><code class=\"kind\">{}</code> {}</li>",
                        e(&c.kind),
                        code(&c.message)
                    )
                })
                .collect();
            if !consequences.is_empty() {
                let _ = write!(
                    item,
                    "<details class=\"consequences\"><summary>caused {} more</summary>",
                    consequences.len()
                );
                capped_list(&mut item, "", &consequences);
                item.push_str("</details>");
            }
            item.push_str("</li>");
            items.push(item);
        }
        for (f, _) in a.failures.iter().zip(&shown).filter(|(_, shown)| !**shown) {
            items.push(format!(
                "<li><code class=\"kind\">{}</code> {}</li>",
                e(&f.kind),
                code(&f.message)
            ));
        }
        capped_list(h, "failures", &items);
    }

    if !a.warnings.is_empty() {
        h.push_str("<h3>Warnings</h3>\n<ul class=\"warnings\">\n");
        for w in &a.warnings {
            let _ = writeln!(
                h,
                "<li><code class=\"warn\">{}</code> {}</li>",
                e(&w.kind),
                code(&w.message)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h3>Timeline</h3>\n");
    let id = format!("{group}-{}", a.attempt);
    let highlights = instance_highlights(h, &id, a);
    timeline_svg(h, &id, a, &highlights);

    h.push_str("<h3>Units</h3>\n<table class=\"units\">\n<tr><th>unit</th><th>status</th><th>exit</th><th>duration</th><th>reason</th></tr>\n");
    for u in &a.units {
        let exit = match (u.exit_code, u.signal) {
            (Some(code), _) => code.to_string(),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "–".into(),
        };
        let _ = writeln!(
            h,
            "<tr class=\"{}\"><td><code>{}</code>{}</td><td>{}</td><td class=\"num\">{exit}</td><td class=\"num\">{}</td><td>{}{}</td></tr>",
            if u.passed { "ok" } else { "bad" },
            e(&u.name),
            if u.ports.is_empty() {
                String::new()
            } else {
                format!(" <span class=\"ports\">ports {}</span>", e(&ports_text(u)))
            },
            e(&u.status),
            u.duration_s.map(seconds).unwrap_or_default(),
            code(u.reason.as_deref().unwrap_or("")),
            if u.restarts > 0 {
                format!(" (restarted {}×)", u.restarts)
            } else {
                String::new()
            },
        );
    }
    h.push_str("</table>\n");

    if !a.probes.is_empty() {
        h.push_str("<h3>Required probes</h3>\n<table class=\"probes\">\n<tr><th>unit</th><th>probe</th><th>recorded</th></tr>\n");
        for p in &a.probes {
            let _ = writeln!(
                h,
                "<tr class=\"{}\"><td><code>{}</code></td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
                if p.count > 0 { "ok" } else { "bad" },
                e(&p.unit),
                e(&p.step),
                if p.count > 0 {
                    p.count.to_string()
                } else {
                    "missing".into()
                }
            );
        }
        h.push_str("</table>\n");
    }

    let c = &a.correlation;
    let (orphan_sends, orphan_receives, duplicate_keys) = a.correlation_counts();
    let _ = writeln!(
        h,
        "<h3>Correlation</h3>\n<p>{} paired, {} orphan sends, {} orphan receives, {} duplicate keys</p>",
        c.paired, orphan_sends, orphan_receives, duplicate_keys,
    );
    for (what, list) in [
        ("Orphan sends", &c.orphan_sends),
        ("Orphan receives", &c.orphan_receives),
        ("Duplicate keys", &c.duplicate_keys),
    ] {
        if list.is_empty() {
            continue;
        }
        let items: Vec<String> = list
            .iter()
            .take(50)
            .map(|k| {
                if what == "Duplicate keys" {
                    format!(
                        "key <code>{}</code> ({} by <code>{}</code>)",
                        e(&k.key),
                        e(&k.step),
                        e(&k.unit)
                    )
                } else {
                    format!(
                        "<code>{}:{}</code> key <code>{}</code>",
                        e(&k.unit),
                        e(&k.step),
                        e(&k.key)
                    )
                }
            })
            .collect();
        let _ = writeln!(
            h,
            "<p class=\"bad\">{what}: {}{}</p>",
            items.join(", "),
            if list.len() > 50 { ", …" } else { "" }
        );
    }
    if !c.routes.is_empty() {
        h.push_str("<table class=\"routes\">\n<tr><th>route</th><th>pairs</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>\n");
        for r in &c.routes {
            let l = &r.latency;
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code> → <code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                e(&r.from),
                e(&r.to),
                l.count,
                millis(l.p50_ms),
                millis(l.p95_ms),
                millis(l.p99_ms),
                millis(l.max_ms)
            );
        }
        h.push_str("</table>\n");
    }

    if !a.circuits.is_empty() {
        h.push_str("<h3>Circuits</h3>\n<table class=\"circuits\">\n<tr><th>circuit</th><th>verdict</th><th>hops</th><th>complete</th><th>p95</th><th>budget</th></tr>\n");
        for circuit in &a.circuits {
            let hops: Vec<String> = if circuit.hop_stats.is_empty() {
                circuit
                    .hops
                    .iter()
                    .map(|hop| format!("<code>{}</code>", e(hop)))
                    .collect()
            } else {
                circuit
                    .hop_stats
                    .iter()
                    .map(|h| {
                        let mut cell = format!("<code>{}</code>", e(&h.hop));
                        let mut notes = Vec::new();
                        if let Some(l) = &h.latency {
                            notes.push(format!("p95 {}", millis(l.p95_ms)));
                        }
                        if let Some(b) = h.budget_ms {
                            notes.push(format!("budget {}", millis(b)));
                        }
                        if !notes.is_empty() {
                            cell.push_str(&format!(
                                " <span class=\"muted\">({}, reached {})</span>",
                                notes.join(", "),
                                h.reached
                            ));
                        }
                        cell
                    })
                    .collect()
            };
            let complete = format!("{}/{}", circuit.complete, circuit.instances);
            let _ = writeln!(
                h,
                "<tr class=\"{cls}\"><td><code>{}</code></td><td class=\"{cls}\">{}{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                e(&circuit.name),
                if circuit.passed { "held" } else { "broken" },
                circuit
                    .message
                    .as_deref()
                    .map(|m| format!(": {}", code(m)))
                    .unwrap_or_default(),
                hops.join(" → "),
                complete,
                circuit.total.map(|t| millis(t.p95_ms)).unwrap_or_default(),
                circuit.budget_ms.map(millis).unwrap_or_default(),
                cls = if circuit.passed { "ok" } else { "bad" },
            );
        }
        h.push_str("</table>\n");
    }

    contracts_table(h, a);

    if !a.direct_tests.is_empty() {
        h.push_str("<h3>Tests</h3>\n<table class=\"tests\">\n");
        for t in &a.direct_tests {
            let _ = writeln!(
                h,
                "<tr class=\"{cls}\"><td><code>{}</code></td><td class=\"{cls}\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                e(&t.name),
                if t.passed { "passed" } else { "failed" },
                seconds(t.duration_s),
                code(t.message.as_deref().unwrap_or("")),
                cls = if t.passed { "ok" } else { "bad" },
            );
        }
        h.push_str("</table>\n");
    }

    for u in a
        .units
        .iter()
        .filter(|u| !u.passed && !u.log_tail.is_empty())
    {
        let _ = writeln!(
            h,
            "<h3>Last log lines of <code>{}</code></h3>\n<pre class=\"log\">{}</pre>",
            e(&u.name),
            e(&u.log_tail.join("\n"))
        );
    }
    let _ = writeln!(
        h,
        "<p class=\"muted\">Run directory: <code>{}</code></p>\n</section>",
        e(&a.run_dir)
    );
}

/// The sequence diagram: lanes (one per unit) across a shared time axis.
/// Circuit instances the reader can highlight on the timeline, without a script: a link to
/// `#hl-…` targets an empty marker just before the timeline, and a CSS rule on
/// `:target ~ svg` dims every probe but that instance's. Writes the markers and the rules;
/// returns, per timeline event id, the classes of the instances it belongs to.
fn instance_highlights(
    h: &mut String,
    id: &str,
    a: &AttemptReport,
) -> std::collections::HashMap<i64, Vec<String>> {
    let safe: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut classes: std::collections::HashMap<i64, Vec<String>> = Default::default();
    let mut rules = String::new();
    let mut links = Vec::new();
    for (ci, circuit) in a.circuits.iter().enumerate() {
        let mut these = Vec::new();
        for (n, trace) in circuit.traces.iter().enumerate() {
            let class = format!("i-{ci}-{n}");
            let anchor = format!("hl-{safe}-{ci}-{n}");
            for event in &trace.event_ids {
                classes.entry(*event).or_default().push(class.clone());
            }
            let _ = write!(h, "<span class=\"hl\" id=\"{anchor}\"></span>");
            let _ = write!(
                rules,
                "#{anchor}:target ~ svg .probe{{opacity:.2}}#{anchor}:target ~ svg .{class}{{opacity:1;stroke:#1f2328;stroke-width:3}}"
            );
            let label = trace.key.as_deref().unwrap_or("(no key)");
            these.push(format!(
                "<a href=\"#{anchor}\" class=\"{}\">{}</a>",
                if trace.complete { "ok" } else { "bad" },
                e(label)
            ));
        }
        if !these.is_empty() {
            links.push(format!(
                "<code>{}</code> ({}/{} complete): {}",
                e(&circuit.name),
                circuit.complete,
                circuit.instances,
                these.join(" ")
            ));
        }
    }
    if !links.is_empty() {
        let _ = writeln!(
            h,
            "<style>{rules}</style><p class=\"instances muted\">Highlight an instance — {}</p>",
            links.join(" · ")
        );
    }
    classes
}

fn timeline_svg(
    h: &mut String,
    id: &str,
    a: &AttemptReport,
    highlights: &std::collections::HashMap<i64, Vec<String>>,
) {
    let tl: &Timeline = &a.timeline;
    let mut lanes: Vec<&str> = tl.units.iter().map(String::as_str).collect();
    for unit in tl
        .events
        .iter()
        .map(|ev| ev.unit.as_str())
        .chain(a.lifecycle.iter().map(|m| m.unit.as_str()))
    {
        if !lanes.contains(&unit) {
            lanes.push(unit);
        }
    }
    if lanes.is_empty() {
        h.push_str("<p class=\"muted\">No units, no probes.</p>\n");
        return;
    }
    const LEFT: f64 = 170.0;
    const RIGHT: f64 = 30.0;
    const TOP: f64 = 46.0;
    const LANE: f64 = 58.0;
    const WIDTH: f64 = 1000.0;
    let height = TOP + LANE * lanes.len() as f64 + 10.0;
    let lane_y = |unit: &str| {
        let i = lanes.iter().position(|l| *l == unit).unwrap_or(0);
        TOP + LANE * i as f64 + LANE / 2.0
    };
    // Every point in ms since the start of the attempt; the axis runs to its end.
    let event_ms: Vec<f64> = tl
        .events
        .iter()
        .map(|ev| tl.first_event_ms + ev.t_ms)
        .collect();
    let mark_ms: Vec<f64> = a
        .lifecycle
        .iter()
        .map(|m| m.at_s * 1e3)
        .chain(a.timed_out_at_s.map(|s| s * 1e3))
        .collect();
    let end_ms = event_ms
        .iter()
        .chain(&mark_ms)
        .copied()
        .fold(finite(a.duration_s * 1e3), f64::max);
    let layout = Layout::new(&event_ms, &mark_ms, end_ms, LEFT, WIDTH - RIGHT);
    let _ = writeln!(
        h,
        "<svg class=\"timeline\" id=\"timeline-{id}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" data-end-ms=\"{end_ms:.3}\" role=\"img\" aria-label=\"timeline of the attempt per unit\">\n\
         <defs><marker id=\"head-{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#0969da\"/></marker></defs>"
    );
    h.push_str("<g class=\"axis\">");
    let ticks: Vec<(f64, f64, String)> = layout
        .ticks(6)
        .into_iter()
        .map(|(x, t)| (x, t, millis(t)))
        .collect();
    for (n, (x, t, label)) in ticks.iter().enumerate() {
        // Two ticks reading the same (3 s, 3 s) say nothing: the later (the end) is kept.
        if ticks.get(n + 1).is_some_and(|next| next.2 == *label) {
            continue;
        }
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/><text x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\" data-ms=\"{t:.3}\">{label}</text>",
            top = TOP - 6.0,
            bottom = height - 6.0,
            ty = TOP - 12.0,
        );
    }
    for (x, idle) in &layout.breaks {
        let _ = write!(
            h,
            "<text class=\"break\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\"><title>{idle} with nothing recorded (shortened)</title>≈</text>",
            y = height - 8.0,
            idle = millis(*idle),
        );
    }
    h.push_str("</g>\n");
    for unit in &lanes {
        let y = lane_y(unit);
        let _ = writeln!(
            h,
            "<g class=\"lane\" data-unit=\"{u}\"><text class=\"lane-label\" x=\"8\" y=\"{ty:.1}\">{label}</text><line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\"/></g>",
            u = e(unit),
            label = e(&crate::sanitize::one_line(unit, 22)),
            ty = y + 4.0,
            x2 = WIDTH - RIGHT,
        );
    }
    lifecycle_marks(h, a, &layout, &lane_y, height, TOP);
    // Text labels go where they overlap nothing placed before them.
    let mut room = Room::new(LEFT, WIDTH - RIGHT);
    let positions: std::collections::HashMap<i64, (f64, f64)> = tl
        .events
        .iter()
        .zip(&layout.xs)
        .map(|(ev, &x)| (ev.id, (x, lane_y(&ev.unit))))
        .collect();
    let pos = |id: i64| positions.get(&id).copied();
    if tl.arrows.len() > DENSITY_PAIRS {
        route_density(h, tl, &pos, &mut room);
    } else {
        h.push_str("<g class=\"arrows\">\n");
        for arrow in &tl.arrows {
            let (Some((x1, y1)), Some((x2, y2))) = (pos(arrow.from_id), pos(arrow.to_id)) else {
                continue;
            };
            // End the line at the receiving probe's edge, so the head stays visible.
            let (dx, dy) = (x2 - x1, y2 - y1);
            let length = (dx * dx + dy * dy).sqrt();
            let (x2, y2) = if length > 12.0 {
                (x2 - dx / length * 6.0, y2 - dy / length * 6.0)
            } else {
                (x2, y2)
            };
            let text = millis(arrow.latency_ms);
            let (lx, ly) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0 - 4.0);
            let label = if room.take(lx, ly, &text) {
                format!(
                    "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{}</text>",
                    e(&text)
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                h,
                "<g class=\"arrow\" data-key=\"{key}\" data-latency-ms=\"{lat:.3}\"><title>{key}: {text}</title><line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" marker-end=\"url(#head-{id})\"/>{label}</g>",
                key = e(&arrow.key),
                lat = arrow.latency_ms,
            );
        }
        h.push_str("</g>\n");
    }
    h.push_str("<g class=\"probes\">\n");
    let mut labels = String::new();
    for ((ev, &cx), &t) in tl.events.iter().zip(&layout.xs).zip(&event_ms) {
        let r = if ev.failed { 6.0 } else { 5.0 };
        let cy = lane_y(&ev.unit);
        let key = ev
            .key
            .as_deref()
            .map(|k| format!(" key {}", e(k)))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<circle class=\"probe {ty}{failed}{instances}\" data-unit=\"{unit}\" data-step=\"{step}\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{r}\"><title>{unit}:{step} ({ty}){key} at {t}{fail}</title></circle>",
            instances = highlights
                .get(&ev.id)
                .map(|c| format!(" {}", c.join(" ")))
                .unwrap_or_default(),
            ty = e(&ev.event_type),
            failed = if ev.failed { " failed" } else { "" },
            unit = e(&ev.unit),
            step = e(&ev.step),
            t = millis(t),
            fail = if ev.failed { " — failed" } else { "" },
        );
        let name = crate::sanitize::one_line(&ev.step, 24);
        if room.take(cx, cy + 17.0, &name) {
            let _ = writeln!(
                labels,
                "<text class=\"probe-label\" x=\"{cx:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{}</text>",
                e(&name),
                y = cy + 17.0,
            );
        }
    }
    h.push_str("</g>\n<g class=\"probe-labels\">\n");
    h.push_str(&labels);
    h.push_str("</g>\n");
    // Required probes never recorded: marked at the end of their unit's lane.
    let missing: Vec<_> = a.probes.iter().filter(|p| p.count == 0).collect();
    if !missing.is_empty() {
        h.push_str("<g class=\"missing\">\n");
        for unit in &lanes {
            let names: Vec<&str> = missing
                .iter()
                .filter(|p| p.unit == *unit)
                .map(|p| p.step.as_str())
                .collect();
            if names.is_empty() {
                continue;
            }
            let text = format!("✗ missing: {}", names.join(", "));
            let _ = writeln!(
                h,
                "<text class=\"missing-probe\" data-unit=\"{}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                e(unit),
                WIDTH - RIGHT,
                lane_y(unit) - 8.0,
                e(&crate::sanitize::one_line(&text, 80))
            );
        }
        h.push_str("</g>\n");
    }
    // Faults: a red diamond on the lane of the unit hit, just after the probe that fired it.
    for f in a.faults.iter().filter(|f| f.fired) {
        let trigger = f.after.split_once(':');
        let at = tl
            .events
            .iter()
            .enumerate()
            .filter(|(_, ev)| trigger == Some((ev.unit.as_str(), ev.step.as_str())))
            .nth(f.occurrence.saturating_sub(1) as usize)
            .and_then(|(i, _)| layout.xs.get(i).copied());
        let (Some(x), true) = (at, lanes.contains(&f.unit.as_str())) else {
            continue;
        };
        let (x, y) = (x + 4.0, lane_y(&f.unit));
        let latency = f
            .latency_ms
            .map(|ms| format!(", {} after its probe", millis(ms)))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<g class=\"fault\" data-unit=\"{unit}\"><path d=\"M{x:.1},{top:.1} l6,9 l-6,9 l-6,-9 z\" fill=\"#cf222e\"/><title>fault: {action} {unit} after {after} #{n}{latency}</title></g>",
            unit = e(&f.unit),
            action = e(&f.action),
            after = e(&f.after),
            n = f.occurrence,
            top = y - 9.0,
        );
    }
    h.push_str("</svg>\n");
    h.push_str(
        "<p class=\"legend muted\"><span class=\"dot Send\"></span>Send \
         <span class=\"dot Receive\"></span>Receive <span class=\"dot Default\"></span>probe \
         <span class=\"dot Exception\"></span>exception <span class=\"dot failed\"></span>named by a failure \
         · ▶ spawned (orange: restarted) · ⚑ ready · ■ exited (red: failed, grey outline: stopped by the runner) \
         · ✕ killed after the grace period · red dashes: group timeout",
    );
    h.push_str(if tl.arrows.len() > DENSITY_PAIRS {
        " · bands: Send→Receive pairs per route, darker where more were sent"
    } else {
        " · arrows: Send→Receive with its latency"
    });
    h.push_str(" · ≈ idle time shortened</p>\n");
    if tl.arrows.len() > DENSITY_PAIRS {
        latency_histograms(h, tl);
    }
    if tl.omitted > 0 {
        let _ = writeln!(
            h,
            "<p class=\"muted\">{} more probes are in the run database and not drawn.</p>",
            tl.omitted
        );
    }
}

/// Above this many pairs, arrows give way to a band per route.
const DENSITY_PAIRS: usize = 300;

/// Each unit's lifecycle on its lane: the stretch its process was alive drawn solid, a mark
/// per state it entered (tooltips say what and when), and the group timeout across the lanes.
fn lifecycle_marks(
    h: &mut String,
    a: &AttemptReport,
    layout: &Layout,
    lane_y: &dyn Fn(&str) -> f64,
    height: f64,
    top: f64,
) {
    if a.lifecycle.is_empty() && a.timed_out_at_s.is_none() {
        return;
    }
    h.push_str("<g class=\"lifecycle\">\n");
    // Alive: from each start to the next end of the same unit (or the end of the axis).
    for (n, m) in a.lifecycle.iter().enumerate() {
        if m.state != "starting" {
            continue;
        }
        let end = a.lifecycle[n + 1..]
            .iter()
            .find(|later| {
                later.unit == m.unit
                    && matches!(
                        later.state.as_str(),
                        "finished" | "failed" | "stopped" | "starting"
                    )
            })
            .map_or(layout.end_x(), |later| layout.x_at(later.at_s * 1e3));
        let y = lane_y(&m.unit);
        let _ = writeln!(
            h,
            "<line class=\"alive\" data-unit=\"{}\" x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{end:.1}\" y2=\"{y:.1}\"/>",
            e(&m.unit),
            layout.x_at(m.at_s * 1e3),
        );
    }
    for m in &a.lifecycle {
        let (x, y) = (layout.x_at(m.at_s * 1e3), lane_y(&m.unit));
        let shape = match (m.state.as_str(), m.label.as_str()) {
            ("starting", "restarted") => format!(
                "<path class=\"restart\" d=\"M{x:.1},{:.1} l9,7 l-9,7 z\"/>",
                y - 7.0
            ),
            ("starting", _) => format!("<path d=\"M{x:.1},{:.1} l9,7 l-9,7 z\"/>", y - 7.0),
            ("ready", _) => format!("<path d=\"M{x:.1},{y:.1} v-18 l9,4.5 l-9,4.5\"/>"),
            ("stopped", label) if label.starts_with("killed") => format!(
                "<path class=\"killed\" d=\"M{:.1},{:.1} l10,10 m0,-10 l-10,10\"/>",
                x - 5.0,
                y - 5.0
            ),
            _ => format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\"/>",
                x - 4.5,
                y - 4.5
            ),
        };
        let _ = writeln!(
            h,
            "<g class=\"life {state}\" data-unit=\"{unit}\" data-state=\"{state}\" data-at-ms=\"{ms:.3}\"><title>{unit}: {label} at {t}</title>{shape}</g>",
            state = e(&m.state),
            unit = e(&m.unit),
            label = e(&m.label),
            ms = m.at_s * 1e3,
            t = millis(m.at_s * 1e3),
        );
    }
    if let Some(at) = a.timed_out_at_s {
        let x = layout.x_at(at * 1e3);
        let _ = writeln!(
            h,
            "<g class=\"timeout\" data-at-ms=\"{ms:.3}\"><title>group timeout after {t}</title><line x1=\"{x:.1}\" y1=\"{y1:.1}\" x2=\"{x:.1}\" y2=\"{y2:.1}\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">timeout</text></g>",
            ms = at * 1e3,
            t = seconds(at),
            y1 = top - 6.0,
            y2 = height - 6.0,
            tx = x - 3.0,
            ty = top - 28.0,
        );
    }
    h.push_str("</g>\n");
}

/// Above [`DENSITY_PAIRS`] pairs: per route, a band between its two lanes in columns along
/// the axis, darker where more pairs were sent, with the route's count and latency.
fn route_density(
    h: &mut String,
    tl: &Timeline,
    pos: &dyn Fn(i64) -> Option<(f64, f64)>,
    room: &mut Room,
) {
    const COLUMNS: usize = 60;
    let steps: std::collections::HashMap<i64, (&str, &str)> = tl
        .events
        .iter()
        .map(|ev| (ev.id, (ev.unit.as_str(), ev.step.as_str())))
        .collect();
    // Route, send lane y, receive lane y, pairs per column, latencies.
    type Route = (String, f64, f64, Vec<u32>, Vec<f64>);
    let mut routes: Vec<Route> = Vec::new();
    for arrow in &tl.arrows {
        let (Some((x1, y1)), Some((_, y2)), Some(from), Some(to)) = (
            pos(arrow.from_id),
            pos(arrow.to_id),
            steps.get(&arrow.from_id),
            steps.get(&arrow.to_id),
        ) else {
            continue;
        };
        let name = format!("{}:{} → {}:{}", from.0, from.1, to.0, to.1);
        let index = match routes.iter().position(|r| r.0 == name) {
            Some(i) => i,
            None => {
                routes.push((name, y1, y2, vec![0; COLUMNS], Vec::new()));
                routes.len() - 1
            }
        };
        let column = (((x1 - room.left) / (room.right - room.left)) * COLUMNS as f64)
            .clamp(0.0, COLUMNS as f64 - 1.0) as usize;
        routes[index].3[column] += 1;
        routes[index].4.push(arrow.latency_ms);
    }
    let width = (room.right - room.left) / COLUMNS as f64;
    h.push_str("<g class=\"density\">\n");
    for (n, (name, y1, y2, columns, latencies)) in routes.iter_mut().enumerate() {
        let (y1, y2) = (*y1, *y2);
        let (top, bottom) = if (y1 - y2).abs() < 1.0 {
            (y1 - 14.0, y1 - 6.0)
        } else {
            (y1.min(y2) + 9.0, y1.max(y2) - 9.0)
        };
        // Routes between the same lanes share the space between them.
        let share = (bottom - top) / 3.0;
        let band_top = top + share * (n % 3) as f64;
        let most = columns.iter().copied().max().unwrap_or(1).max(1);
        latencies.sort_by(f64::total_cmp);
        let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or(0.0);
        let count = latencies.len();
        let _ = writeln!(
            h,
            "<g class=\"route\" data-route=\"{r}\" data-pairs=\"{count}\"><title>{r}: {count} pairs, p50 {p}</title>",
            r = e(name),
            p = millis(p50),
        );
        for (c, &pairs) in columns.iter().enumerate().filter(|(_, p)| **p > 0) {
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{band_top:.1}\" width=\"{width:.1}\" height=\"{share:.1}\" fill-opacity=\"{:.2}\"><title>{}: {pairs} pairs sent here</title></rect>",
                room.left + width * c as f64,
                0.15 + 0.8 * f64::from(pairs) / f64::from(most),
                e(name),
            );
        }
        let text = format!("{count} pairs · p50 {}", millis(p50));
        let half = text.chars().count() as f64 * Room::CHAR / 2.0 + 4.0;
        let (lx, ly) = (room.left + half, band_top + share / 2.0 + 4.0);
        if room.take(lx, ly, &text) {
            let _ = write!(
                h,
                "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{}</text>",
                e(&text)
            );
        }
        // No probe label is written over the band.
        room.reserve([room.left, band_top, room.right, band_top + share]);
        h.push_str("</g>\n");
    }
    h.push_str("</g>\n");
}

/// Beside the density bands: per route, a histogram of its pairs' latencies (20 bins from
/// the fastest to the slowest), each bar with its range and count in a tooltip.
fn latency_histograms(h: &mut String, tl: &Timeline) {
    const BINS: usize = 20;
    const W: f64 = 320.0;
    const H: f64 = 90.0;
    let steps: std::collections::HashMap<i64, (&str, &str)> = tl
        .events
        .iter()
        .map(|ev| (ev.id, (ev.unit.as_str(), ev.step.as_str())))
        .collect();
    let mut routes: Vec<(String, Vec<f64>)> = Vec::new();
    for arrow in &tl.arrows {
        let (Some(from), Some(to)) = (steps.get(&arrow.from_id), steps.get(&arrow.to_id)) else {
            continue;
        };
        let name = format!("{}:{} → {}:{}", from.0, from.1, to.0, to.1);
        match routes.iter_mut().find(|r| r.0 == name) {
            Some(route) => route.1.push(arrow.latency_ms),
            None => routes.push((name, vec![arrow.latency_ms])),
        }
    }
    h.push_str("<div class=\"histograms\">\n");
    for (name, latencies) in &routes {
        let lo = latencies.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = latencies.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let step = ((hi - lo) / BINS as f64).max(f64::EPSILON);
        let mut bins = [0u32; BINS];
        for &l in latencies {
            bins[(((l - lo) / step) as usize).min(BINS - 1)] += 1;
        }
        let most = f64::from(bins.iter().copied().max().unwrap_or(1).max(1));
        let _ = write!(
            h,
            "<figure class=\"histogram\" data-route=\"{r}\"><figcaption>Latency of <code>{r}</code>: {n} pairs</figcaption>\
             <svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"latency histogram\">",
            r = e(name),
            n = latencies.len(),
        );
        let width = W / BINS as f64;
        for (i, &count) in bins.iter().enumerate().filter(|(_, c)| **c > 0) {
            let height = (H - 20.0) * f64::from(count) / most;
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\"><title>{} – {}: {count} pairs</title></rect>",
                width * i as f64 + 1.0,
                H - 16.0 - height,
                width - 2.0,
                millis(lo + step * i as f64),
                millis(lo + step * (i + 1) as f64),
            );
        }
        let _ = writeln!(
            h,
            "<text x=\"1\" y=\"{y}\">{}</text><text x=\"{W}\" y=\"{y}\" text-anchor=\"end\">{}</text></svg></figure>",
            millis(lo),
            millis(hi),
            y = H - 3.0,
        );
    }
    h.push_str("</div>\n");
}

/// The free space for text labels: a label is placed only where it overlaps no label placed
/// before it and stays between the lanes' names and the right edge.
struct Room {
    left: f64,
    right: f64,
    taken: Vec<[f64; 4]>,
}

impl Room {
    /// Width of one character of a 10 px label, generously.
    const CHAR: f64 = 6.5;

    fn new(left: f64, right: f64) -> Room {
        Room {
            left,
            right,
            taken: Vec::new(),
        }
    }

    /// Keeps a box (x0, y0, x1, y1) free of labels.
    fn reserve(&mut self, b: [f64; 4]) {
        self.taken.push(b);
    }

    /// Takes the box of `text` centred at `x` with its baseline at `y`, if it is free.
    fn take(&mut self, x: f64, y: f64, text: &str) -> bool {
        let half = text.chars().count() as f64 * Self::CHAR / 2.0 + 2.0;
        let b = [x - half, y - 10.0, x + half, y + 2.0];
        if b[0] < self.left || b[2] > self.right {
            return false;
        }
        let overlaps = |t: &[f64; 4]| b[0] < t[2] && t[0] < b[2] && b[1] < t[3] && t[1] < b[3];
        if self.taken.iter().any(overlaps) {
            return false;
        }
        self.taken.push(b);
        true
    }
}

/// Where each point goes on the x axis, which runs from the start of the attempt to its end.
/// Long idle stretches would squeeze the interesting bursts into a few pixels, so the axis is
/// piecewise: a gap between consecutive points (probes, lifecycle marks, the ends) longer
/// than a tenth of the whole span and four typical gaps is shortened to that (marked `≈` on
/// the axis), and half of the width is spread by order, so probes recorded close together
/// stay apart. Order is always kept; the real times are on the ticks and the tooltips.
struct Layout {
    /// x of each event, in the timeline's (time) order.
    xs: Vec<f64>,
    /// Every point: (ms since the start of the attempt, x), in time order.
    knots: Vec<(f64, f64)>,
    /// x and real length (ms) of each shortened gap.
    breaks: Vec<(f64, f64)>,
}

impl Layout {
    /// `events` and `marks` in ms since the start of the attempt (`events` in order), the
    /// attempt ending at `end`.
    fn new(events: &[f64], marks: &[f64], end: f64, left: f64, right: f64) -> Layout {
        let mut points: Vec<(f64, Option<usize>)> = std::iter::once((0.0, None))
            .chain(events.iter().enumerate().map(|(i, &t)| (t, Some(i))))
            .chain(marks.iter().map(|&t| (t, None)))
            .chain(std::iter::once((end, None)))
            .map(|(t, i)| (finite(t).max(0.0), i))
            .collect();
        // Stable: events keep their order among equal times.
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = points.len();
        let span = points[n - 1].0 - points[0].0;
        // A gap is shortened when it is long both against the whole span and against the
        // typical gap (few points spread evenly are drawn as they are).
        let mut gaps_ms: Vec<f64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
        gaps_ms.sort_by(f64::total_cmp);
        let median_gap = gaps_ms.get(gaps_ms.len() / 2).copied().unwrap_or(0.0);
        let cap = (span / 10.0).max(median_gap * 4.0);
        let mut compressed = Vec::with_capacity(n);
        let mut gaps = Vec::new();
        let mut c = 0.0;
        for i in 0..n {
            if i > 0 {
                let gap = points[i].0 - points[i - 1].0;
                if gap > cap && cap > 0.0 {
                    gaps.push((i, gap));
                    c += cap;
                } else {
                    c += gap;
                }
            }
            compressed.push(c);
        }
        let total = c;
        let width = right - left;
        let knots: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let by_order = i as f64 / (n - 1) as f64;
                // Absurd clocks can overflow the sums: order alone then.
                let by_time = if total > 0.0 && total.is_finite() {
                    compressed[i] / total
                } else {
                    by_order
                };
                (points[i].0, left + width * (0.5 * by_time + 0.5 * by_order))
            })
            .collect();
        let mut xs = vec![left; events.len()];
        for (point, knot) in points.iter().zip(&knots) {
            if let Some(i) = point.1 {
                xs[i] = knot.1;
            }
        }
        let breaks = gaps
            .into_iter()
            .map(|(i, gap)| ((knots[i - 1].1 + knots[i].1) / 2.0, gap))
            .collect();
        Layout { xs, knots, breaks }
    }

    /// The x of a time (ms since the start of the attempt), between the points around it.
    fn x_at(&self, t: f64) -> f64 {
        let i = self.knots.partition_point(|k| k.0 < t);
        match (i.checked_sub(1).map(|p| self.knots[p]), self.knots.get(i)) {
            (Some((t0, x0)), Some(&(t1, x1))) if t1 > t0 => x0 + (x1 - x0) * (t - t0) / (t1 - t0),
            (_, Some(&(_, x))) | (Some((_, x)), None) => x,
            (None, None) => 0.0,
        }
    }

    /// The x of the end of the attempt.
    fn end_x(&self) -> f64 {
        self.knots.last().map_or(0.0, |k| k.1)
    }

    /// About `count` ticks at points spread along the axis, the start and the end among them:
    /// (x, real time in ms).
    fn ticks(&self, count: usize) -> Vec<(f64, f64)> {
        let n = self.knots.len();
        let mut ticks: Vec<(f64, f64)> = Vec::new();
        for k in 0..count {
            let i = k * (n - 1) / (count - 1).max(1);
            let (t, x) = self.knots[i];
            // Skip ticks that would print on top of the previous one; the end always shows.
            match ticks.last() {
                Some(last) if x - last.0 <= 60.0 => {
                    if i == n - 1 && ticks.len() > 1 {
                        ticks.pop();
                        ticks.push((x, t));
                    }
                }
                _ => ticks.push((x, t)),
            }
        }
        ticks
    }
}

/// A row per delivery contract: its verdict, counts and delivery latency.
fn contracts_table(h: &mut String, a: &AttemptReport) {
    if a.contracts.is_empty() {
        return;
    }
    h.push_str("<h3>Contracts</h3>\n<table class=\"contracts\">\n<tr><th>contract</th><th>delivery</th><th>verdict</th><th>sent</th><th>received</th><th>lost</th><th>duplicated</th><th>late</th><th>unsent</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>within</th></tr>\n");
    for c in &a.contracts {
        let cls = if c.passed { "ok" } else { "bad" };
        let l = |f: fn(&crate::model::Latency) -> f64| c.latency.as_ref().map(|l| millis(f(l)));
        let messages: Vec<String> = c.failures.iter().map(|f| e(&f.message)).collect();
        let _ = writeln!(
            h,
            "<tr class=\"{cls}\" data-contract=\"{}\"><td><code>{}</code></td><td>{}</td><td class=\"{cls}\">{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            e(&c.name),
            e(&c.name),
            e(&c.delivery),
            if c.passed { "held" } else { "broken" },
            if messages.is_empty() {
                String::new()
            } else {
                format!(": {}", messages.join("; "))
            },
            c.sent,
            c.received,
            c.lost,
            c.duplicated,
            c.late,
            c.unsent,
            l(|l| l.p50_ms).unwrap_or_default(),
            l(|l| l.p95_ms).unwrap_or_default(),
            l(|l| l.p99_ms).unwrap_or_default(),
            l(|l| l.max_ms).unwrap_or_default(),
            c.within_ms.map(millis).unwrap_or_default(),
        );
    }
    h.push_str("</table>\n");
}

/// `http=43123 admin=43124`: the ports the runner picked for a unit.
fn ports_text(u: &crate::model::UnitReport) -> String {
    u.ports
        .iter()
        .map(|(name, port)| format!("{name}={port}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::model::InstanceTrace;

    /// Issue 16: the crash is listed first, its exception with the unit's own frame, the
    /// failures it caused folded under it.
    #[test]
    fn the_root_cause_comes_first_with_its_consequences_folded() {
        let page = render(&fixtures::run());
        let failures = &page[page.find("<ul class=\"failures\">").unwrap()..];
        let first = failures.lines().nth(1).unwrap();
        assert!(
            first.starts_with("<li class=\"root-cause\"><code class=\"kind\">non_zero_exit</code>"),
            "{first}"
        );
        assert!(first.contains("<div class=\"exception\">ValueError: boom <span class=\"frame\">at target.py:5 in handle</span></div>"));
        assert!(first.contains("<summary>caused 3 more</summary>"));
        assert!(first.contains("circuit_incomplete"));
    }

    #[test]
    fn lanes_probes_and_arrows() {
        let page = render(&fixtures::run());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert_eq!(
            page.matches("<g class=\"lane\"").count(),
            8,
            "2 lanes x 4 attempts"
        );
        assert_eq!(page.matches("<g class=\"arrow\"").count(), 2);
        assert!(page.contains("<text x=\"585.0\" y=\"") || page.contains("400 µs"));
        assert!(page.contains("class=\"probe Send failed\""));
        assert!(page.contains("✗ missing: command-received"));
        assert!(!page.contains("http://") || !page.contains("src=\"http"));
        assert!(!page.contains("<script"));
    }

    /// Issue 13: the timeline can highlight one circuit instance, without a script: a link
    /// per instance targets a marker before the timeline, and a `:target` rule keeps that
    /// instance's probes bright.
    #[test]
    fn a_circuit_instance_can_be_highlighted_without_a_script() {
        let mut run = fixtures::run();
        let attempt = &mut run.groups[0].attempts[0];
        let ids: Vec<i64> = attempt.timeline.events.iter().map(|e| e.id).collect();
        attempt.circuits[0].traces = vec![InstanceTrace {
            key: Some("req-7".into()),
            event_ids: ids.clone(),
            complete: true,
        }];
        let page = render(&run);
        assert!(page.contains("href=\"#hl-"), "a link per instance");
        assert!(page.contains(">req-7</a>"));
        assert!(page.contains(":target ~ svg .i-0-0{opacity:1"));
        let marked = page.matches(" i-0-0\"").count();
        assert_eq!(
            marked,
            ids.len(),
            "every probe of the instance carries its class"
        );
        assert!(!page.contains("<script"));
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let page = render(&fixtures::hostile());
        assert!(!page.contains("<script"), "unescaped markup");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains('\u{1b}'));
        assert!(!page.contains('\u{0}'));
        // Attribute values cannot be broken out of.
        assert!(page.contains("data-unit=\"unitx&quot;&#39;&lt;script&gt;"));
    }

    /// The `(x0, x1)` of each `<text>` of `class` in a page (estimated as [`Room`] does).
    fn text_boxes(page: &str, class: &str) -> Vec<(f64, f64, f64)> {
        let attr = |tag: &str, name: &str| -> f64 {
            let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[at..tag[at..].find('"').unwrap() + at].parse().unwrap()
        };
        page.split(&format!("<text class=\"{class}\" "))
            .skip(1)
            .map(|rest| {
                let tag = format!(" {}", &rest[..rest.find('>').unwrap()]);
                let text = &rest[rest.find('>').unwrap() + 1..rest.find("</text>").unwrap()];
                let half = text.chars().count() as f64 * Room::CHAR / 2.0;
                let x = attr(&tag, "x");
                (x - half, x + half, attr(&tag, "y"))
            })
            .collect()
    }

    /// Issue 16: an 8 s hang reads as 8 s: the axis runs from the start of the attempt to its
    /// end, the idle stretch shortened but labelled; the lifecycle marks and the group
    /// timeout are on the lanes.
    #[test]
    fn a_hang_spans_the_whole_attempt_with_its_lifecycle() {
        let page = render(&fixtures::hang());
        assert!(page.contains("data-end-ms=\"8120.000\""), "axis end");
        let last_tick = page.rsplit("<g class=\"axis\">").next().unwrap();
        let last_tick = last_tick[..last_tick.find("</g>").unwrap()]
            .rsplit("data-ms=\"")
            .next()
            .unwrap();
        assert!(last_tick.starts_with("8120.000\">8.12"), "{last_tick}");
        assert!(page.contains("<g class=\"life starting\" data-unit=\"server\""));
        assert!(page.contains("<title>server: killed after the grace period at 8.11 s</title>"));
        assert!(page.contains(
            "<g class=\"timeout\" data-at-ms=\"8000.000\"><title>group timeout after 8 s</title>"
        ));
        assert!(page.contains("<line class=\"alive\" data-unit=\"server\""));
        assert!(
            page.contains("with nothing recorded (shortened)"),
            "the idle stretch"
        );
        assert!(!page.contains("<script"));
    }

    #[test]
    fn the_axis_places_probes_from_the_start_of_the_attempt() {
        let layout = Layout::new(&[2.0, 32.0], &[8000.0], 8120.0, 100.0, 1100.0);
        assert_eq!(layout.x_at(0.0), 100.0);
        assert_eq!(layout.end_x(), 1100.0);
        assert!(layout.xs[0] > 100.0 && layout.xs[0] < layout.xs[1]);
        assert!(layout.x_at(8000.0) > layout.xs[1] && layout.x_at(8000.0) < 1100.0);
        assert_eq!(layout.breaks.len(), 1, "the hang is shortened");
        assert_eq!(layout.ticks(6).last(), Some(&(1100.0, 8120.0)));
    }

    /// Issue 16: above a few hundred pairs, a band per route with its count replaces the
    /// arrows; probe labels go only where they overlap nothing.
    #[test]
    fn many_pairs_draw_density_and_labels_never_overlap() {
        let few = render(&fixtures::pairs(40));
        assert_eq!(few.matches("<g class=\"arrow\"").count(), 40);
        let many = render(&fixtures::pairs(1000));
        assert_eq!(many.matches("<g class=\"arrow\"").count(), 0);
        assert!(many.contains(
            "data-route=\"client:request-sent → server:request-received\" data-pairs=\"1000\""
        ));
        assert!(many.contains(">1000 pairs · p50 50 µs</text>"));
        assert!(many.contains("<figure class=\"histogram\" data-route=\"client:request-sent → server:request-received\"><figcaption>Latency of <code>client:request-sent → server:request-received</code>: 1000 pairs</figcaption>"));
        assert!(!few.contains("<figure class=\"histogram\""));
        for page in [&few, &many] {
            let labels = text_boxes(page, "probe-label");
            assert!(!labels.is_empty());
            for (n, a) in labels.iter().enumerate() {
                assert!(a.0 >= 170.0, "clear of the lanes' names: {a:?}");
                for b in &labels[n + 1..] {
                    assert!(
                        a.2 != b.2 || a.1 <= b.0 || b.1 <= a.0,
                        "{a:?} overlaps {b:?}"
                    );
                }
            }
        }
    }

    /// Issue 16: a flood of failures shows the first 50, the rest behind "show all N"; names
    /// quoted in backticks read as code, with no backtick left in the page.
    #[test]
    fn the_failure_list_is_capped_and_no_backtick_shows() {
        let mut run = fixtures::run();
        let attempt = &mut run.groups[1].attempts[0];
        let failure = attempt.failures[1].clone();
        attempt.root_causes.clear();
        attempt.failures = vec![failure; 191];
        let page = render(&run);
        let list = &page[page.find("<ul class=\"failures\">").unwrap()..];
        let list = &list[..list.find("</ul>").unwrap()];
        assert_eq!(list.matches("<li>").count(), 50);
        assert!(page.contains("<details class=\"more\"><summary>show all 191</summary>"));
        assert!(page.contains("<code>source:command-sent</code> sent key <code>k1</code>"));
        assert!(
            !render(&fixtures::run()).contains('`'),
            "a backtick in the page"
        );
        assert!(!page.contains('`'), "a backtick in the page");
    }
}
