//! Memory per partition: 1,000 partitions × (10 gauges + 10 counters + 2 histograms of 12
//! buckets), labelled `topic` and `partition`, every series written once.
//!
//! `memory_per_partition` (or `memory_per_partition all`) re-runs itself once per
//! implementation, each in a fresh process, and prints a markdown table.
//! `memory_per_partition <implementation>` measures one implementation and prints one
//! `RESULT` line.
//!
//! Two measures, both taken before and after building the registry (registration included, so
//! that up-front allocations such as dense arrays count) and divided by the partition count:
//! * resident set size from `/proc/self/statm` (resident pages × 4096);
//! * live heap bytes, counted by a global allocator that wraps the system allocator.
//!
//! The heap is counted again after one scrape with the scrape buffer freed, for crates that
//! build state lazily on the first scrape.
//!
//! Then the built-in Raft schema (`raft_metrics_benches::raft_schema`): per-partition,
//! node-wide and unhealthy-only modes at 100, 1,000 and 10,000 partitions (and 50,000 in the
//! compact modes), 1 % of them unhealthy, each in a fresh process (`memory_per_partition
//! raft_schema <mode> <partitions>`): memory per partition, the samples of one scrape, its bytes
//! plain, gzip (level 6, what `http::Server` sends) and protobuf, gzip bytes per second at a
//! 15 s scrape interval, and the median time of 21 text scrapes. (`benches/scrape_scale` times
//! the same scrapes under criterion, after building every mode's registry in one process: the
//! larger sizes come out slower there, their memory spread over what the others freed.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};

use raft_metrics_benches::partitions::Impl;
use raft_metrics_benches::{bucket_bounds, names, raft_schema, rss_bytes, PARTITIONS};

/// Counts live heap bytes (requested sizes, not allocator overhead).
struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

