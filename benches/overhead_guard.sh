#!/usr/bin/env bash
# CI regression guard for the raft loop's metrics overhead, in instructions (callgrind, so the
# figure does not depend on the machine's load). Runs only `raft_loop_instructions` (about 10 s
# after the build; the first run installs gungraun-runner 0.20.0, ~2 min) and fails when
#
#   (instrumented − disabled) / disabled  >  OVERHEAD_MAX_PCT   for either load shape.
#
# Default threshold: 6.5 % in both shapes, i.e. the figures measured after RPC calls were counted
# where they are sent (+5.22 % one proposal per turn, +5.05 % batched, on 2026-12-03) plus about
# 1.3 points (a change of heap layout alone has moved them by 0.8).
# The guard catches regressions; it does not certify a "< 0.1 %" claim (see RESULTS.md).
# Override with OVERHEAD_MAX_PCT_ONE_PER_TURN / OVERHEAD_MAX_PCT_BATCHED, or OVERHEAD_MAX_PCT for both.
#
#   benches/overhead_guard.sh
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$(dirname "$here")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-bench}"
max_one="${OVERHEAD_MAX_PCT_ONE_PER_TURN:-${OVERHEAD_MAX_PCT:-6.5}}"
max_batched="${OVERHEAD_MAX_PCT_BATCHED:-${OVERHEAD_MAX_PCT:-6.5}}"

"$here/install_gungraun_runner.sh"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
cargo bench -p raft-metrics-benches --bench raft_loop_instructions >"$out"

# `<bench>::<group>::<function> <id>:...` then `  Instructions:   <n>|...`
awk -v max_one="$max_one" -v max_batched="$max_batched" '
  /^[^ ].*::/ { split($1, p, "::"); fn = p[length(p)]; split($2, q, ":"); id = q[1]; next }
  /^ *Instructions:/ { n = $2; sub(/\|.*/, "", n); ir[fn "/" id] = n + 0 }
  END {
    fail = 0
    split("one_per_turn batched_100", shapes, " ")
    for (i = 1; i <= 2; i++) {
      s = shapes[i]; d = ir[s "/disabled"]; m = ir[s "/instrumented"]
      max = (s == "one_per_turn") ? max_one : max_batched
      if (d == 0 || m == 0) { printf "FAIL %s: no instruction count in the output\n", s; fail = 1; continue }
      pct = (m - d) / d * 100
      verdict = (pct > max) ? "FAIL" : "ok"
      if (pct > max) fail = 1
      printf "%-4s %-14s disabled %d Ir, instrumented %d Ir: overhead %+.3f %% (max %s %%)\n", verdict, s, d, m, pct, max
    }
    if (ir["scrape_3_nodes/instrumented"] > 0) printf "info scrape of 3 nodes: %d Ir\n", ir["scrape_3_nodes/instrumented"]
    exit fail
  }' "$out"
