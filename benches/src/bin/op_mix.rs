//! Counts the metric operations the raft-rs adapter performs per proposal in the overhead benches'
//! loop (`raft_metrics_benches::raft_loop`), at each load shape, and writes them to
//! `benches/op_mix.txt`, which the benches' replay variants read: the same mix of counter, gauge
//! and histogram operations is then replayed through other libraries in the same loop.
//!
//! Needs the operation counters, which only a build with `--cfg raft_metrics_op_count` has (in
//! its own target directory, so the normal build is untouched); `benches/run.sh` runs:
//!
//! ```text
//! RUSTFLAGS="--cfg raft_metrics_op_count" CARGO_TARGET_DIR=target-bench/op-count \
//!     cargo run --release -p raft-metrics-benches --bin op_mix
//! ```

#[cfg(raft_metrics_op_count)]
fn main() {
    use raft_metrics::op_count;
    use raft_metrics_benches::raft_loop::{cluster, run, Shape, PROPOSALS};

    let mut out = String::from(
        "# Metric operations per proposal of the instrumented raft loop, by shape, written by\n\
         # `benches/src/bin/op_mix.rs` (run by benches/run.sh). Columns: shape, counter ops,\n\
         # gauge ops, histogram observations; per proposal, across the 3 nodes.\n",
    );
    for shape in Shape::ALL {
        let mut c = cluster(true);
        let before = op_count::snapshot();
        run(&mut c, shape);
        let after = op_count::snapshot();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^53
        let per = |a: u64, b: u64| (b - a) as f64 / PROPOSALS as f64;
        let line = format!(
            "{} {:.3} {:.3} {:.3}\n",
            shape.name(),
            per(before.counter, after.counter),
            per(before.gauge, after.gauge),
            per(before.histogram, after.histogram)
        );
        print!("{line}");
        out.push_str(&line);
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/op_mix.txt");
    std::fs::write(path, out).expect("write benches/op_mix.txt");
}

#[cfg(not(raft_metrics_op_count))]
fn main() {
    eprintln!("op_mix needs RUSTFLAGS=\"--cfg raft_metrics_op_count\" (see its documentation)");
    std::process::exit(2);
}
