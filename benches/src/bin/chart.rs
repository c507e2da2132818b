//! Reads criterion's estimates (`<criterion dir>/<group>/<id>/new/estimates.json`), draws an SVG
//! chart with plotters (one bar panel per benchmark group, one bar per implementation, mean time
//! per iteration; scrape time against partitions, log-log) and prints the same figures as markdown
//! tables on stdout, with the raft loop's overhead % = (instrumented − disabled) / disabled.
//!
//! ```sh
//! cargo run --release -p raft-metrics-benches --bin chart -- "$CARGO_TARGET_DIR/criterion" benches/chart.svg
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use raft_metrics_benches::raft_loop::{IDLE_PARTITIONS, IDLE_TICKS};

/// Group order in the chart and tables; groups not listed follow in name order.
const ORDER: [&str; 13] = [
    "counter_inc",
    "histogram_observe",
    "labelled_inc",
    "contended_inc_2_threads",
    "derived_counter_inc",
    "derived_histogram_observe",
    "scrape_1000_partitions",
    "raft_loop_one_per_turn",
    "raft_loop_batched_100",
    "raft_loop_saturated_1000",
    "raft_loop_scrape",
    "scrape_partitions",
    "raft_schema_scrape",
];

/// Mean and its 95% confidence interval, in ns.
#[derive(Clone, Copy)]
struct Estimate {
    mean: f64,
    lo: f64,
    hi: f64,
}

fn read_estimate(path: &Path) -> Option<Estimate> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let m = v.get("mean")?;
    let ci = m.get("confidence_interval")?;
    Some(Estimate {
        mean: m.get("point_estimate")?.as_f64()?,
        lo: ci.get("lower_bound")?.as_f64()?,
        hi: ci.get("upper_bound")?.as_f64()?,
    })
}

/// group → [(id, estimate)], ids in name order.
fn collect(dir: &Path) -> BTreeMap<String, Vec<(String, Estimate)>> {
    let mut groups = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return groups };
    for group in entries.flatten().filter(|e| e.path().is_dir()) {
        let name = group.file_name().to_string_lossy().into_owned();
        if name == "report" {
            continue;
        }
        let mut rows = Vec::new();
        for id in std::fs::read_dir(group.path()).into_iter().flatten().flatten() {
            if let Some(e) = read_estimate(&id.path().join("new/estimates.json")) {
                rows.push((id.file_name().to_string_lossy().into_owned(), e));
            }
        }
        if !rows.is_empty() {
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            groups.insert(name, rows);
        }
    }
    groups
}

fn ordered(groups: &BTreeMap<String, Vec<(String, Estimate)>>) -> Vec<(&str, &[(String, Estimate)])> {
    let mut out: Vec<(&str, &[(String, Estimate)])> =
        ORDER.iter().filter_map(|g| groups.get_key_value(*g)).map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    for (k, v) in groups {
        if !ORDER.contains(&k.as_str()) {
            out.push((k, v));
        }
    }
    out
}

/// A time in ns with a readable unit.
fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.2} ns")
    }
}

fn unit(max: f64) -> (f64, &'static str) {
    if max >= 1e6 {
        (1e6, "ms")
    } else if max >= 1e3 {
        (1e3, "µs")
    } else {
        (1.0, "ns")
    }
}

fn tables(groups: &[(&str, &[(String, Estimate)])]) -> String {
    let mut s = String::new();
    for (group, rows) in groups {
        let _ = writeln!(s, "#### `{group}`\n\n| id | mean | 95% CI |\n|---|---:|---|");
        for (id, e) in *rows {
            let _ = writeln!(s, "| `{id}` | {} | {} … {} |", human(e.mean), human(e.lo), human(e.hi));
        }
        if matches!(*group, "scrape_partitions" | "raft_schema_scrape") {
            s.push_str(&scale_table(rows));
        }
        let find = |id: &str| rows.iter().find(|(i, _)| i == id).map(|(_, e)| *e);
        if let (Some(d), Some(i)) = (find("disabled"), find("instrumented")) {
            let _ = writeln!(
                s,
                "\nOverhead (instrumented − disabled) / disabled: **{:+.3} %** (CI-based range {:+.3} % … {:+.3} %)",
                (i.mean - d.mean) / d.mean * 100.0,
                (i.lo - d.hi) / d.hi * 100.0,
                (i.hi - d.lo) / d.lo * 100.0,
            );
            let _ = writeln!(s, "\nMetrics time per proposal (all 3 nodes): {}", human((i.mean - d.mean) / PROPOSALS));
        }
        s.push('\n');
    }
    s
}

