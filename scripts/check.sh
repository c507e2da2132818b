#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs format,
# lint, docs, unit/integration/doc tests, the promtool check of the example, the loom models, Miri
# and a build of every benchmark. CI runs exactly this (through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's start, in minutes and seconds since the suite began (CI's budget is a wall-clock one).
step() { printf '\n== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

if ! command -v promtool >/dev/null 2>&1; then
  step "installing promtool (Debian package prometheus)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

step "format"
cargo fmt --all -- --check

step "no import cycle among the core's top-level modules"
python3 scripts/module_cycles.py raft-metrics/src

step "clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
# Default features too: code only protobuf reads must not warn without it.
cargo clippy -p raft-metrics --lib --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked

# The real-Prometheus scenarios run in the next step, side by side; here every other test.
e2e_scenarios=(
  prometheus_scrapes_the_cluster_and_the_alerts_fire
  prometheus_sees_a_slow_node
  prometheus_names_the_unhealthy_partitions_in_unhealthy_only_mode
)
skips=()
for scenario in "${e2e_scenarios[@]}"; do skips+=(--skip "$scenario"); done
step "tests (all but the real-Prometheus scenarios)"
cargo test --workspace --all-features --locked -- --exact "${skips[@]}"

# A scenario mostly waits on scrape intervals and alert timers: the five took about 60 s of CPU
# in 6 minutes when they ran one after another, and take 1 min 35 s side by side (the longest,
# 94 s; about 48 s of CPU in all). Each runs in a process of its own (`--exact`): in one process
# the scenarios of a binary take turns (`raft_metrics_e2e::prometheus_turn`, for a developer's
# `cargo test`). The executables come from the build above (a `cargo test -p` would resolve
# features for one package and compile again).
step "the real-Prometheus scenarios, side by side"
mkdir -p target
cargo test --workspace --all-features --locked --no-run --message-format=json >target/test-artifacts.json
python3 - target/test-artifacts.json >target/e2e-binaries <<'PY'
import json, sys
for line in open(sys.argv[1]):
    artifact = json.loads(line)
    if artifact.get("reason") == "compiler-artifact" and artifact.get("executable") \
            and artifact["target"]["name"].startswith("prometheus_e2e"):
        print(artifact["executable"])
PY
expected=$(ls raft-metrics-*/tests/prometheus_e2e*.rs | wc -l)
found=$(wc -l <target/e2e-binaries)
if [ "$found" -ne "$expected" ]; then
  echo "check.sh: $found real-Prometheus test binaries built, $expected sources" >&2
  exit 1
fi
# Every scenario listed first, then started: a missing name fails the step before any of them
# runs (none is left running behind the exit).
e2e_runs=()
while read -r binary; do
  for scenario in $("$binary" --list --format terse </dev/null | sed -n 's/: test$//p'); do
    # The step before skipped only the names listed there: a scenario not among them ran there
    # too, one after another.
    if [[ " ${e2e_scenarios[*]} " != *" $scenario "* ]]; then
      echo "check.sh: add $scenario ($binary) to e2e_scenarios" >&2
      exit 1
    fi
    e2e_runs+=("$binary $scenario")
  done
done <target/e2e-binaries
e2e_pids=()
e2e_logs=()
for run in "${e2e_runs[@]}"; do
  binary="${run% *}" scenario="${run##* }"
  log="target/e2e-$(basename "$binary")-$scenario.log"
  "$binary" --exact "$scenario" >"$log" 2>&1 </dev/null &
  e2e_pids+=($!)
  e2e_logs+=("$log")
done
e2e_status=0
for i in "${!e2e_pids[@]}"; do
  status=0
  wait "${e2e_pids[$i]}" || status=$?
  printf '\n== %s (exit %d)\n' "${e2e_logs[$i]}" "$status"
  cat "${e2e_logs[$i]}"
  if [ "$status" -ne 0 ]; then e2e_status=1; fi
done
if [ "$e2e_status" -ne 0 ]; then
  echo "check.sh: a real-Prometheus scenario failed (its output is above)" >&2
  exit 1
fi

step "examples pass promtool silently"
promtool_silent() {
  local output
  output=$(promtool check metrics < "$1" 2>&1) || { echo "$1: $output"; exit 1; }
  if [ -n "$output" ]; then echo "$1: promtool: $output"; exit 1; fi
}
cargo run -q --locked -p raft-metrics --example exposition > target/exposition.prom
promtool_silent target/exposition.prom
cargo run -q --locked -p raft-metrics --example seed_guide > target/seed_guide.prom
promtool_silent target/seed_guide.prom
cargo run -q --locked -p raft-metrics --example exposition -- --openmetrics > target/exposition.om
tail -n 1 target/exposition.om | grep -qx '# EOF'

step "the openraft demo's exposition passes promtool silently"
cargo build -q --locked -p raft-metrics-openraft --example cluster
"${CARGO_TARGET_DIR:-target}/debug/examples/cluster" --port 9916 --duration 10 >/dev/null &
demo=$!
# After 5 s of traffic (elections, writes), polled until the demo serves: a loaded machine may
# start it late.
sleep 5
python3 - > target/openraft_cluster.prom <<'PY'
import sys, time, urllib.request
deadline = time.monotonic() + 4
while True:
    try:
        sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:9916/metrics", timeout=5).read().decode())
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
PY
wait "$demo"
promtool_silent target/openraft_cluster.prom

step "loom models"
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
  cargo test --release --locked -p raft-metrics --lib --test loom

# Side by side: Miri interprets on one core per model and each fuzz target runs one libFuzzer
# process for a fixed time, so the three together take about as long as one Miri model (in turn,
# Miri's two models and the fuzzing took 9 min 22 s of a clean run on 2 cores). Miri's logs follow
# the fuzzing's; any failure fails the suite.
step "Miri: the core's unsafe code under Stacked Borrows and Tree Borrows (nightly), beside the fuzzing"
mkdir -p target
bash scripts/miri.sh setup
bash scripts/miri.sh stacked >target/miri-stacked.log 2>&1 &
miri_stacked=$!
bash scripts/miri.sh tree >target/miri-tree.log 2>&1 &
miri_tree=$!

step "fuzz targets, 30 s each (cargo-fuzz, stable, no sanitizer)"
fuzz_status=0
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}" || fuzz_status=$?

