#!/usr/bin/env bash
# Run brownie from its own tool environment, with the project's anvil and solc shim on hand.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$root/node_modules/.bin:$PATH"
export SOLCX_BINARY_PATH="$root/.solcx"
cd "$root"
exec "$root/.brownie-venv/bin/brownie" "$@"