/// `scrape_partitions` ids `<implementation>_<partitions>` as one row per implementation.
fn scale_table(rows: &[(String, Estimate)]) -> String {
    let mut by_impl: BTreeMap<&str, BTreeMap<u32, f64>> = BTreeMap::new();
    for (id, e) in rows {
        if let Some((imp, n)) = id.rsplit_once('_').and_then(|(i, n)| Some((i, n.parse::<u32>().ok()?))) {
            by_impl.entry(imp).or_default().insert(n, e.mean);
        }
    }
    let sizes: Vec<u32> = {
        let mut v: Vec<u32> = by_impl.values().flat_map(|m| m.keys().copied()).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut s =
        String::from("\nScrape time by partitions (and per partition at the largest size):\n\n| implementation |");
    for n in &sizes {
        let _ = write!(s, " {n} |");
    }
    s.push_str(" per partition |\n|---|");
    s.push_str(&"---:|".repeat(sizes.len() + 1));
    s.push('\n');
    for (imp, m) in &by_impl {
        let _ = write!(s, "| `{imp}` |");
        for n in &sizes {
            let _ = write!(s, " {} |", m.get(n).map_or("n/a".into(), |&t| human(t)));
        }
        let per = m.iter().next_back().map_or("n/a".into(), |(&n, &t)| human(t / f64::from(n)));
        let _ = writeln!(s, " {per} |");
    }
    s
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// The chart: one horizontal-bar panel per benchmark group (ours in red), then scrape time against
/// partitions on log-log axes, drawn with plotters into an SVG at `out`.
fn svg(groups: &[(&str, &[(String, Estimate)])], out: &Path) -> DrawResult {
    use plotters::prelude::*;

    const WIDTH: u32 = 960;
    const ROW: u32 = 20;
    const PANEL: u32 = 64;
    const SCALE: u32 = 420;
    let bar_groups: Vec<&(&str, &[(String, Estimate)])> =
        groups.iter().filter(|(g, _)| *g != "scrape_partitions").collect();
    let heights: Vec<u32> =
        bar_groups.iter().map(|(_, rows)| PANEL + ROW * u32::try_from(rows.len()).unwrap_or(0)).collect();
    let scale = groups.iter().find(|(g, _)| *g == "scrape_partitions");
    let total = 50 + heights.iter().sum::<u32>() + if scale.is_some() { SCALE } else { 0 };
    let root = SVGBackend::new(out, (WIDTH, total)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, mut rest) = root.split_vertically(50);
    title.draw(&Text::new(
        "raft-metrics benchmarks: mean time per iteration (criterion), lower is better; raft-metrics in red",
        (10, 18),
        ("sans-serif", 18).into_font().style(FontStyle::Bold),
    ))?;
    for ((group, rows), h) in bar_groups.into_iter().zip(heights) {
        let (area, below) = rest.split_vertically(h);
        rest = below;
        bar_panel(&area, group, rows)?;
    }
    if let Some((_, rows)) = scale {
        scale_panel(&rest, rows)?;
    }
    root.present()?;
    Ok(())
}

fn bar_panel<DB: plotters::prelude::DrawingBackend>(
    area: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    group: &str,
    rows: &[(String, Estimate)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;

    let max = rows.iter().map(|(_, e)| e.mean).fold(0.0, f64::max);
    let min = rows.iter().map(|(_, e)| e.mean).fold(f64::INFINITY, f64::min);
    let (div, unit) = unit(max);
    // Spans of more than 100×: log10 of the value on the axis, from the decade below the smallest.
    let log_from = (max / min > 100.0 && min > 0.0).then(|| min.log10().floor());
    let x = |v: f64| log_from.map_or(v, |from| v.log10() - from);
    let x_max = x(max) * 1.25;
    let n = rows.len();
    let caption = format!("{group} ({unit} per iteration{})", if log_from.is_some() { ", log scale" } else { "" });
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15).into_font().style(FontStyle::Bold))
        .margin_left(8)
        .margin_right(16)
        .x_label_area_size(20)
        .y_label_area_size(300)
        .build_cartesian_2d(0.0..x_max.max(f64::MIN_POSITIVE), (0..n).into_segmented())?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => rows.get(*i).map_or(String::new(), |(id, _)| id.clone()),
        _ => String::new(),
    };
    let tick = |v: &f64| match log_from {
        Some(from) => format!("{:.3}", 10f64.powf(v + from) / div),
        None => format!("{:.3}", v / div),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&label)
        .x_labels(5)
        .x_label_formatter(&tick)
        .label_style(("sans-serif", 11))
        .draw()?;
    // Groups that measure only raft-metrics (the guide's calls, timers) have no peer ids.
    let only_ours = matches!(group, "guide_calls" | "timer" | "raft_loop_scrape" | "raft_schema_scrape");
    let ours = |id: &str| {
        (only_ours && !id.starts_with("instant"))
            || id.contains("raft_metrics")
            || id.starts_with("derived")
            || id == "instrumented"
    };
    chart.draw_series(rows.iter().enumerate().map(|(i, (id, e))| {
        let color = if ours(id) { RGBColor(0xd9, 0x53, 0x4f) } else { RGBColor(0x5b, 0x8d, 0xef) };
        let mut bar =
            Rectangle::new([(0.0, SegmentValue::Exact(i)), (x(e.mean), SegmentValue::Exact(i + 1))], color.filled());
        bar.set_margin(2, 2, 0, 0);
        bar
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, e))| {
        Text::new(format!(" {:.3} {unit}", e.mean / div), (x(e.mean), SegmentValue::CenterOf(i)), ("sans-serif", 11))
    }))?;
    Ok(())
}

