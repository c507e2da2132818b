#!/usr/bin/env bash
# Instructions and nanoseconds per guide call (`set_commit_index` on one label set, cycling 1 024
# and 4 096 partitions, and missing the per-thread cache; `record_commit_latency`; the follower-lag
# and node-state calls across 1 024 partitions), this working
# tree against another revision: instructions counted by callgrind (10^6 calls), time the best of
# 5 interleaved runs of 2*10^7 calls. The check that a change to the guide API's signatures or to
# the lookup costs nothing. About 3 minutes on 2 cores; needs valgrind.
#
#   benches/guide_calls_ab.sh [REV]     # REV defaults to HEAD~1
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
rev="${1:-HEAD~1}"
work="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$work/rev" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add --detach "$work/rev" "$rev" >/dev/null 2>&1

# One throwaway crate per side, the same program, each depending on its side's raft-metrics.
for side in base this; do
  src="$root"; [ "$side" = base ] && src="$work/rev"
  mkdir -p "$work/$side/src"
  cp "$here/guide_ab/main.rs" "$work/$side/src/main.rs"
  cat >"$work/$side/Cargo.toml" <<TOML
[package]
name = "guide-ab-$side"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
raft-metrics = { path = "$src/raft-metrics" }
[profile.release]
debug = 1
[workspace]
TOML
  CARGO_TARGET_DIR="$work/target-$side" cargo build -q --release --manifest-path "$work/$side/Cargo.toml"
done

count() { # binary case -> instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-34s %9s %9s %7s %9s %9s %7s\n' "per call" "Ir $rev" "Ir this" ratio "ns $rev" "ns this" ratio
base_bin="$work/target-base/release/guide-ab-base"
this_bin="$work/target-this/release/guide-ab-this"
none_base=$(count "$base_bin" none)
none_this=$(count "$this_bin" none)
best() { sort -g | head -n 1; }
for case in set_commit_index_cache_hit set_commit_index_1024_partitions set_commit_index_4096_partitions \
  set_commit_index_cache_miss record_commit_latency_cache_hit set_follower_lag_entries_1024_partitions \
  set_node_state_1024_partitions family_get_1024_partitions; do
  base=$(count "$base_bin" "$case")
  this=$(count "$this_bin" "$case")
  : >"$work/ns-base"; : >"$work/ns-this"
  for _ in 1 2 3 4 5; do
    "$base_bin" "$case" 20000000 >>"$work/ns-base"
    "$this_bin" "$case" 20000000 >>"$work/ns-this"
  done
  awk -v c="$case" -v b="$base" -v t="$this" -v nb="$none_base" -v nt="$none_this" \
    -v tb="$(best <"$work/ns-base")" -v tt="$(best <"$work/ns-this")" \
    'BEGIN { pb = (b - nb) / 1e6; pt = (t - nt) / 1e6
             printf "%-34s %9.1f %9.1f %7.3f %9.2f %9.2f %7.3f\n", c, pb, pt, pt / pb, tb, tt, tt / tb }'
done
