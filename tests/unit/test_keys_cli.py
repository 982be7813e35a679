"""`keys` CLI against the store the server would open: SQLite in the data dir, or Redis when configured."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from server.auth.cli import keys
from server.auth.keys import open_key_store
from server.settings import Settings

KEY_RE = re.compile(r"API key: (va_[A-Za-z0-9_-]{43})")


@pytest.fixture(params=["sqlite", "redis"])
def run(request, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICE_API_STORAGE__DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VOICE_API_REDIS_URL", raising=False)
    if request.param == "redis":
        monkeypatch.setenv("VOICE_API_REDIS_URL", request.getfixturevalue("redis_url"))
        monkeypatch.setenv("VOICE_API_REDIS_PREFIX", request.getfixturevalue("redis_prefix"))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(keys, list(args), catch_exceptions=False)

    return invoke


def _create(run, owner="alice", *extra):
    result = run("create", "--owner", owner, *extra)
    assert result.exit_code == 0, result.output
    plaintext = KEY_RE.search(result.stdout).group(1)
    key_id = re.search(r"Created key ([0-9a-f]{16})", result.stdout).group(1)
    return key_id, plaintext, result


def test_create_prints_the_key_once_with_a_warning(run, tmp_path):
    key_id, plaintext, result = _create(run, "alice", "--plan", "pro")
    assert "cannot be shown again" in result.stderr
    store = open_key_store(Settings())
    assert store.authenticate(plaintext).key_id == key_id and store.get(key_id).plan == "pro"
    listed = run("list")
    assert listed.exit_code == 0 and key_id in listed.output and "alice" in listed.output
    assert plaintext not in listed.output and plaintext[3:] not in listed.output


def test_default_plan_and_unknown_plan(run):
    key_id, _, _ = _create(run, "bob")
    assert open_key_store(Settings()).get(key_id).plan == "basic"
    bad = run("create", "--owner", "bob", "--plan", "platinum")
    assert bad.exit_code != 0 and "unknown plan" in bad.output


def test_revoke_and_set_plan(run):
    key_id, plaintext, _ = _create(run, "carol")
    changed = run("set-plan", key_id, "ultra")
    assert changed.exit_code == 0 and "basic -> ultra" in changed.output
    assert run("set-plan", key_id, "nope").exit_code != 0
    revoked = run("revoke", key_id)
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    assert open_key_store(Settings()).authenticate(plaintext) is None
    again = run("revoke", key_id)
    assert again.exit_code == 1 and "already revoked" in again.output
    assert run("revoke", "ffffffffffffffff").exit_code == 1
    assert run("set-plan", key_id, "pro").exit_code == 1
    listed = run("list", "--json")
    assert '"active": false' in listed.output and '"plan": "ultra"' in listed.output and plaintext not in listed.output


def test_empty_list_says_how_to_start(run):
    assert "keys create" in run("list").output


def test_sqlite_file_lives_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICE_API_STORAGE__DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VOICE_API_REDIS_URL", raising=False)
    assert CliRunner().invoke(keys, ["create", "--owner", "dave"]).exit_code == 0
    assert (tmp_path / "keys.sqlite3").exists()
