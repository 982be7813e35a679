"""Docker cannot run in CI, so the deployment files are linted and checked against the project."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile.gpu")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_the_project_from_the_gpu_lock():
    dockerfile = (ROOT / "Dockerfile.gpu").read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # every package from the same hashed lock scripts/install.sh --gpu uses (tests/unit/test_lock.py
    # keeps it in step with pyproject), then the project alone
    assert "COPY --chown=voice:voice requirements/gpu-py3.12.txt ./requirements/" in dockerfile
    assert "pip install --no-cache-dir --require-hashes -r requirements/gpu-py3.12.txt" in dockerfile
    assert 'pip install --no-cache-dir --no-deps --no-build-isolation ".[gpu]"' in dockerfile and "gpu" in extras
    assert (ROOT / "requirements/gpu-py3.12.txt").is_file()
    for package in ("server", "engines", "model_store"):
        assert f"COPY --chown=voice:voice {package} ./{package}" in dockerfile
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile and "/v1/health" in dockerfile


def test_compose_runs_api_redis_with_aof_and_gpu_workers():
    compose = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())["services"]
    assert "--appendonly" in compose["redis"]["command"]
    workers = [name for name in compose if name.startswith("worker-gpu")]
    assert workers and all("--queues" in compose[w]["command"] for w in workers)
    assert all("./models:/models:ro" in compose[s]["volumes"] for s in ["api", *workers])
