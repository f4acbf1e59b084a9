#!/usr/bin/env bash
# Install every tool Enclava needs, idempotently. Both `make demo` and `make test` run this first.
# Heavy things (Python environments with torch, the Kubo build, npm packages) are cached under
# ${ENCLAVA_CACHE:-~/.cache/enclava} and reused by every clone on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/bootstrap
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

step "npm tools (anvil, solc, OpenZeppelin) from package-lock.json"
if [[ ! -f node_modules/.package-lock.json ]] || ! cmp -s package-lock.json node_modules/.enclava-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.enclava-lock
fi

step "Python environments (app + brownie's own)"
bash "$here/pyenv.sh" requirements/app.lock .venv --project
bash "$here/pyenv.sh" requirements/brownie.lock .brownie-venv
if [[ -f requirements/slither.lock ]]; then
  bash "$here/pyenv.sh" requirements/slither.lock .slither-venv
fi

step "solc shim for brownie"
bash "$here/solcx.sh"

step "Kubo (IPFS)"
bash "$here/kubo.sh" >/dev/null

step "Redis"
if ! command -v redis-server >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi
step "Chromium (headless browser for the web-page tests)"
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
step "toolchain ready"
