#!/usr/bin/env bash
# Install (if needed) and start the server in its embedded default: the HTTP API plus in-process
# workers, task state in ./data, the built-in models. No Redis, no other service.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export PYANNOTE_METRICS_ENABLED=false HF_HUB_OFFLINE=1
exec .venv/bin/voice-api serve "$@"