step "Miri's output (it ran beside the fuzzing)"
stacked_status=0
tree_status=0
wait "$miri_stacked" || stacked_status=$?
wait "$miri_tree" || tree_status=$?
cat target/miri-stacked.log target/miri-tree.log
if [ "$stacked_status" -ne 0 ] || [ "$tree_status" -ne 0 ] || [ "$fuzz_status" -ne 0 ]; then
  echo "check.sh: Miri exited $stacked_status (Stacked Borrows) and $tree_status (Tree Borrows), the fuzzing $fuzz_status" >&2
  exit 1
fi

step "benchmarks build"
cargo bench --workspace --locked --no-run

step "real-node benchmark, smoke run (3 node processes, 1 s per phase, 30 busy groups, 30 idle ones ticked then hibernated; the full run is benches/run.sh)"
# The binary the benchmarks' build above made (`cargo bench` builds its package's binaries with
# the benches): a release build would compile every dependency again (about 4 minutes on 2
# cores), and even `cargo build --profile bench -p raft-metrics-benches` resolves features for
# one package and compiles 78 crates again (1 min 48 s).
"${CARGO_TARGET_DIR:-target}/release/real_node" --rates 2000,saturation --idle-partitions 30 --busy-partitions 30 --busy-rate 300 --rounds 1 --warmup 1 --window 1 --dir target/real-node-smoke >/dev/null

step "real-node benchmark under callgrind, smoke run (recording's instructions at the node's own traffic: one round of 1 s phases at saturation, the dumps charged by benches/real_node_callgrind.py, which fails without a figure)"
rm -rf target/real-node-callgrind-smoke
"${CARGO_TARGET_DIR:-target}/release/real_node" --rates saturation --rounds 1 --warmup 1 --window 1 --dir target/real-node-smoke --callgrind target/real-node-callgrind-smoke >/dev/null
python3 benches/real_node_callgrind.py "${CARGO_TARGET_DIR:-target}/release/real_node" target/real-node-callgrind-smoke --rows 5

step "instruction overhead guard of the raft-rs and openraft loops (callgrind)"
CARGO_TARGET_DIR="$PWD/target" bash benches/overhead_guard.sh

step "all checks passed"
