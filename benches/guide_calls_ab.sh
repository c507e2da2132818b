#!/usr/bin/env bash
# Instructions per guide call (`set_commit_index` cache hit and miss, `record_commit_latency`),
# this working tree against another revision, counted by callgrind: the check that a change to
# the guide API's signatures costs nothing. About 2 minutes on 2 cores; needs valgrind.
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
printf '%-34s %10s %10s %8s\n' "instructions per call" "$rev" "this" "ratio"
for side in base this; do eval "none_$side=$(count "$work/target-$side/release/guide-ab-$side" none)"; done
for case in set_commit_index_cache_hit set_commit_index_cache_miss record_commit_latency_cache_hit; do
  base=$(count "$work/target-base/release/guide-ab-base" "$case")
  this=$(count "$work/target-this/release/guide-ab-this" "$case")
  awk -v c="$case" -v b="$base" -v t="$this" -v nb="$none_base" -v nt="$none_this" \
    'BEGIN { pb = (b - nb) / 1e6; pt = (t - nt) / 1e6; printf "%-34s %10.1f %10.1f %8.3f\n", c, pb, pt, pt / pb }'
done