/// Scrape time against partitions, one line per implementation, log-log.
fn scale_panel<DB: plotters::prelude::DrawingBackend>(
    area: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    rows: &[(String, Estimate)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;

    let mut lines: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for (id, e) in rows {
        if let Some((imp, n)) = id.rsplit_once('_').and_then(|(i, n)| Some((i, n.parse::<u32>().ok()?))) {
            lines.entry(imp).or_default().push((f64::from(n), e.mean / 1e6));
        }
    }
    let points = || lines.values().flatten();
    let (x_min, x_max) = points().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (y_min, y_max) = points().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if !(x_min.is_finite() && y_min.is_finite()) {
        return Ok(());
    }
    let mut chart = ChartBuilder::on(area)
        .caption(
            "scrape time of the full Raft schema against partitions (ms, log-log; lower is better)",
            ("sans-serif", 15).into_font().style(FontStyle::Bold),
        )
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d((x_min / 1.5..x_max * 1.5).log_scale(), (y_min / 2.0..y_max * 2.0).log_scale())?;
    chart.configure_mesh().x_desc("partitions").y_desc("ms per scrape").label_style(("sans-serif", 11)).draw()?;
    for (i, (imp, mut points)) in lines.into_iter().enumerate() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let color = if imp.contains("raft_metrics") {
            RGBColor(0xd9, 0x53, 0x4f)
        } else {
            {
                let (r, g, b) = Palette99::pick(i + 2).to_rgba().rgb();
                RGBColor(r, g, b)
            }
        };
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(imp)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: chart <criterion dir> <out.svg>");
        std::process::exit(2);
    };
    let groups = collect(Path::new(dir));
    let groups = ordered(&groups);
    if groups.is_empty() {
        eprintln!("no criterion estimates under {dir}");
        std::process::exit(1);
    }
    if let Err(e) = svg(&groups, Path::new(out)) {
        eprintln!("chart: writing {out} failed: {e}");
        std::process::exit(1);
    }
    print!("{}", tables(&groups));
    if let Some(log) = args.get(3) {
        let text = std::fs::read_to_string(log).expect("read the gungraun output");
        print!("{}", instructions(&text, &groups));
    }
}

