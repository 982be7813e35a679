#!/usr/bin/env bash
# Flake hunt (issue 17): run a set of tests again and again and keep one line per run, so a test
# that fails by chance shows up as a red line among green ones instead of a red CI once a month.
#
#   scripts/flake_hunt.sh RUNS [--busy] [pytest args...]
#     scripts/flake_hunt.sh 5                              # the whole suite, 5 times
#     scripts/flake_hunt.sh 30 --busy tests/engines tests/e2e
#     scripts/flake_hunt.sh 1 --busy --count 30 tests/engines tests/e2e   # pytest-repeat: each test
#         30 times in a row with its module's fixtures kept (the servers, workers and models are
#         started once), so a test's own timing is hunted at a fraction of 30 whole runs' cost;
#         the whole-suite runs above still hunt the start-up and teardown paths.
#
# --busy keeps one core spinning in a busy loop beside the tests (the "CPU-bound job beside it" that
# exposed the timing flakes). Each run's log is kept under .flake-hunt/ (ignored by git); the summary
# (run, start, seconds, exit status, pytest's last line, 1-minute load average at the end) is printed
# and appended to .flake-hunt/summary.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:?usage: scripts/flake_hunt.sh RUNS [--busy] [pytest args...]}
shift
busy=0
if [[ ${1:-} == --busy ]]; then busy=1; shift; fi
scripts/ensure_redis.sh
export PYANNOTE_METRICS_ENABLED=false HF_HUB_OFFLINE=1
mkdir -p .flake-hunt
spinner=""
if [[ $busy -eq 1 ]]; then
    # A pure-CPU loop at normal priority: it takes one core away from the tests for the whole hunt.
    ( while :; do :; done ) &
    spinner=$!
    trap 'kill "$spinner" 2>/dev/null' EXIT
fi
stamp=$(date -u +%Y%m%dT%H%M%S)
for ((run = 1; run <= runs; run++)); do
    log=".flake-hunt/${stamp}-run${run}.log"
    started=$(date -u +%H:%M:%S)
    t0=$(date +%s)
    .venv/bin/python -m pytest -p no:cacheprovider -q "$@" >"$log" 2>&1
    status=$?
    seconds=$(($(date +%s) - t0))
    last=$(grep -E '(passed|failed|error)' "$log" | tail -1)
    load=$(cut -d' ' -f1 /proc/loadavg)
    line=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$stamp" "$run" "$started" "$seconds" "$status" "$last" "$load")
    echo "$line" | tee -a .flake-hunt/summary.tsv
    if [[ $status -ne 0 ]]; then
        grep -E '^(FAILED|ERROR)' "$log" | sed 's/^/    /'
    fi
done
