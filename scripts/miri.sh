#!/usr/bin/env bash
# The core's tests that exercise unsafe code, under Miri: once with Stacked Borrows (Miri's
# default) and once with Tree Borrows. Miri also checks every atomic access for data races.
#
# Selected, not the whole suite (which does not finish in 15 minutes under Miri): the cells
# (`cell::`), the families (`family::`: slab and table ownership; `tests/family.rs`: lookup, the
# per-thread cache, removal, slot reuse, handles, claims), label keys (`label::`), and two stress
# tests at Miri's size: the attribution test (writers, removal and slot reuse on several threads)
# and the histogram drain test (the packed-word protocol of cell/packed.rs, its drains and its
# spilled totals, on several threads). Those tests scale their iteration counts down under
# `cfg(miri)`.
#
# Installs the nightly toolchain and its miri component when missing; if that fails, exits
# non-zero and says so: it never skips silently.
#
#   scripts/miri.sh [stacked|tree|setup]   one model, or only the install and setup (default: both
#                                          models, one after the other)
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  printf 'miri.sh: FAILED: %s\n' "$*" >&2
  exit 1
}

if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri.sh: installing the nightly toolchain with the miri component"
  rustup toolchain install nightly --component miri --profile minimal \
    || fail "could not install the nightly toolchain with miri (is static.rust-lang.org reachable?); Miri did not run"
  cargo +nightly miri --version >/dev/null 2>&1 \
    || fail "nightly is installed but 'cargo +nightly miri' does not run; Miri did not run"
fi
cargo +nightly miri setup >/dev/null || fail "'cargo +nightly miri setup' failed (it builds Miri's sysroot); Miri did not run"
cargo +nightly miri --version
case "${1:-both}" in
  setup) exit 0 ;;
  stacked) models=("stacked borrows") ;;
  tree) models=("tree borrows") ;;
  both) models=("stacked borrows" "tree borrows") ;;
  *) fail "usage: scripts/miri.sh [stacked|tree|setup]" ;;
esac

run() {
  local model=$1
  shift
  printf '\n== miri (%s, MIRIFLAGS=%s): %s\n' "$model" "$MIRIFLAGS" "$*"
  "$@" || fail "Miri ($model) reported an error in: $*"
}

# Miri perturbs the last bits of float operations that IEEE 754 does not require exact (`powi`);
# the native bucket tests compare such bounds exactly, as the platform computes them.
base_flags="${MIRIFLAGS:-} -Zmiri-deterministic-floats"
for model in "${models[@]}"; do
  flags=$base_flags
  if [ "$model" = "tree borrows" ]; then flags="$flags -Zmiri-tree-borrows"; fi
  export MIRIFLAGS="$flags"
  # Skipped: safe-code unit tests of millions of iterations (hours under Miri): the drain tests
  # (their drain and spill paths run in the stress test below at Miri's size), the sampler's
  # statistics and the native bucket index against client_golang's.
  run "$model" cargo +nightly miri test --locked -p raft-metrics --lib -- cell:: family:: label:: \
    --skip drains_keep_count_and_sum_exact --skip the_random_sampler_keeps_about_one_in_n \
    --skip bucket_index_matches_client_golang
  run "$model" cargo +nightly miri test --locked -p raft-metrics --test family
  run "$model" cargo +nightly miri test --locked -p raft-metrics --test stress -- --exact \
    writes_stay_with_their_label_set_under_remove_and_reuse histograms_drain_exactly_under_concurrent_observers_and_readers
done
echo "miri.sh: all selected tests passed under ${models[*]}"
