#!/usr/bin/env bash
# CI regression guard for the adapters' metrics overhead, in instructions (callgrind, so the
# figure does not depend on the machine's load). Runs the `disabled` and `instrumented` variants
# of `raft_loop_instructions` (raft-rs) and `openraft_loop_instructions` (gungraun's filter; the
# first run installs gungraun-runner 0.20.0, ~2 min) and fails when, for any load shape,
#
#   (instrumented − disabled) / disabled  >  its threshold.
#
# raft-rs: 3.0 % one proposal per turn and batched (the issue's guard; +2.45 % and +1.92 %
# measured on 2026-12-05, and a change of heap or code layout alone has moved them by up to 0.3
# points since mimalloc, 0.8 before); 2.6 % for `saturated_1000` (the saturation shape, +1.645 %
# when it was added, +1.71 % on 2026-12-05); 12 % for `idle_ticks` (64 idle partitions ticking,
# heartbeats only: +41.0 % when it was added on 2026-12-05, +9.9 % after that day's idle-tick
# work; a regression there shows at a node with thousands of partitions long before a proposal
# shape moves). Override with OVERHEAD_MAX_PCT_ONE_PER_TURN / OVERHEAD_MAX_PCT_BATCHED /
# OVERHEAD_MAX_PCT_SATURATED / OVERHEAD_MAX_PCT_IDLE, or OVERHEAD_MAX_PCT for the three proposal
# shapes.
# openraft: recording's cost (`instrumented` against `disabled`, the wrappers built with
# `Group::with_recording(false)`, as raft-rs's) at most 2.5 % in both shapes (+0.97 % and +0.71 %
# measured on 2026-12-07; builds of unrelated wrapper changes have moved this loop by up to 0.5
# points), and the wrappers' whole cost (against `bare`, openraft without them) at most 3.5 %
# (+2.53 % and +1.75 % then; +2.26 to +2.54 % on 2026-12-03 evening). Override with
# OPENRAFT_OVERHEAD_MAX_PCT and OPENRAFT_WRAPPERS_MAX_PCT.
# The guard catches regressions; it certifies neither the 2 % targets nor a "< 0.1 %" claim
# (see RESULTS.md).
#
#   benches/overhead_guard.sh
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$(dirname "$here")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
max_one="${OVERHEAD_MAX_PCT_ONE_PER_TURN:-${OVERHEAD_MAX_PCT:-3.0}}"
max_batched="${OVERHEAD_MAX_PCT_BATCHED:-${OVERHEAD_MAX_PCT:-3.0}}"
max_saturated="${OVERHEAD_MAX_PCT_SATURATED:-${OVERHEAD_MAX_PCT:-2.6}}"
max_idle="${OVERHEAD_MAX_PCT_IDLE:-12}"
max_openraft="${OPENRAFT_OVERHEAD_MAX_PCT:-2.5}"
max_wrappers="${OPENRAFT_WRAPPERS_MAX_PCT:-3.5}"

"$here/install_gungraun_runner.sh"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# check BENCH BASES SHAPE BASE MAX ...: runs the bench's `instrumented` variant and the BASES
# (ids, space-separated), and compares each SHAPE's `instrumented` against its BASE.
# Its output: `<bench>::<group>::<function> <id>:...` then `  Instructions:   <n>|...`.
check() {
  local bench="$1" bases="$2"
  shift 2
  # Only the variants compared (and the scrape, whose id is `instrumented`): the others
  # (every-turn and untimed timing, the peers' replays, the log size) are for `benches/run.sh`,
  # and each is a callgrind run with its cluster's set-up: most of the bench's time (39 s instead of
  # about 130 s after the build, 2026-12-06).
  # `--workspace`, as CI's `cargo bench --workspace --no-run`: the same feature unification, so
  # the guard runs that build's binaries instead of compiling the benches' dependencies again
  # (`-p raft-metrics-benches` unifies features over that package alone: 1.5 minutes on 2 cores).
  : >"$out"
  for id in $bases instrumented; do
    cargo bench --workspace --bench "$bench" -- "*::$id" >>"$out"
  done
  awk -v limits="$*" '
    /^[^ ].*::/ { split($1, p, "::"); fn = p[length(p)]; split($2, q, ":"); id = q[1]; next }
    /^ *Instructions:/ { n = $2; sub(/\|.*/, "", n); ir[fn "/" id] = n + 0 }
    END {
      fail = 0
      k = split(limits, l, " ")
      for (i = 1; i < k; i += 3) {
        s = l[i]; base = l[i + 1]; max = l[i + 2]; d = ir[s "/" base]; m = ir[s "/instrumented"]
        if (d == 0 || m == 0) { printf "FAIL %s: no instruction count in the output\n", s; fail = 1; continue }
        pct = (m - d) / d * 100
        verdict = (pct > max) ? "FAIL" : "ok"
        if (pct > max) fail = 1
        printf "%-4s %-14s %s %d Ir, instrumented %d Ir: overhead %+.3f %% (max %s %%)\n", verdict, s, base, d, m, pct, max
      }
      if (ir["scrape_3_nodes/instrumented"] > 0) printf "info scrape of 3 nodes: %d Ir\n", ir["scrape_3_nodes/instrumented"]
      exit fail
    }' "$out"
}

status=0
echo "raft-rs ready loop (raft_loop_instructions):"
check raft_loop_instructions disabled one_per_turn disabled "$max_one" batched_100 disabled "$max_batched" \
  saturated_1000 disabled "$max_saturated" idle_ticks disabled "$max_idle" || status=1
echo "openraft write loop (openraft_loop_instructions):"
check openraft_loop_instructions "bare disabled" one_at_a_time disabled "$max_openraft" \
  batched_100 disabled "$max_openraft" one_at_a_time bare "$max_wrappers" batched_100 bare "$max_wrappers" || status=1
exit "$status"