fn add(bytes: usize, sign: i64) {
    LIVE.fetch_add(sign * bytes as i64, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s; the counter update has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout, which the caller guarantees is valid.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            add(layout.size(), 1);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            add(layout.size(), 1);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator (hence `System`) returned, with its
        // layout.
        unsafe { System.dealloc(ptr, layout) };
        add(layout.size(), -1);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `dealloc`, plus the caller's guarantee that `new_size` is valid.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            add(layout.size(), -1);
            add(new_size, 1);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn heap_bytes() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// One implementation's figures, as printed on its `RESULT` line.
struct Figures {
    rss: i64,
    heap: i64,
    heap_after_scrape: i64,
    scrape_bytes: usize,
}

fn measure(imp: Impl) -> Figures {
    // Warm the process-wide bits every implementation shares, outside the measurement.
    let _ = names();
    let _ = bucket_bounds();
    let rss_before = rss_bytes();
    let heap_before = heap_bytes();
    let mut setup = imp.build(PARTITIONS);
    let rss_after = rss_bytes();
    let heap_after = heap_bytes();
    let scrape_bytes = setup.scrape().len();
    setup.free_buffer();
    let heap_after_scrape = heap_bytes();
    std::hint::black_box(&setup);
    Figures {
        rss: rss_after as i64 - rss_before as i64,
        heap: heap_after - heap_before,
        heap_after_scrape: heap_after_scrape - heap_before,
        scrape_bytes,
    }
}

fn per_partition(total: i64) -> i64 {
    total / i64::from(PARTITIONS)
}

/// The Raft schema's figures in this process: RSS bytes, heap bytes, samples, plain, gzip and
/// protobuf scrape bytes, median scrape time in microseconds.
fn measure_raft_schema(mode: &str, partitions: u32) -> [i64; 7] {
    use std::io::Write as _;

    let aggregation = raft_schema::mode(mode).unwrap_or_else(|| {
        eprintln!("unknown mode `{mode}`");
        std::process::exit(2);
    });
    let rss_before = rss_bytes();
    let heap_before = heap_bytes();
    let registry = raft_schema::populate(aggregation, partitions);
    let (rss, heap) = (rss_bytes() as i64 - rss_before as i64, heap_bytes() - heap_before);
    let mut buf = Vec::new();
    let plain = raft_schema::scrape(&registry, &mut buf);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&buf).expect("gzip into memory");
    let gzip = gz.finish().expect("gzip into memory").len();
    let series = raft_schema::series(&buf);
    buf.clear();
    registry.encode(raft_metrics::Format::Protobuf, &mut buf);
    let proto = buf.len();
    let mut times: Vec<u128> = (0..21)
        .map(|_| {
            let start = std::time::Instant::now();
            std::hint::black_box(raft_schema::scrape(&registry, &mut buf));
            start.elapsed().as_micros()
        })
        .collect();
    times.sort_unstable();
    let int = |v: usize| i64::try_from(v).expect("fits");
    let micros = i64::try_from(times[times.len() / 2]).expect("fits");
    [rss, heap, int(series), int(plain), int(gzip), int(proto), micros]
}

fn run_raft_schema() {
    let exe = std::env::current_exe().expect("own executable path");
    println!("\nThe built-in Raft schema (`raft_metrics_benches::raft_schema`: every partition written as a running node writes it, 2 peers), each size and mode in a fresh process; gzip at level 6, as `http::Server` sends it.\n");
    println!("| mode | partitions | RSS bytes/partition | heap bytes/partition | samples | scrape bytes | gzip bytes | protobuf bytes | gzip bytes/s at 15 s | scrape time (median of 21) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (mode, aggregation) in raft_schema::MODES {
        for &n in raft_schema::sizes(aggregation) {
            let out = Command::new(&exe)
                .args(["raft_schema", mode, &n.to_string()])
                .output()
                .expect("run a child measurement");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT ")) else {
                eprintln!("{mode} {n}: no result (status {}): {}", out.status, String::from_utf8_lossy(&out.stderr));
                continue;
            };
            let f: Vec<i64> = line.split_whitespace().skip(1).map(|f| f.parse().expect("numeric field")).collect();
            let [rss, heap, series, plain, gzip, proto, micros] = f[..] else {
                panic!("malformed result line: {line}")
            };
            let per = |v: i64| v / i64::from(n);
            // Microseconds below 10^15 are exact as f64.
            #[allow(clippy::cast_precision_loss)]
            let millis = micros as f64 / 1e3;
            println!(
                "| {mode} | {n} | {} | {} | {series} | {plain} | {gzip} | {proto} | {} | {millis:.2} ms |",
                per(rss),
                per(heap),
                gzip / 15
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, mode, n] = &args[..] {
        if cmd == "raft_schema" {
            let n: u32 = n.parse().expect("a partition count");
            let [rss, heap, series, plain, gzip, proto, micros] = measure_raft_schema(mode, n);
            println!("RESULT {rss} {heap} {series} {plain} {gzip} {proto} {micros}");
            return;
        }
    }
    let arg = args.first();
    match arg.map(String::as_str) {
        None | Some("all") => {
            run_all();
            run_raft_schema();
        }
        Some(name) => {
            let Some(imp) = Impl::from_name(name) else {
                let known: Vec<_> = Impl::ALL.iter().map(|i| i.name()).collect();
                eprintln!("unknown implementation `{name}`; expected one of {known:?} or `all`");
                std::process::exit(2);
            };
            let f = measure(imp);
            println!("RESULT {} {} {} {} {}", imp.name(), f.rss, f.heap, f.heap_after_scrape, f.scrape_bytes);
        }
    }
}

fn run_all() {
    let exe = std::env::current_exe().expect("own executable path");
    println!("{PARTITIONS} partitions × (10 gauges + 10 counters + 2 histograms × 12 buckets), one write each; each implementation in a fresh process.\n");
    println!("| implementation | RSS bytes/partition | heap bytes/partition | heap bytes/partition after 1st scrape | scrape bytes |");
    println!("|---|---:|---:|---:|---:|");
    for imp in Impl::ALL {
        let out = Command::new(&exe).arg(imp.name()).output().expect("run a child measurement");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT ")) else {
            eprintln!("{}: no result (status {}): {}", imp.name(), out.status, String::from_utf8_lossy(&out.stderr));
            continue;
        };
        let fields: Vec<i64> = line.split_whitespace().skip(2).map(|f| f.parse().expect("numeric field")).collect();
        let [rss, heap, heap_after_scrape, scrape_bytes] = fields[..] else {
            panic!("malformed result line: {line}");
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            imp.name(),
            per_partition(rss),
            per_partition(heap),
            per_partition(heap_after_scrape),
            scrape_bytes
        );
    }
}
