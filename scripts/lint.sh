#!/usr/bin/env bash
# Static checks that run with the tests: ruff (style and errors), import-linter (the layer contract
# in pyproject.toml) and mypy (strict on the security-critical packages). Zero findings pass.
set -uo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
rc=0
echo "--- ruff"; "$py" -m ruff check . || rc=1
echo "--- ruff format"; "$py" -m ruff format --check . >/dev/null || { "$py" -m ruff format --check . | tail -5; rc=1; }
echo "--- import-linter"; "$py" -c "import sys, importlinter.cli as c; sys.exit(c.lint_imports(no_cache=True))" || rc=1
echo "--- mypy"; "$py" -m mypy || rc=1
exit $rc
