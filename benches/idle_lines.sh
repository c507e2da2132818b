#!/usr/bin/env bash
# Cache lines an idle group's tick touches, recording on vs off: `idle_lines` (a 3-node in-process
# cluster of P idle partitions, elected and settled, then T ticks of every replica) under
# callgrind's cache simulation (64 KiB L1d, a 4 MiB last level: the cluster's groups do not fit,
# as the groups of a node with thousands of partitions do not fit its caches). Deterministic, so
# it shows a change to the lines a tick touches where the real node's A/B is noisy.
#   benches/idle_lines.sh [P] [T] [E]  # default 3000 partitions, 20 ticks, the groups' default
#                                      # idle publication period (E ticks); prints a markdown table
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
partitions="${1:-3000}"
ticks="${2:-20}"
every="${3:-}"
cd "$root"
cargo build --profile bench -q -p raft-metrics-benches --bin idle_lines
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for variant in off on; do
  valgrind --tool=callgrind --cache-sim=yes --D1=65536,8,64 --LL=4194304,16,64 \
    --toggle-collect='*idle_lines::measured*' --callgrind-out-file="$out/$variant.out" \
    "$target/release/idle_lines" "$partitions" "$ticks" "$variant" $every 2>"$out/$variant.err"
done
# `events:` order Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw; `totals:` the sums.
replica_ticks=$((partitions * 3 * ticks))
echo "| recording | Ir | D1 misses | LL misses | per replica-tick: Ir | D1 misses | LL misses |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for variant in off on; do
  awk -v v="$variant" -v n="$replica_ticks" '/^totals:/ {
      ir = $2; d1 = $6 + $7; ll = $9 + $10
      printf "| %s | %d | %d | %d | %.0f | %.1f | %.1f |\n", v, ir, d1, ll, ir / n, d1 / n, ll / n }' "$out/$variant.out"
done
totals() { awk '/^totals:/ { print $2, $9 + $10 }' "$out/$1.out"; }
read -r ir_off ll_off < <(totals off)
read -r ir_on ll_on < <(totals on)
awk -v io="$ir_off" -v lo="$ll_off" -v i1="$ir_on" -v l1="$ll_on" -v p="$partitions" -v t="$ticks" 'BEGIN {
  printf "\nRecording on: %+.1f %% instructions, %+.1f %% last-level misses (%d partitions, %d ticks).\n",
    (i1 - io) / io * 100, (l1 - lo) / lo * 100, p, t }'
