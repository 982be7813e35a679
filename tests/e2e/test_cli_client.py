"""The command-line client (`voice-api transcribe | say | voices | tasks`) as a user runs it: a real
`voice-api serve` with authentication on, a key from `voice-api keys create`, the client as a process
on a pipe and under a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import srt
import webvtt

from tests.conftest import wait_for
from tests.support.audio import sample_wav, tiled_sample
from tests.support.processes import VOICE_API, ServeProcess, free_port, project_env, user_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BAR = "━"  # what rich draws its progress bars with


@dataclass
class Server:
    url: str
    key: str
    process: ServeProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    root = tmp_path_factory.mktemp("cli-server")
    env = project_env(VOICE_API_STORAGE__DATA_DIR=str(root / "data"))
    created = subprocess.run(
        [*VOICE_API, "keys", "create", "--owner", "cli-user", "--plan", "pro"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    key = re.search(r"API key: (va_\S+)", created.stdout).group(1)
    process = ServeProcess(env, root / "serve.log")
    try:
        process.wait_healthy()
        yield Server(process.base_url, key, process)
    finally:
        process.stop()


def client_env(server_url: str, key: str | None, tmp_path: Path) -> dict[str, str]:
    # A config file path of its own, so the machine's ~/.config/voice-api/client.toml plays no part.
    env = user_env(VOICE_API_URL=server_url, VOICE_API_CLIENT_CONFIG=str(tmp_path / "client.toml"))
    if key is not None:
        env["VOICE_API_KEY"] = key
    return env


def cli(server: Server, tmp_path: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess:
    """The client on pipes, as a script runs it."""
    env = client_env(server.url, key or server.key, tmp_path)
    return subprocess.run([*VOICE_API, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def cli_on_a_terminal(env: dict[str, str], *args: str, timeout: float = 300) -> tuple[int, str]:
    """The client with stdin, stdout and stderr on a pseudo-terminal; its exit code and all it wrote."""
    leader, follower = pty.openpty()
    env = {**env, "TERM": "xterm-256color", "COLUMNS": "120"}
    proc = subprocess.Popen([*VOICE_API, *args], env=env, cwd=ROOT, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(leader)
    return proc.wait(30), output.decode("utf-8", errors="replace")


def audio_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate


def test_transcribes_a_real_recording_to_srt(server, tmp_path):
    out = tmp_path / "sample.srt"
    done = cli(server, tmp_path, "transcribe", str(sample_wav()), "-o", str(out))
    assert done.returncode == 0, done.stderr
    subtitles = list(srt.parse(out.read_text()))
    assert len(subtitles) >= 3
    text = " ".join(cue.content for cue in subtitles).lower()
    assert "chicago" in text and "new jersey" in text
    assert all(cue.end > cue.start for cue in subtitles)
    assert any(cue.content.startswith("[SPEAKER_01]") for cue in subtitles)  # diarized by default
    # on a pipe: the file and nothing else, no progress bars
    assert done.stdout == ""
    assert BAR not in done.stderr


def test_two_files_at_once_with_json_output(server, tmp_path):
    inputs = [tmp_path / "first.wav", tmp_path / "second.wav"]
    for path in inputs:
        shutil.copy(sample_wav(), path)
    out = tmp_path / "subtitles"
    done = cli(
        server,
        tmp_path,
        "transcribe",
        *map(str, inputs),
        "--jobs",
        "2",
        "--format",
        "vtt",
        "--no-diarize",
        "-o",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [report["input"] for report in reports] == ["first.wav", "second.wav"]
    assert all(report["status"] == "succeeded" and report["error"] is None for report in reports)
    assert len({report["task_id"] for report in reports}) == 2
    for report, name in zip(reports, ["first", "second"], strict=True):
        assert report["output"] == str(out / f"{name}.vtt")
        captions = webvtt.read(report["output"])
        assert "chicago" in " ".join(caption.text for caption in captions).lower()


def test_synthesises_a_script_to_mp3(server, tmp_path):
    script = tmp_path / "script.txt"
    script.write_text("Good morning. <|speaker:0|> [excited] This is the command line client speaking!\n")
    out = tmp_path / "speech.mp3"
    done = cli(server, tmp_path, "say", "--file", str(script), "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "succeeded" and report["output"] == str(out)
    assert report["result"]["format"] == "mp3"
    assert audio_duration(out) == pytest.approx(report["result"]["duration"], abs=0.2)
    assert audio_duration(out) > 0.5
    assert BAR not in done.stderr


def test_voices_lists_the_built_in_voice(server, tmp_path):
    done = cli(server, tmp_path, "voices", "--search", "joe", "--json")
    assert done.returncode == 0, done.stderr
    assert "en_US-joe-medium" in [item["id"] for item in json.loads(done.stdout)["items"]]
    table = cli(server, tmp_path, "voices")
    header, *rows = table.stdout.splitlines()
    assert header.split("\t")[:2] == ["ID", "TITLE"] and any(row.startswith("en_US-joe-medium\t") for row in rows)


def test_a_wrong_key_exits_with_the_auth_code_and_says_so(server, tmp_path):
    done = cli(server, tmp_path, "transcribe", str(sample_wav()), "--json", key="va_not-a-real-key")
    assert done.returncode == 3
    assert "refused the API key from VOICE_API_KEY" in done.stderr and "invalid_api_key" in done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "invalid_api_key"
    # no key at all: where to put one
    missing = subprocess.run(
        [*VOICE_API, "voices"], env=client_env(server.url, None, tmp_path), cwd=ROOT, capture_output=True, text=True
    )
    assert missing.returncode == 3 and "VOICE_API_KEY" in missing.stderr and "--key" in missing.stderr


def test_an_unreachable_server_exits_4(tmp_path):
    env = client_env(f"http://127.0.0.1:{free_port()}", "va_whatever", tmp_path)
    done = subprocess.run([*VOICE_API, "voices"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 4 and "cannot reach" in done.stderr


def test_progress_bars_appear_on_a_terminal(server, tmp_path):
    out = tmp_path / "hello.wav"
    code, screen = cli_on_a_terminal(
        client_env(server.url, server.key, tmp_path), "say", "Hello there.", "-o", str(out)
    )
    assert code == 0, screen
    assert BAR in screen and "done" in screen
    assert audio_duration(out) > 0


def test_tasks_lists_or_says_the_server_cannot(server, tmp_path):
    """GET /v1/tasks is being added on main; an older server gets a clear message and exit code 5."""
    done = cli(server, tmp_path, "tasks", "--json")
    if done.returncode == 0:
        listing = json.loads(done.stdout)
        assert isinstance(listing["items"], list) and all("task_id" in item for item in listing["items"])
    else:
        assert done.returncode == 5, done.stderr
        assert "does not list tasks" in done.stderr
        assert json.loads(done.stdout)["error"]["code"] == "tasks_unsupported"


def _sigint_as_at_a_terminal():
    # A suite started in the background (`pytest … &` in a script, nohup) inherits SIGINT ignored, and
    # Python then never installs its Ctrl-C handler: the CLI would not see the signal at all and the
    # test would fail for a reason of how it was launched. A user's terminal delivers SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_cancels_the_running_task(server, tmp_path):
    long_file = tmp_path / "long.wav"
    # Long enough that it is still running when Ctrl-C arrives on an idle machine too (90 s of audio
    # took ~5 s there and once finished first); cancellation stops it within a second anyway.
    long_file.write_bytes(tiled_sample(600.0))
    env = client_env(server.url, server.key, tmp_path)
    args = [*VOICE_API, "transcribe", str(long_file), "--no-diarize", "--verbose", "--json"]
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_as_at_a_terminal,
    )
    try:
        first_line = proc.stderr.readline()  # "long.wav: stt task <id>"
        task_id = re.search(r"stt task ([0-9a-f]{32})", first_line).group(1)
        auth = {"Authorization": f"Bearer {server.key}"}

        def running():
            body = httpx.get(f"{server.url}/v1/stt/{task_id}", headers=auth, timeout=5).json()
            return body if body["status"] == "running" else None

        wait_for(running, timeout=120, interval=0.2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = first_line + stderr
    assert proc.returncode == 130, stderr
    report = json.loads(stdout)
    assert report["status"] == "interrupted" and report["task_id"] == task_id
    cancel = report["cancel"]
    if cancel["http_status"] == 200:  # a server with cancellation
        assert cancel["canceled"] is True
        status = httpx.get(f"{server.url}/v1/stt/{task_id}", headers=auth, timeout=5).json()
        assert status["status"] == "canceled"
    else:  # an older server: reported, not fatal
        assert cancel["http_status"] in (404, 405) and cancel["canceled"] is False
        assert f"task {task_id} was not cancelled" in stderr


def test_clone_prints_the_new_voice_and_voices_lists_it(server, tmp_path):
    import numpy as np

    from tests.support.audio import espeak, silence, wav_bytes

    sentences = [
        "The harbour was quiet in the early morning, and the gulls circled above the fishing boats.",
        "She wrote three letters before breakfast, then walked to the post office by the old bridge.",
        "Every winter the village held a market where farmers sold cheese, honey and warm bread.",
    ]
    reference = tmp_path / "narrator.wav"
    speech = [np.concatenate([espeak(s, "en-us+f3", pitch=80), silence(0.4)]) for s in sentences]
    reference.write_bytes(wav_bytes(np.concatenate(speech)))
    done = cli(server, tmp_path, "clone", str(reference), "--title", "Harbour Narrator", "--tags", "calm,story")
    assert done.returncode == 0, done.stderr
    model_id = done.stdout.strip()
    mine = json.loads(cli(server, tmp_path, "voices", "--mine", "--json").stdout)
    [voice] = [item for item in mine["items"] if item["id"] == model_id]
    assert voice["title"] == "Harbour Narrator" and voice["tags"] == ["calm", "story"]
    assert voice["visibility"] == "private"
