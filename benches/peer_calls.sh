#!/usr/bin/env bash
# Instructions and nanoseconds per labelled increment on a thread cycling 1 024 partitions:
# raft-metrics' `Family::get` and the guide's `set_commit_index` against prometheus's
# `with_label_values` (issue #12 item 5's workload). Instructions counted by callgrind (10^6
# calls, set-up subtracted), time the best of 5 interleaved runs of 2*10^7 calls. Criterion's
# `labelled_inc_1024_partitions` times the same workload; this says how much of a ratio is work
# and how much the build's layout and the machine. About 2 minutes on 2 cores; needs valgrind.
#
#   benches/peer_calls.sh
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/crate/src"
cp "$here/peer_calls/main.rs" "$work/crate/src/main.rs"
# The peer's version is the one the benches crate compares against (Cargo.lock).
cp "$root/Cargo.lock" "$work/crate/Cargo.lock"
cat >"$work/crate/Cargo.toml" <<TOML
[package]
name = "peer-calls"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
raft-metrics = { path = "$root/raft-metrics" }
prometheus = { version = "0.14", default-features = false }
itoa = "1"
[profile.release]
debug = 1
[workspace]
TOML
CARGO_TARGET_DIR="$work/target" cargo build -q --release --manifest-path "$work/crate/Cargo.toml"
bin="$work/target/release/peer-calls"

count() { # case -> instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
none=$(count none)
cases="raft_metrics_get raft_metrics_set_commit_index prometheus_with_label_values"
for case in $cases; do : >"$work/ns-$case"; done
for _ in 1 2 3 4 5; do
  for case in $cases; do "$bin" "$case" 20000000 >>"$work/ns-$case"; done
done
printf '%-32s %8s %8s\n' "per call, 1 024 partitions" Ir ns
for case in $cases; do
  ir=$(count "$case")
  awk -v c="$case" -v i="$ir" -v n="$none" -v t="$(sort -g "$work/ns-$case" | head -n 1)" \
    'BEGIN { printf "%-32s %8.1f %8.2f\n", c, (i - n) / 1e6, t }'
done
