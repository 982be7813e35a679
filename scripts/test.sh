#!/usr/bin/env bash
# Install (with test tools), make sure Redis runs, and run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
scripts/ensure_redis.sh
export PYANNOTE_METRICS_ENABLED=false HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
