#!/usr/bin/env bash
# Static analysis of contracts/ with Slither; exits non-zero on any high- or medium-severity
# finding. A finding that is a false positive is silenced only at its line, with a
# `// slither-disable-next-line <detector>` comment that says why.
#
#   bash scripts/slither.sh [extra slither args]      e.g. --print human-summary
#
# Slither runs in its own environment (.slither-venv, from requirements/slither.lock) and compiles
# through crytic-compile's standard-JSON platform with the project's npm solc (the shim in
# .solcx, the same compiler and settings as brownie-config.yaml), so it never downloads a compiler.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [[ ! -x .slither-venv/bin/slither ]]; then
  bash scripts/bootstrap/pyenv.sh requirements/slither.lock .slither-venv
fi
solc=".solcx/solc-v0.8.28"
if [[ ! -x "$solc" ]]; then
  bash scripts/bootstrap/solcx.sh
fi
export PATH="$root/node_modules/.bin:$PATH"

# The standard-JSON input: every source under contracts/, with brownie's remapping and settings.
out="build/slither"
mkdir -p "$out"
.slither-venv/bin/python - "$out/input.json" <<'PY'
import glob, json, sys
sources = sorted(glob.glob("contracts/**/*.sol", recursive=True))
json.dump(
    {
        "language": "Solidity",
        "sources": {path: {"content": open(path).read()} for path in sources},
        "settings": {
            "remappings": ["@openzeppelin/contracts=node_modules/@openzeppelin/contracts"],
            "optimizer": {"enabled": True, "runs": 200},
            "evmVersion": "cancun",
        },
    },
    open(sys.argv[1], "w"),
)
PY

exec .slither-venv/bin/slither "$out/input.json" \
  --compile-force-framework solc-json \
  --solc "$solc" \
  --filter-paths node_modules \
  --exclude-informational --exclude-low --exclude-optimization \
  --fail-medium \
  "$@"
