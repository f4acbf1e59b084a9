#!/usr/bin/env bash
# Run every suite: the Python tests (pytest, app environment, real devnet services) and the
# contract tests (brownie's pytest on its own anvil), then slither, then the static checks (ruff,
# the layer contract, mypy). All always run; the last line sums them up (slither and the static
# checks count as one check each).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-output

summary() {  # extract "N passed", "N failed", "N error(s)", "N skipped" from a pytest log
  local log="$1" word="$2"
  grep -aE "^=+ .*(passed|failed|error).* in [0-9.]+s" "$log" | tail -1 | grep -oE "[0-9]+ $word" | grep -oE "[0-9]+" || echo 0
}

echo "=== Python tests (pytest) ==="
.venv/bin/python -m pytest "$@" 2>&1 | tee test-output/python.log
py_rc=${PIPESTATUS[0]}

echo "=== Contract tests (brownie) ==="
bash scripts/brownie.sh test tests/contracts 2>&1 | tee test-output/contracts.log
sol_rc=${PIPESTATUS[0]}

echo "=== Static analysis (slither, high/medium findings fail) ==="
bash scripts/slither.sh 2>&1 | tail -5 | tee test-output/slither.log
slither_rc=${PIPESTATUS[0]}

echo "=== Static checks (ruff, import-linter, mypy: any finding fails) ==="
bash scripts/lint.sh 2>&1 | tee test-output/lint.log
lint_rc=${PIPESTATUS[0]}

passed=0; failed=0; skipped=0
for log in test-output/python.log test-output/contracts.log; do
  passed=$((passed + $(summary "$log" passed)))
  failed=$((failed + $(summary "$log" failed) + $(summary "$log" "errors?")))
  skipped=$((skipped + $(summary "$log" skipped)))
done
# Skips count as failures (every test needs only what the project installs), except a skip whose
# reason starts "needs hardware:" (a GPU, a TEE): pytest's -ra summary names each, and so does the
# last line.
hardware=$(awk '/^SKIPPED \[[0-9]+\] [^ ]+: needs hardware:/ { gsub(/[][]/, "", $2); n += $2 }
  END { print n + 0 }' test-output/python.log)
failed=$((failed + skipped - hardware))
for check_rc in $slither_rc $lint_rc; do
  if [[ $check_rc -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
[[ $py_rc -eq 0 && $sol_rc -eq 0 && $slither_rc -eq 0 && $lint_rc -eq 0 && $failed -eq 0 ]] || rc=1
echo "${passed} passed, ${failed} failed$([[ $hardware -gt 0 ]] && echo ", ${hardware} skipped for missing hardware (listed as SKIPPED above)")"
exit "${rc:-0}"
