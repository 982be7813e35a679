#!/usr/bin/env bash
# Regenerates the hashed locks in requirements/ from pyproject.toml: one per profile and Python
# version, for the supported platform (Linux x86-64, glibc >= 2.28). Run it after every change to
# pyproject.toml's dependencies and commit the result; tests/unit/test_lock.py fails until you do.
# Usage: scripts/lock.sh [--upgrade] [profile ...]   (profiles: server dev gpu; default: all)
# Resolves against PyPI (UV_DEFAULT_INDEX points it at a mirror). Needs uv: it is in the dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."

upgrade=()
if [[ "${1:-}" == "--upgrade" ]]; then upgrade=(--upgrade); shift; fi
profiles=("$@")
((${#profiles[@]})) || profiles=(server dev gpu)

uv=$(command -v uv || true)
[[ -n "$uv" ]] || [[ ! -x .venv/bin/uv ]] || uv=.venv/bin/uv
[[ -n "$uv" ]] || { echo "uv not found: pip install uv (it is in the dev extras)" >&2; exit 1; }
python=${PYTHON:-python3}
[[ -x .venv/bin/python ]] && python=.venv/bin/python

# Which extras each profile installs; dev matches `scripts/install.sh --dev` (the tests cover XTTS).
extras_for() {
  case "$1" in
    server) echo "" ;;
    dev) echo "dev xtts" ;;
    gpu) echo "gpu" ;;
    *) echo "unknown profile: $1 (server, dev or gpu)" >&2; return 1 ;;
  esac
}

digest=$("$python" scripts/lockfile.py digest pyproject.toml)
mkdir -p requirements
for profile in "${profiles[@]}"; do
  extras=$(extras_for "$profile")
  extra_args=()
  for e in $extras; do extra_args+=(--extra "$e"); done
  for pyver in 3.11 3.12; do
    out="requirements/${profile}-py${pyver}.txt"
    tmp=$(mktemp)
    # uv keeps the pins already in its output file where they still fit: the existing lock keeps a
    # re-lock to the change at hand, and the 3.11 lock seeds 3.12's so both run the same versions
    # wherever a release supports both (--upgrade starts afresh).
    seed="$out"
    [[ "$pyver" == 3.12 ]] && seed="requirements/${profile}-py3.11.txt"
    if [[ -f "$seed" ]]; then grep -v '^# pyproject-deps-sha256:' "$seed" >"$tmp"; fi
    # --no-emit-package voice-api: the gpu extra names the project itself; it is installed from the
    # checkout (--no-deps -e .), never from an index.
    "$uv" pip compile pyproject.toml "${extra_args[@]}" "${upgrade[@]}" \
      --python-version "$pyver" --python-platform x86_64-manylinux_2_28 \
      --default-index "${UV_DEFAULT_INDEX:-https://pypi.org/simple}" \
      --constraints requirements/constraints.txt \
      --generate-hashes --no-emit-package voice-api --quiet \
      --custom-compile-command "scripts/lock.sh" -o "$tmp"
    {
      echo "# Lock for profile '${profile}' (extras: ${extras:-none}), Python ${pyver}, Linux x86-64."
      echo "# pyproject-deps-sha256: ${digest}"
      cat "$tmp"
    } >"$out"
    rm -f "$tmp"
    echo "wrote $out ($(grep -c '==' "$out") pins)"
  done
done
