#!/usr/bin/env bash
# What recording costs per proposal when the proposals are spread over many groups, each taking
# one per tick: `examples/busy_lines.rs` (a 3-node in-process cluster of P groups, elected and settled, then
# R rounds of one proposal to every group, settled, and a tick) under callgrind's cache
# simulation, as `idle_lines.sh` runs it (64 KiB L1d, a 4 MiB last level: the groups do not fit).
# Three runs: recording off, on, and on with `with_busy_publish_every(E)`. Deterministic.
#   benches/busy_lines.sh [P] [R] [E] [W]  # default 1000 groups, 20 rounds, E = 10, W = 1; a
#   markdown table. W: rounds before the measured ones. With one, the groups' logs are young (a
#   few dozen entries: the log size keeps a block per entry and its vectors still grow), which a
#   running node's are not; `benches/busy_lines.sh 100 20 10 300` measures logs of hundreds of
#   entries (100 groups: 1 000 would hold about a GB in the simulator).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
partitions="${1:-1000}"
rounds="${2:-20}"
every="${3:-10}"
warmup="${4:-1}"
cd "$root"
cargo build --profile bench -q -p raft-metrics-benches --example busy_lines
# As the instruction benches: mimalloc's timed purge would now and then land in one run.
export MIMALLOC_PURGE_DELAY=-1
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
variants=("off 1" "on 1" "on $every")
for variant in "${variants[@]}"; do
  read -r recording publish <<<"$variant"
  valgrind --tool=callgrind --cache-sim=yes --D1=65536,8,64 --LL=4194304,16,64 \
    --toggle-collect='*busy_lines::measured*' --callgrind-out-file="$out/$recording-$publish.out" \
    "$target/release/examples/busy_lines" "$partitions" "$rounds" "$recording" "$publish" "$warmup" 2>"$out/$recording-$publish.err"
done
# `events:` order Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw; `totals:` the sums.
proposals=$((partitions * rounds))
echo "| recording | busy publish every | per proposal (3 nodes): Ir | LL misses | over off: Ir | LL misses |"
echo "|---|---:|---:|---:|---:|---:|"
read -r ir_off ll_off < <(awk '/^totals:/ { print $2, $9 + $10 }' "$out/off-1.out")
for variant in "${variants[@]}"; do
  read -r recording publish <<<"$variant"
  awk -v r="$recording" -v e="$publish" -v n="$proposals" -v io="$ir_off" -v lo="$ll_off" '/^totals:/ {
      ir = $2; ll = $9 + $10
      printf "| %s | %s | %.0f | %.1f | %+.0f | %+.1f |\n", r, e, ir / n, ll / n, (ir - io) / n, (ll - lo) / n }' \
    "$out/$recording-$publish.out"
done
echo
echo "$partitions groups, $rounds rounds of one proposal to each, settled, and a tick, after $warmup such rounds."
