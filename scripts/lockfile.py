"""Prints the sha256 of pyproject.toml's dependency tables, the value each lock's header records.

Only what decides the resolution counts (requires-python, dependencies, optional-dependencies), in a
canonical JSON form, so editing a comment or the ruff config does not mark the locks stale while
adding, removing or re-pinning a requirement does. tests/unit/test_lock.py compares the two.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

HEADER_KEY = "# pyproject-deps-sha256:"


def dependency_tables(pyproject: dict[str, Any]) -> dict[str, Any]:
    project = pyproject["project"]
    return {
        "requires-python": project.get("requires-python", ""),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }


def deps_digest(pyproject_path: Path) -> str:
    tables = dependency_tables(tomllib.loads(pyproject_path.read_text(encoding="utf-8")))
    canonical = json.dumps(tables, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def recorded_digest(lock_path: Path) -> str | None:
    """The digest written in a lock's header, or None when the header has none."""
    for line in lock_path.read_text(encoding="utf-8").splitlines():
        if line.startswith(HEADER_KEY):
            return line[len(HEADER_KEY) :].strip()
        if not line.startswith("#"):
            break
    return None


if __name__ == "__main__":
    print(deps_digest(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")))