/// `Instructions:` of each gungraun benchmark in its output: (benchmark, id) → count.
fn parse_gungraun(text: &str) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && line.contains("::") {
            // `<bench>::<group>::<function> <id>:<args>`
            let mut parts = line.split_whitespace();
            let function = parts.next().and_then(|p| p.rsplit("::").next()).unwrap_or_default().to_owned();
            let id = parts.next().and_then(|p| p.split(':').next()).unwrap_or_default().to_owned();
            current = Some((function, id));
        } else if let Some(rest) = line.trim_start().strip_prefix("Instructions:") {
            let n = rest.trim_start().split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok());
            if let (Some(key), Some(n)) = (current.take(), n) {
                out.insert(key, n);
            }
        }
    }
    out
}

/// The instruction table, the overhead per shape and the scrape budget at a 15 s interval.
fn instructions(text: &str, groups: &[(&str, &[(String, Estimate)])]) -> String {
    let counts = parse_gungraun(text);
    let get = |f: &str, id: &str| counts.get(&(f.to_owned(), id.to_owned())).copied();
    let time = |group: &str, id: &str| mean_ns(groups, group, id);
    let scrape = get("scrape_3_nodes", "instrumented");
    let mut s = String::from(
        "| shape | disabled Ir | instrumented Ir | overhead | metrics Ir per proposal | loop time (instrumented) | scrape Ir per loop at 15 s | scrape share | overhead incl. scrape |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for shape in ["one_per_turn", "batched_100", "saturated_1000"] {
        let (Some(d), Some(i)) = (get(shape, "disabled"), get(shape, "instrumented")) else { continue };
        let overhead = (i as f64 - d as f64) / d as f64 * 100.0;
        let loop_ns = time(&format!("raft_loop_{shape}"), "instrumented");
        // Scrapes per loop run = loop time / 15 s; their instructions are charged to the loop.
        let scrape_share = match (scrape, loop_ns) {
            (Some(sc), Some(t)) => Some(sc as f64 * t / (SCRAPE_INTERVAL_S * 1e9)),
            _ => None,
        };
        let with_scrape = scrape_share.map(|sh| (i as f64 + sh - d as f64) / d as f64 * 100.0);
        let _ = writeln!(
            s,
            "| `{shape}` | {d} | {i} | **{overhead:+.3} %** | {:.0} | {} | {} | {} | {} |",
            (i - d.min(i)) as f64 / PROPOSALS,
            loop_ns.map_or("n/a".into(), human),
            scrape_share.map_or("n/a".into(), |v| format!("{v:.1}")),
            scrape_share.map_or("n/a".into(), |v| format!("{:+.5} %", v / d as f64 * 100.0)),
            with_scrape.map_or("n/a".into(), |v| format!("{v:+.3} %")),
        );
    }
    s.push_str(&idle(&counts));
    s.push_str(&replays(&counts, groups));
    if let Some(sc) = scrape {
        let _ = writeln!(
            s,
            "\nOne full scrape of the 3 nodes' registries: **{sc} Ir**. Scrape budget: a scrape every \
             {SCRAPE_INTERVAL_S} s costs `scrape Ir × loop time / {SCRAPE_INTERVAL_S} s` instructions per \
             run of the loop (the loop time is criterion's mean for the instrumented loop above)."
        );
        if let Some(t) = time("raft_loop_scrape", "scrape_3_nodes") {
            let _ = writeln!(
                s,
                "\nIn time: one scrape takes {}, i.e. {:.6} % of one core at a {SCRAPE_INTERVAL_S} s interval.",
                human(t),
                t / (SCRAPE_INTERVAL_S * 1e9) * 100.0
            );
        }
    }
    s
}

