#!/usr/bin/env bash
# Installs gungraun-runner 0.20.0 (must equal the `gungraun` dev-dependency's version) unless
# that version is already on the PATH.
set -euo pipefail
want=0.20.0
if command -v gungraun-runner >/dev/null && gungraun-runner --version 2>/dev/null | grep -q "$want"; then
  exit 0
fi
cargo install gungraun-runner --version "$want" --locked
