"""The locks in requirements/ against pyproject.toml: the digest their headers record, and a check
that each lock still satisfies what pyproject declares for its profile.

`python scripts/lockfile.py digest` prints the digest (scripts/lock.sh writes it into each header);
`python scripts/lockfile.py check` lists every stale lock and exits 1 (tests/unit/test_lock.py
runs the same check). Only what decides the resolution is digested (requires-python, dependencies,
optional-dependencies), in a canonical JSON form: editing a comment or the ruff config does not
mark the locks stale, while adding, removing or re-pinning a requirement does.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

# `digest` runs in scripts/install.sh before anything is installed (a bare venv has no `packaging`),
# so only the check imports it.
if TYPE_CHECKING:
    from packaging.requirements import Requirement
    from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
HEADER_KEY = "# pyproject-deps-sha256:"
# Which extras each profile installs (scripts/lock.sh's table; dev is `scripts/install.sh --dev`).
PROFILES: dict[str, tuple[str, ...]] = {"server": (), "dev": ("dev", "xtts"), "gpu": ("gpu",)}
PYTHON_VERSIONS = ("3.11", "3.12")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def lock_path(profile: str, python_version: str, root: Path = ROOT) -> Path:
    return root / "requirements" / f"{profile}-py{python_version}.txt"


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


def recorded_digest(lock_text: str) -> str | None:
    """The digest in a lock's header comment, or None when the header has none."""
    for line in lock_text.splitlines():
        if line.startswith(HEADER_KEY):
            return line[len(HEADER_KEY) :].strip()
        if not line.startswith("#"):
            break
    return None


def pins(lock_text: str) -> dict[str, Version]:
    """name -> pinned version, for every `name==version` requirement line of a lock."""
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    found: dict[str, Version] = {}
    for line in lock_text.splitlines():
        if match := _PIN.match(line):
            found[canonicalize_name(match[1])] = Version(match[2])
    return found


def unhashed(lock_text: str) -> list[str]:
    """Pinned packages without a --hash line: `pip install --require-hashes` would refuse them."""
    missing, current, hashed = [], None, True
    for line in lock_text.splitlines() + [""]:
        if match := _PIN.match(line):
            if current and not hashed:
                missing.append(current)
            current, hashed = match[1], "--hash=" in line
        elif "--hash=" in line:
            hashed = True
        elif not line.startswith((" ", "\t")) and current:
            if not hashed:
                missing.append(current)
            current, hashed = None, True
    return missing


def declared(pyproject: dict[str, Any], extras: tuple[str, ...], python_version: str) -> list[Requirement]:
    """The profile's direct requirements for Linux x86-64 and this Python, the project's own extras
    (gpu = voice-api[xtts]) expanded in place of the self-reference."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = pyproject["project"]
    own = canonicalize_name(project["name"])
    optional = project.get("optional-dependencies", {})
    env = default_environment() | {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
    }
    found: list[Requirement] = []
    pending, seen = [(line, "") for line in project.get("dependencies", [])], set(extras)
    pending += [(line, extra) for extra in extras for line in optional.get(extra, [])]
    while pending:
        line, extra = pending.pop(0)
        req = Requirement(line)
        if req.marker and not req.marker.evaluate(env | {"extra": extra}):
            continue
        if canonicalize_name(req.name) == own:
            new = [e for e in req.extras if e not in seen]
            seen.update(new)
            pending += [(sub, e) for e in new for sub in optional.get(e, [])]
            continue
        found.append(req)
    return found


def problems(pyproject_path: Path, lock: Path, profile: str, python_version: str) -> list[str]:
    """Why this lock no longer stands for pyproject.toml's profile (empty: it does)."""
    from packaging.utils import canonicalize_name

    if not lock.is_file():
        return [f"{lock.name}: missing"]
    text = lock.read_text(encoding="utf-8")
    pyproject = tomllib.loads(pyproject_path.read_text(encoding="utf-8"))
    found = []
    if recorded_digest(text) != deps_digest(pyproject_path):
        found.append(f"{lock.name}: locked from a different pyproject.toml (its header's {HEADER_KEY.strip('# :')})")
    pinned = pins(text)
    for req in declared(pyproject, PROFILES[profile], python_version):
        version = pinned.get(canonicalize_name(req.name))
        if version is None:
            found.append(f"{lock.name}: {req} is declared but not pinned")
        elif not req.specifier.contains(version, prereleases=True):
            found.append(f"{lock.name}: {req} is declared but {req.name}=={version} is pinned")
    found += [f"{lock.name}: {name} has no --hash" for name in unhashed(text)]
    return found


def check_all(root: Path = ROOT) -> list[str]:
    return [
        problem
        for profile in PROFILES
        for version in PYTHON_VERSIONS
        for problem in problems(root / "pyproject.toml", lock_path(profile, version, root), profile, version)
    ]


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "digest":
        print(deps_digest(Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "pyproject.toml"))
    elif command == "check":
        stale = check_all()
        for problem in stale:
            print(problem, file=sys.stderr)
        if stale:
            sys.exit("the locks are out of date with pyproject.toml: run scripts/lock.sh")
        print("the locks match pyproject.toml")
    else:
        sys.exit("usage: python scripts/lockfile.py [check | digest [PYPROJECT]]")