/// The idle shape: what recording costs a group that only ticks and heartbeats, per replica
/// and tick.
fn idle(counts: &BTreeMap<(String, String), u64>) -> String {
    let get = |id: &str| counts.get(&("idle_ticks".to_owned(), id.to_owned())).copied();
    let (Some(d), Some(i)) = (get("disabled"), get("instrumented")) else { return String::new() };
    let replica_ticks = f64::from(IDLE_PARTITIONS) * IDLE_TICKS as f64 * 3.0;
    format!(
        "\n#### Idle partitions\n\n`idle_ticks`: {IDLE_PARTITIONS} partitions × 3 nodes with elected leaders, \
         {IDLE_TICKS} ticks of every replica and no proposal (heartbeats only, every 2 ticks), what most \
         partitions of a node with thousands of them do at any moment.\n\n\
         | shape | disabled Ir | instrumented Ir | overhead | disabled Ir per replica-tick | metrics Ir per replica-tick |\n\
         |---|---:|---:|---:|---:|---:|\n\
         | `idle_ticks` | {d} | {i} | **{:+.3} %** | {:.0} | {:.0} |\n",
        (i as f64 - d as f64) / d as f64 * 100.0,
        d as f64 / replica_ticks,
        (i - d.min(i)) as f64 / replica_ticks,
    )
}

/// Criterion's mean for `id` in `group`, in ns.
fn mean_ns(groups: &[(&str, &[(String, Estimate)])], group: &str, id: &str) -> Option<f64> {
    groups.iter().find(|(g, _)| *g == group).and_then(|(_, rows)| rows.iter().find(|(i, _)| i == id)).map(|r| r.1.mean)
}

/// The replay table: the instrumented loop's metric operations through each library, in
/// instructions (gungraun) and time (criterion), against the disabled loop.
fn replays(counts: &BTreeMap<(String, String), u64>, groups: &[(&str, &[(String, Estimate)])]) -> String {
    let time = |group: &str, id: &str| mean_ns(groups, group, id);
    let mut s = String::from(
        "\n#### The same recording work through other libraries\n\n\
         `replay_<library>`: the disabled loop plus, after each settle, the metric operations the instrumented \
         loop performs (counted by `op_mix`, `benches/op_mix.txt`) through that library's pre-resolved handles. \
         The adapter's own bookkeeping (clock reads, pending proposals, handle lookups) is the same whatever the \
         library and is not replayed: `instrumented` − `replay_raft_metrics` is its cost. \
         `instrumented_every_turn`: the instrumented loop timing every turn (`Sampling::All`) instead of one in 8; \
         `instrumented_untimed`: timing nothing (`Sampling::Off` for durations and messages), the exact counts, \
         gauges and sizes alone.\n\n\
         | shape | variant | Ir | Ir overhead | time | time overhead |\n|---|---|---:|---:|---:|---:|\n",
    );
    for shape in ["one_per_turn", "batched_100", "saturated_1000"] {
        let Some(d) = counts.get(&(shape.to_owned(), "disabled".to_owned())).copied() else { continue };
        let group = format!("raft_loop_{shape}");
        let d_ns = time(&group, "disabled");
        let rows = ["instrumented", "instrumented_every_turn", "instrumented_untimed"]
            .map(|id| (id, shape.to_owned()))
            .into_iter()
            .chain(
                ["replay_raft_metrics", "replay_prometheus_client", "replay_prometheus"]
                    .into_iter()
                    .map(|id| (id, format!("{shape}_replay"))),
            );
        for (id, function) in rows {
            let ir = counts.get(&(function, id.to_owned())).copied();
            let ns = time(&group, id);
            let _ = writeln!(
                s,
                "| `{shape}` | `{id}` | {} | {} | {} | {} |",
                ir.map_or("n/a".into(), |v| v.to_string()),
                ir.map_or("n/a".into(), |v| format!("{:+.3} %", (v as f64 - d as f64) / d as f64 * 100.0)),
                ns.map_or("n/a".into(), human),
                match (ns, d_ns) {
                    (Some(n), Some(d)) => format!("{:+.2} %", (n - d) / d * 100.0),
                    _ => "n/a".into(),
                },
            );
        }
    }
    s
}

/// The scrape interval the budget assumes, in seconds.
const SCRAPE_INTERVAL_S: f64 = raft_metrics_benches::raft_loop::SCRAPE_INTERVAL_SECS;
/// Proposals per run of the loop.
const PROPOSALS: f64 = raft_metrics_benches::raft_loop::PROPOSALS as f64;
