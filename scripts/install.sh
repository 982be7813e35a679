#!/usr/bin/env bash
# Installs everything `voice-api` needs on a fresh Debian/Ubuntu machine, idempotently:
# system packages (FFmpeg libraries for torchcodec/pyannote), a virtual environment in .venv and
# the project with its pinned engines. Usage: scripts/install.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[[ "${1:-}" == "--dev" ]] && extras="[dev,xtts]"  # the tests cover every engine, XTTS included

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
if [[ "$extras" == "[dev,xtts]" ]]; then
  # tests: a real Redis, espeak-ng to speak test sentences in other languages, and Debian's
  # chromium that Playwright drives for the playground tests (no browser download of its own)
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
  command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)  # scripts/load.py: a standard load generator beside its own
fi
if ((${#need_apt[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "warning: please install ${need_apt[*]} with your package manager" >&2
  fi
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11) or sys.version_info >= (3, 13))' \
  || { echo "Python 3.11 or 3.12 is required (found $("$python" --version))" >&2; exit 1; }
[[ -x .venv/bin/python ]] || "$python" -m venv .venv

# Reinstall only when the dependency declaration changed since the last install.
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras}"
if [[ ! -f "$stamp" ]]; then
  # The CUDA build of torch and the engines take ~9 GB in .venv, plus pip's unpacking space: a
  # full disk would otherwise fail half-way through with pip's bare "[Errno 28]".
  free_gb=$(( $(df -Pk . | awk 'NR==2 {print $4}') / 1024 / 1024 ))
  if (( free_gb < 12 )); then
    echo "only ${free_gb} GB free on $(df -P . | awk 'NR==2 {print $6}'); the install needs about 12 GB" >&2
    exit 1
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
echo "voice-api installed in .venv"
