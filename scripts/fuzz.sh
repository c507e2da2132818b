#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 30) on stable Rust, without
# sanitizers, and prints each target's executions, exec/s and coverage. Exits non-zero if any
# target crashed (the input is saved under fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS]
#
# Environment:
#   FUZZ_TARGETS="cells derive"   run only these targets (default: all four)
#   FUZZ_NO_DEBUG_ASSERTIONS=1    build with -O alone: faster, but arithmetic overflow then wraps
#                                 silently (cargo-fuzz's default keeps debug assertions and
#                                 overflow checks on, as in `cargo test`)
#
# Reproduce a crash: cargo fuzz run --sanitizer none <target> fuzz/artifacts/<target>/<file>
# Minimize it:       cargo fuzz tmin --sanitizer none <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac
targets=(${FUZZ_TARGETS:-exposition cells derive endpoint})
# 0.13.2 is the newest cargo-fuzz and builds on our stable toolchain (shared/research/toolchain.md).
cargo_fuzz_version=0.13.2

step() { printf '\n== %s\n' "$*"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi
# A failed RUSTC_BOOTSTRAP/nightly attempt leaves a cache that breaks later stable builds.
rm -f fuzz/target/.rustc_info.json

# The derive target also starts from every input of the ui tests and the golden file (one file per
# derived item; not committed, see fuzz/corpus/.gitignore), so new ui tests seed it automatically.
for ui in raft-metrics/tests/ui/*.rs; do
  name=$(basename "$ui" .rs)
  awk -v RS= -v out="fuzz/corpus/derive/ui-$name" \
    '/#\[derive\(/ { n++; f = (n == 1 ? out : out "-" n); printf "%s\n", $0 > f; close(f) }' "$ui"
done
cp raft-metrics-derive/tests/golden/partition.input.rs fuzz/corpus/derive/ui-golden-partition

build_flags=(--sanitizer none)
if [ -n "${FUZZ_NO_DEBUG_ASSERTIONS:-}" ]; then
  build_flags+=(--release)
fi

extra_args() {
  case "$1" in
    derive) echo "-dict=$PWD/fuzz/dicts/derive.dict" ;;
    # Past the server's 8 KiB request limit, where 431 replaces "incomplete".
    endpoint) echo "-max_len=9000" ;;
    *) echo "" ;;
  esac
}

logs=fuzz/target/fuzz-logs
mkdir -p "$logs"
failed=()
summary=()
for target in "${targets[@]}"; do
  step "fuzzing $target for ${seconds}s"
  log="$logs/$target.log"
  # shellcheck disable=SC2046 # extra_args is zero or one word
  if cargo fuzz run "${build_flags[@]}" "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 $(extra_args "$target") 2>&1 | tee "$log"; then
    outcome=ok
  else
    outcome=CRASH
    failed+=("$target")
  fi
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$done_line")
  features=$(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$done_line")
  corpus=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$done_line")
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  rss=$(sed -nE 's/^stat::peak_rss_mb: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  summary+=("$(printf '%-11s %-6s %12s %10s %7s %8s %7s %8s' "$target" "$outcome" "${execs:--}" "${rate:--}" \
    "${cov:--}" "${features:--}" "${corpus:--}" "${rss:--}")")
done

step "summary (${seconds}s per target; logs in $logs/)"
printf '%-11s %-6s %12s %10s %7s %8s %7s %8s\n' target result execs exec/s cov ft corpus rss_mb
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
