//! The HTML report: one self-contained page (inline CSS and SVG, no script, no network) with the
//! verdict, the evidence and, per attempt, a timeline of the circuit: one lane per unit, probes
//! as points on a shared time axis, Send→Receive arrows labelled with their latency, failures
//! marked. Every piece of unit-provided text is escaped.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::model::{AttemptReport, GroupReport, RunReport, Timeline};
use super::sanitize::html as e;
use super::terminal::{millis, seconds};

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
ul.failures { padding-left: 1.2rem; } ul.failures li { margin: .15rem 0; } .kind { color: var(--fail); font-weight: 600; }
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
"#;

/// Most arrows that get a text label (beyond, the latency is in each arrow's tooltip).
const LABELLED_ARROWS: usize = 200;

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
         <p class=\"summary\">{n} groups: {p} passed, {f} failed{flaky}{skipped} in {d} · \
         base <code>{base}</code> · started {at} · testrium {v}{interrupted}</p>\n</header>\n",
        cls = if verdict == "passed" { "pass" } else { "fail" },
        label = verdict.to_uppercase(),
        n = run.groups.len(),
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
        at = super::iso8601(run.started_at),
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
            .map(|s| format!("<code>{}</code> ({})", e(&s.name), e(&s.reason)))
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
        flaky = if g.flaky {
            " <span class=\"badge flaky\">FLAKY</span>"
        } else {
            ""
        },
    );
    if let Some(error) = &g.error {
        let _ = writeln!(h, "<p class=\"bad\">error: {}</p>", e(error));
    }
    let many = g.attempts.len() > 1;
    for a in &g.attempts {
        attempt_section(h, index, a, many);
    }
    h.push_str("</section>\n");
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
            "<h3>Attempt {} <span class=\"{}\">{}</span> <span class=\"muted\">{}</span></h3>",
            a.attempt,
            if a.passed { "ok" } else { "bad" },
            if a.passed { "passed" } else { "failed" },
            seconds(a.duration_s)
        );
    }
    if a.interrupted {
        h.push_str("<p class=\"bad\">Interrupted: units were torn down.</p>\n");
    }
    if !a.failures.is_empty() {
        h.push_str("<h3>Failures</h3>\n<ul class=\"failures\">\n");
        for f in &a.failures {
            let _ = writeln!(
                h,
                "<li><code class=\"kind\">{}</code> {}</li>",
                e(&f.kind),
                e(&f.message)
            );
        }
        h.push_str("</ul>\n");
    }

    h.push_str("<h3>Timeline</h3>\n");
    timeline_svg(h, &format!("{group}-{}", a.attempt), a);

    h.push_str("<h3>Units</h3>\n<table class=\"units\">\n<tr><th>unit</th><th>status</th><th>exit</th><th>duration</th><th>reason</th></tr>\n");
    for u in &a.units {
        let exit = match (u.exit_code, u.signal) {
            (Some(code), _) => code.to_string(),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "–".into(),
        };
        let _ = writeln!(
            h,
            "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td><td class=\"num\">{exit}</td><td class=\"num\">{}</td><td>{}{}</td></tr>",
            if u.passed { "ok" } else { "bad" },
            e(&u.name),
            e(&u.status),
            u.duration_s.map(seconds).unwrap_or_default(),
            e(u.reason.as_deref().unwrap_or("")),
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
    let _ = writeln!(
        h,
        "<h3>Correlation</h3>\n<p>{} paired, {} orphan sends, {} orphan receives, {} duplicate keys</p>",
        c.paired,
        c.orphan_sends.len(),
        c.orphan_receives.len(),
        c.duplicate_keys.len()
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
                format!(
                    "<code>{}:{}</code> key <code>{}</code>",
                    e(&k.unit),
                    e(&k.step),
                    e(&k.key)
                )
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
            let hops: Vec<String> = circuit
                .hops
                .iter()
                .map(|hop| format!("<code>{}</code>", e(hop)))
                .collect();
            let _ = writeln!(
                h,
                "<tr class=\"{cls}\"><td><code>{}</code></td><td class=\"{cls}\">{}{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                e(&circuit.name),
                if circuit.passed { "held" } else { "broken" },
                circuit
                    .message
                    .as_deref()
                    .map(|m| format!(": {}", e(m)))
                    .unwrap_or_default(),
                hops.join(" → "),
                circuit
                    .total
                    .map(|t| t.count.to_string())
                    .unwrap_or_default(),
                circuit.total.map(|t| millis(t.p95_ms)).unwrap_or_default(),
                circuit.budget_ms.map(millis).unwrap_or_default(),
                cls = if circuit.passed { "ok" } else { "bad" },
            );
        }
        h.push_str("</table>\n");
    }

    if !a.direct_tests.is_empty() {
        h.push_str("<h3>Tests</h3>\n<table class=\"tests\">\n");
        for t in &a.direct_tests {
            let _ = writeln!(
                h,
                "<tr class=\"{cls}\"><td><code>{}</code></td><td class=\"{cls}\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                e(&t.name),
                if t.passed { "passed" } else { "failed" },
                seconds(t.duration_s),
                e(t.message.as_deref().unwrap_or("")),
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
fn timeline_svg(h: &mut String, id: &str, a: &AttemptReport) {
    let tl: &Timeline = &a.timeline;
    let mut lanes: Vec<&str> = tl.units.iter().map(String::as_str).collect();
    for ev in &tl.events {
        if !lanes.contains(&ev.unit.as_str()) {
            lanes.push(&ev.unit);
        }
    }
    if lanes.is_empty() {
        h.push_str("<p class=\"muted\">No units, no probes.</p>\n");
        return;
    }
    const LEFT: f64 = 170.0;
    const RIGHT: f64 = 30.0;
    const TOP: f64 = 34.0;
    const LANE: f64 = 46.0;
    const WIDTH: f64 = 1000.0;
    let height = TOP + LANE * lanes.len() as f64 + 10.0;
    let span = tl
        .events
        .iter()
        .map(|ev| ev.t_ms)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let x = |t: f64| LEFT + (t.max(0.0) / span) * (WIDTH - LEFT - RIGHT);
    let lane_y = |unit: &str| {
        let i = lanes.iter().position(|l| *l == unit).unwrap_or(0);
        TOP + LANE * i as f64 + LANE / 2.0
    };
    let _ = writeln!(
        h,
        "<svg class=\"timeline\" id=\"timeline-{id}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"timeline of probes per unit\">\n\
         <defs><marker id=\"head-{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#0969da\"/></marker></defs>"
    );
    h.push_str("<g class=\"axis\">");
    for i in 0..=5 {
        let t = span * f64::from(i) / 5.0;
        let _ = write!(
            h,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/><text x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\">{label}</text>",
            x = x(t),
            top = TOP - 6.0,
            bottom = height - 6.0,
            ty = TOP - 12.0,
            label = millis(t),
        );
    }
    h.push_str("</g>\n");
    for unit in &lanes {
        let y = lane_y(unit);
        let _ = writeln!(
            h,
            "<g class=\"lane\" data-unit=\"{u}\"><text x=\"8\" y=\"{ty:.1}\">{label}</text><line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\"/></g>",
            u = e(unit),
            label = e(&super::sanitize::one_line(unit, 22)),
            ty = y + 4.0,
            x2 = WIDTH - RIGHT,
        );
    }
    let pos = |id: i64| {
        tl.events
            .iter()
            .find(|ev| ev.id == id)
            .map(|ev| (x(ev.t_ms), lane_y(&ev.unit)))
    };
    h.push_str("<g class=\"arrows\">\n");
    for (n, arrow) in tl.arrows.iter().enumerate() {
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
        let label = if n < LABELLED_ARROWS {
            format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                (x1 + x2) / 2.0,
                (y1 + y2) / 2.0 - 4.0,
                millis(arrow.latency_ms)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<g class=\"arrow\" data-key=\"{key}\" data-latency-ms=\"{lat:.3}\"><title>{key}: {latency}</title><line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" marker-end=\"url(#head-{id})\"/>{label}</g>",
            key = e(&arrow.key),
            lat = arrow.latency_ms,
            latency = millis(arrow.latency_ms),
        );
    }
    h.push_str("</g>\n<g class=\"probes\">\n");
    for ev in &tl.events {
        let r = if ev.failed { 6.0 } else { 5.0 };
        let key = ev
            .key
            .as_deref()
            .map(|k| format!(" key {}", e(k)))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<circle class=\"probe {ty}{failed}\" data-unit=\"{unit}\" data-step=\"{step}\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{r}\"><title>{unit}:{step} ({ty}){key} at {t}{fail}</title></circle>",
            ty = e(&ev.event_type),
            failed = if ev.failed { " failed" } else { "" },
            unit = e(&ev.unit),
            step = e(&ev.step),
            cx = x(ev.t_ms),
            cy = lane_y(&ev.unit),
            t = millis(ev.t_ms),
            fail = if ev.failed { " — failed" } else { "" },
        );
    }
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
                e(&super::sanitize::one_line(&text, 80))
            );
        }
        h.push_str("</g>\n");
    }
    h.push_str("</svg>\n");
    if tl.omitted > 0 {
        let _ = writeln!(
            h,
            "<p class=\"muted\">{} more probes are in the run database and not drawn.</p>",
            tl.omitted
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

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
        assert!(page.contains("<text x=\"585.0\" y=\"") || page.contains("0.400ms"));
        assert!(page.contains("class=\"probe Send failed\""));
        assert!(page.contains("✗ missing: command-received"));
        assert!(!page.contains("http://") || !page.contains("src=\"http"));
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
}
