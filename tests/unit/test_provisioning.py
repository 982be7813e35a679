"""Provisioning against a fake hub on 127.0.0.1, then verify/pack/unpack/list on the real layout."""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from model_store import manifest
from model_store.sources import MODEL_SETS
from server.cli import main

TOKEN = "hf_test_token"


class FakeHub(SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if "pyannote" in self.path and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_error(401, "gated")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(tmp_path):
    root = tmp_path / "hub"
    for model_set in MODEL_SETS.values():
        for path in model_set.files:
            target = root / model_set.repo / "resolve" / "main" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f"fake {model_set.name} {path}".encode() * 50)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(FakeHub, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run(*args, env=None):
    result = CliRunner().invoke(main, ["models", *args], env=env, catch_exceptions=False)
    return result


def test_provision_verify_pack_unpack_list(hub, tmp_path):
    store = tmp_path / "store"
    result = run(
        "provision", "whisper-large-v3", "xtts-v2", "piper-en_US-amy-medium", "--store", str(store), "--mirror", hub
    )
    assert result.exit_code == 0, result.output
    assert "NON-COMMERCIAL" in result.output
    assert (store / "whisper/large-v3/model.bin").is_file() and (store / "xtts/XTTS-v2/model.pth").is_file()
    assert (store / "piper/en_US-amy-medium.onnx").is_file()
    entry = manifest.load(store)["model_sets"]["xtts-v2"]
    assert entry["licence"].startswith("Coqui Public Model License") and len(entry["files"]) == 4
    assert run("verify", "--store", str(store)).exit_code == 0

    archive = tmp_path / "bundle.tar"
    assert run("pack", str(archive), "--store", str(store)).exit_code == 0
    other = tmp_path / "air-gapped"
    unpacked = run("unpack", str(archive), "--store", str(other))
    assert unpacked.exit_code == 0 and "OK: 11 file(s) in 3 model set(s)" in unpacked.output

    listed = run("list", "--store", str(other), "--json", env={"VOICE_API_STT__MODEL": "large-v3"})
    assert listed.exit_code == 0, listed.output
    report = json.loads(listed.stdout)
    assert set(report["installed"]) == {"whisper-large-v3", "xtts-v2", "piper-en_US-amy-medium"}
    assert report["engines"]["stt"]["model"] == "large-v3" and report["engines"]["stt"]["available"] is True


def test_verify_detects_a_flipped_byte_and_a_missing_file(hub, tmp_path):
    store = tmp_path / "store"
    run("provision", "whisper-large-v3", "--store", str(store), "--mirror", hub)
    model = store / "whisper/large-v3/model.bin"
    data = bytearray(model.read_bytes())
    data[100] ^= 0x01
    model.write_bytes(bytes(data))
    (store / "whisper/large-v3/tokenizer.json").unlink()
    result = CliRunner().invoke(main, ["models", "verify", "--store", str(store)])
    assert result.exit_code == 1
    assert "whisper/large-v3/model.bin: checksum" in result.stderr
    assert "whisper/large-v3/tokenizer.json: missing" in result.stderr


def test_gated_sets_need_a_token(hub, tmp_path):
    store = tmp_path / "store"
    with pytest.raises(Exception, match="401"):
        run("provision", "pyannote-community-1", "--store", str(store), "--mirror", hub)
    assert not list(store.rglob("*.bin"))  # nothing half-written is left behind
    result = run("provision", "pyannote-community-1", "--store", str(store), "--mirror", hub, env={"HF_TOKEN": TOKEN})
    assert result.exit_code == 0 and (store / "pyannote/speaker-diarization-community-1/plda/plda.npz").is_file()


def test_unknown_set_and_non_http_mirror_are_refused(tmp_path):
    assert run("provision", "nope", "--store", str(tmp_path)).exit_code != 0
    with pytest.raises(ValueError, match="http"):
        run("provision", "xtts-v2", "--store", str(tmp_path), "--mirror", "file:///etc")
