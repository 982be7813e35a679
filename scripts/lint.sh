#!/usr/bin/env bash
# The checks CI runs before the tests: ruff check, ruff format --check, mypy (configured in
# pyproject.toml's [tool.mypy]). Exits 1 if any finds something. Usage: scripts/lint.sh
# PYTHON picks the interpreter whose ruff and mypy run (default: .venv/bin/python).
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}

status=0
step() {
  echo "== $*"
  "$python" -m "$@" || status=1
}
step ruff check .
step ruff format --check .
step mypy
((status == 0)) && echo "lint: clean" || echo "lint: FAILED (see above)" >&2
exit $status
