#!/usr/bin/env bash
# Instructions per histogram observation (callgrind): ours shared, weighted (a sampler's
# `observe_n`) and single-writer, and the fastest peer's (prometheus-client), over the values and
# buckets of `hot_path`'s `histogram_observe`, less the loop around them. Deterministic, where
# the criterion times of the same calls move with the machine.
#   benches/observe_instructions.sh  # prints a markdown table
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"
cargo build --profile bench -q -p raft-metrics-benches --example observe_probe
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
count() {
  valgrind --tool=callgrind --toggle-collect="*observe_probe::run_$1*" --callgrind-out-file="$out/$1.out" \
    "$target/release/examples/observe_probe" "$1" 2>"$out/$1.err"
  awk '/^totals:/ { print $2 }' "$out/$1.out"
}
base="$(count loop)"
echo "| observation | instructions |"
echo "|---|---:|"
for kind in shared weighted local prometheus_client; do
  awk -v n="$(count "$kind")" -v b="$base" -v k="$kind" 'BEGIN { printf "| %s | %.1f |\n", k, (n - b) / 1e6 }'
done
