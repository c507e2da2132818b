#!/usr/bin/env bash
# Where the raft loop's recording instructions go, by source line: one shape of
# `raft_loop_instructions` run under callgrind with recording off and on, in one binary
# (`examples/raft_loop_profile.rs`, so every address means the same code in both runs), the
# per-instruction difference attributed to the innermost inlined frame in this workspace
# (`addr2line -i`). Per-function diffs (`callgrind_diff.py`) cannot say this: the hooks inline into
# the simulator's ready loop, so one function holds most of the difference.
#   benches/where.sh [SHAPE] [ROWS] [FROM] [TO]  # default one_per_turn, 40 rows, off on; markdown
# FROM and TO: the example's variants, `off`, `on`, and for the raft-rs shapes `untimed`,
# `rpc_untimed` (the durations timed, no message) and `every_turn` (`benches/where.sh
# one_per_turn 40 untimed on`: where the sampled timing goes; `untimed rpc_untimed` and
# `rpc_untimed on` split it between the durations and the messages' latency).
# SHAPE: one_per_turn, batched_100, saturated_1000 (per proposal of 2 000) or idle_ticks (per
# replica-tick of 64 groups x 3 nodes x 100 ticks), the raft-rs loop's; openraft_one_at_a_time or
# openraft_batched_100 (per write of 2 000), the openraft loop's, whose `off` has the wrappers
# built with `Group::with_recording(false)` and whose `bare` has none (`benches/where.sh
# openraft_one_at_a_time 40 bare off`: the wrappers' `async` layers): its difference is the
# wrappers' own lines, the inner store's lines they change, and allocator noise (mimalloc's
# lines, either sign). The example prints the unit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
shape="${1:-one_per_turn}"
rows="${2:-40}"
from="${3:-off}"
to="${4:-on}"
cd "$root"
example=raft_loop_profile
if [[ "$shape" == openraft_* ]]; then
  example=openraft_loop_profile
  shape="${shape#openraft_}"
fi
cargo build --profile bench -q -p raft-metrics-benches --example "$example"
# As the instruction benches: mimalloc's timed purge would now and then land in one run's loop.
export MIMALLOC_PURGE_DELAY=-1
binary="$target/release/examples/$example"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for variant in "$from" "$to"; do
  valgrind --tool=callgrind --dump-instr=yes --toggle-collect="*$example::measured*" \
    --callgrind-out-file="$out/$variant.out" "$binary" "$variant" "$shape" >"$out/$variant.per" 2>"$out/$variant.err"
done
read -r _ per unit <"$out/$from.per"
python3 "$root/benches/where.py" "$binary" "$out/$from.out" "$out/$to.out" --per "$per" --unit "$unit" --rows "$rows" --root "$root"
