"""The command-line client's logic with a scripted HTTP transport: config precedence, exit codes, the job
runner (slots, failures, Ctrl-C cancellation on servers with and without DELETE), and the routes it
assumes for task listing and cancellation. tests/e2e/test_cli_client.py runs it against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from server.client import commands, listings, session
from server.client.api import Stopped, VoiceApiClient
from server.client.config import ClientConfig, config_path, resolve
from server.client.display import Display
from server.client.errors import ApiError, ExitCode, UsageProblem, worst
from server.client.jobs import Runner
from server.client.kinds import SpeechJob, TranscribeJob

CONFIG = ClientConfig("http://voice.test", "va_key", "--key")


def task(task_id: str, status: str, progress: int = 0, **extra) -> dict:
    return {"task_id": task_id, "status": status, "progress": progress, "error": None, "result": None, **extra}


def error(status: int, code: str, message: str = "no") -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


class Server:
    """A scripted server: each route answers from a queue of responses (the last one repeats)."""

    def __init__(self, routes: dict[str, list]) -> None:
        self.routes = routes
        self.calls: list[str] = []
        self.bodies: list[bytes] = []
        self.idempotency_keys: list[str | None] = []
        self.on_call = lambda call: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.read())  # consume an upload as a real server does
        self.idempotency_keys.append(request.headers.get("idempotency-key"))
        call = f"{request.method} {request.url.path}"
        self.calls.append(call + (f"?{request.url.query.decode()}" if request.url.query else ""))
        self.on_call(call)
        answers = self.routes.get(call)
        if not answers:
            return error(404, "not_found", f"no route {call}")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)


def runner_for(server: Server) -> Runner:
    client = VoiceApiClient(CONFIG, transport=httpx.MockTransport(server))
    return Runner(
        client, Display(show_progress=False), concurrency=2, poll_interval_s=0.001, poll_max_s=0.001, slot_wait_s=0.001
    )


@pytest.fixture
def audio(tmp_path) -> Path:
    path = tmp_path / "talk.wav"
    path.write_bytes(b"RIFF" + b"\0" * 200_000)
    return path


# configuration --------------------------------------------------------------------------------------


def test_flags_win_over_environment_over_config_file(tmp_path):
    path = tmp_path / "client.toml"
    path.write_text('server = "http://from-file:1"\nkey = "va_file"\n')
    env = {"VOICE_API_URL": "http://from-env:2", "VOICE_API_KEY": "va_env"}
    assert resolve("http://flag:3/", "va_flag", env, path) == ClientConfig("http://flag:3", "va_flag", "--key")
    assert resolve(None, None, env, path) == ClientConfig("http://from-env:2", "va_env", "VOICE_API_KEY")
    assert resolve(None, None, {}, path) == ClientConfig("http://from-file:1", "va_file", str(path))
    assert resolve(None, None, {}, tmp_path / "absent.toml") == ClientConfig("http://127.0.0.1:8000", None, None)


def test_config_file_mistakes_are_usage_errors(tmp_path):
    path = tmp_path / "client.toml"
    path.write_text('url = "http://typo"\n')
    with pytest.raises(UsageProblem, match="unknown setting.*url"):
        resolve(None, None, {}, path)
    path.write_text("server = \n")
    with pytest.raises(UsageProblem, match="not valid TOML"):
        resolve(None, None, {}, path)
    with pytest.raises(UsageProblem, match="http:// or https://"):
        resolve("voice.test", None, {}, tmp_path / "absent.toml")


def test_config_path_follows_xdg_and_the_override():
    assert config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/voice-api/client.toml")
    assert config_path({"VOICE_API_CLIENT_CONFIG": "/etc/vc.toml", "XDG_CONFIG_HOME": "/x"}) == Path("/etc/vc.toml")


# exit codes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, ExitCode.AUTH), (403, ExitCode.AUTH), (413, ExitCode.REFUSED), (429, ExitCode.REFUSED)]
    + [(500, ExitCode.UNREACHABLE), (503, ExitCode.UNREACHABLE)],
)
def test_http_errors_map_to_exit_codes(status, code):
    assert ApiError.from_response(error(status, "x")).exit_code == code


def test_an_error_without_the_error_model_still_reads():
    failure = ApiError.from_response(httpx.Response(502, text="Bad Gateway from the proxy"))
    assert (failure.code, failure.message, failure.exit_code) == ("http_502", "Bad Gateway from the proxy", 4)
    limited = ApiError.from_response(
        httpx.Response(
            429, json={"error": {"code": "rate_limited", "message": "slow down"}}, headers={"Retry-After": "7"}
        )
    )
    assert limited.message == "slow down (retry after 7 s)"


def test_one_exit_code_for_several_inputs():
    assert worst([0, 0]) == 0
    assert worst([0, 5, 1]) == 5
    assert worst([1, 130, 0]) == 130


# the job runner -------------------------------------------------------------------------------------


def test_a_transcription_uploads_follows_and_fetches(audio, tmp_path):
    server = Server(
        {
            "POST /v1/stt": [httpx.Response(202, json=task("t1", "queued"))],
            "GET /v1/stt/t1": [task("t1", "running", 40), task("t1", "succeeded", 100)],
            "GET /v1/stt/t1/result": [httpx.Response(200, text="1\n00:00:00,000 --> 00:00:01,000\nHi\n")],
        }
    )
    out = tmp_path / "talk.srt"
    [outcome] = runner_for(server).run([TranscribeJob(audio, {"diarize": "false"}, "srt", out)])
    assert (outcome.status, outcome.exit_code, outcome.output) == ("succeeded", 0, str(out))
    assert out.read_text().endswith("Hi\n") and not list(tmp_path.glob(".*part"))
    assert server.calls[-1] == "GET /v1/stt/t1/result?format=srt"


def test_a_full_plan_makes_the_next_input_wait_for_a_slot(audio):
    busy = error(429, "too_many_tasks", "the basic plan allows 1 task(s) at once")
    server = Server(
        {
            "POST /v1/stt": [busy, busy, httpx.Response(202, json=task("t2", "queued"))],
            "GET /v1/stt/t2": [task("t2", "succeeded", 100)],
            "GET /v1/stt/t2/result": [httpx.Response(200, text="hello")],
        }
    )
    [outcome] = runner_for(server).run([TranscribeJob(audio, {}, "txt", None)])
    assert outcome.status == "succeeded" and outcome.payload == "hello"
    assert server.calls.count("POST /v1/stt") == 3


def test_a_dropped_submission_is_retried_under_one_idempotency_key(audio):
    server = Server(
        {
            "POST /v1/stt": [error(503, "queue_unavailable"), httpx.Response(202, json=task("t9", "queued"))],
            "GET /v1/stt/t9": [task("t9", "succeeded", 100)],
            "GET /v1/stt/t9/result": [httpx.Response(200, text="retried")],
        }
    )
    first, second = TranscribeJob(audio, {}, "txt", None), TranscribeJob(audio, {}, "txt", None)
    [outcome] = runner_for(server).run([first])
    assert outcome.status == "succeeded"
    submitted = [key for call, key in zip(server.calls, server.idempotency_keys, strict=True) if call == "POST /v1/stt"]
    assert len(submitted) == 2 and submitted[0] == submitted[1] and submitted[0].startswith("voice-api-cli-")
    # another input, another key; and a server that keeps failing ends the input with exit code 4
    down = Server({"POST /v1/stt": [error(503, "queue_unavailable")]})
    [gave_up] = runner_for(down).run([second])
    assert (gave_up.status, gave_up.exit_code) == ("error", ExitCode.UNREACHABLE)
    assert len(down.calls) == 3 and len(set(down.idempotency_keys)) == 1 and down.idempotency_keys[0] != submitted[0]


def test_a_failed_task_exits_1_with_its_error(audio):
    failed = task("t3", "failed", error={"code": "unsupported_audio", "message": "cannot decode"})
    server = Server({"POST /v1/stt": [httpx.Response(202, json=task("t3", "queued"))], "GET /v1/stt/t3": [failed]})
    [outcome] = runner_for(server).run([TranscribeJob(audio, {}, "txt", None)])
    assert (outcome.status, outcome.exit_code) == ("failed", ExitCode.TASK_FAILED)
    assert outcome.error == {"code": "unsupported_audio", "message": "cannot decode"}


def test_a_refused_upload_is_not_a_task_failure(audio):
    server = Server({"POST /v1/stt": [error(413, "upload_too_large")]})
    [outcome] = runner_for(server).run([TranscribeJob(audio, {}, "txt", None)])
    assert (outcome.status, outcome.exit_code, outcome.task_id) == ("error", ExitCode.REFUSED, None)


@pytest.mark.parametrize(
    ("answer", "canceled"),
    [
        (httpx.Response(200, json=task("t4", "canceled")), True),  # a server with cancellation
        (httpx.Response(405, json={"error": {"code": "method_not_allowed", "message": "Method Not Allowed"}}), False),
        (error(404, "task_not_found"), False),
    ],
)
def test_interrupting_cancels_the_task_on_the_server(answer, canceled):
    server = Server(
        {
            "POST /v1/tts": [httpx.Response(202, json=task("t4", "queued"))],
            "GET /v1/tts/t4": [task("t4", "running", 10)],
            "DELETE /v1/tts/t4": [answer],
        }
    )
    runner = runner_for(server)
    # Ctrl-C arrives while the task runs (the runner's main loop sets this event on KeyboardInterrupt)
    server.on_call = lambda call: runner._stop.set() if call == "GET /v1/tts/t4" else None
    [outcome] = runner.run([SpeechJob({"text": "hi"}, None)])
    assert (outcome.status, outcome.exit_code) == ("interrupted", ExitCode.INTERRUPTED)
    assert outcome.cancel["canceled"] is canceled and outcome.cancel["http_status"] == answer.status_code
    assert server.calls[-1] == "DELETE /v1/tts/t4"


def test_interrupting_a_download_keeps_the_finished_task(tmp_path):
    server = Server(
        {
            "POST /v1/tts": [httpx.Response(202, json=task("t8", "queued"))],
            "GET /v1/tts/t8": [task("t8", "succeeded", 100)],
            "GET /v1/tts/t8/audio": [httpx.Response(200, content=b"x" * 100_000)],
        }
    )
    runner = runner_for(server)
    server.on_call = lambda call: runner._stop.set() if call.endswith("/audio") else None
    out = tmp_path / "speech.mp3"
    [outcome] = runner.run([SpeechJob({"text": "hi"}, out)])
    assert outcome.status == "interrupted" and outcome.cancel is None
    assert not any(call.startswith("DELETE") for call in server.calls)
    assert not out.exists() and not list(tmp_path.iterdir())  # no half-written file either


def test_inputs_not_started_when_interrupted_are_not_submitted(audio):
    server = Server({"POST /v1/stt": [httpx.Response(202, json=task("t5", "queued"))]})
    runner = runner_for(server)
    runner._stop.set()
    [outcome] = runner.run([TranscribeJob(audio, {}, "txt", None)])
    assert outcome.status == "interrupted" and outcome.cancel is None
    assert server.calls == []


def test_interrupting_an_upload_abandons_it_midway(audio):
    server = Server({"POST /v1/stt": [httpx.Response(202, json=task("t7", "queued"))]})
    client = VoiceApiClient(CONFIG, transport=httpx.MockTransport(server))
    sent: list[int] = []
    with pytest.raises(Stopped):
        client.submit_upload("stt", audio, {}, sent.append, stopped=lambda: len(sent) >= 1)
    assert 0 < sum(sent) < audio.stat().st_size


def test_a_server_restart_while_polling_is_waited_out(audio):
    server = Server(
        {
            "POST /v1/stt": [httpx.Response(202, json=task("t6", "queued"))],
            "GET /v1/stt/t6": [error(503, "queue_unavailable"), task("t6", "succeeded", 100)],
            "GET /v1/stt/t6/result": [httpx.Response(200, text="back")],
        }
    )
    runner = runner_for(server)
    runner.reconnect_wait_s = 0.001
    [outcome] = runner.run([TranscribeJob(audio, {}, "txt", None)])
    assert outcome.status == "succeeded" and outcome.payload == "back"


# voice-api tasks: the routes it assumes -------------------------------------------------------------


@pytest.fixture
def scripted(monkeypatch):
    """Run a command against a scripted server."""

    def install(routes: dict[str, list]) -> Server:
        server = Server(routes)
        transport = httpx.MockTransport(server)
        monkeypatch.setattr(session, "VoiceApiClient", lambda config: VoiceApiClient(config, transport=transport))
        return server

    return install


def invoke(*args: str, command=listings.tasks):
    env = {"VOICE_API_URL": "http://voice.test", "VOICE_API_KEY": "va_key", "VOICE_API_CLIENT_CONFIG": "/nonexistent"}
    return CliRunner().invoke(command, list(args), env=env)


def test_tasks_follows_cursors_with_all(scripted):
    first = {"items": [task("a", "succeeded", 100, kind="stt")], "next_cursor": "c2"}
    second = {"items": [task("b", "failed", 30, kind="tts")], "next_cursor": None}
    server = scripted({"GET /v1/tasks": [first, second]})
    result = invoke("--all", "--kind", "stt", "--page-size", "1", "--json")
    assert result.exit_code == 0, result.output
    assert [item["task_id"] for item in json.loads(result.output)["items"]] == ["a", "b"]
    assert server.calls == ["GET /v1/tasks?page_size=1&kind=stt", "GET /v1/tasks?page_size=1&kind=stt&cursor=c2"]


def test_tasks_on_a_server_without_listing_says_so(scripted):
    scripted({})  # every route answers 404, as a server from before GET /v1/tasks does
    result = invoke()
    assert result.exit_code == ExitCode.REFUSED
    assert "does not list tasks" in result.output


def test_say_sends_voices_format_and_callback_url(scripted, tmp_path):
    server = scripted(
        {
            "POST /v1/tts": [httpx.Response(202, json=task("s1", "queued"))],
            "GET /v1/tts/s1": [task("s1", "succeeded", 100, result={"format": "wav", "duration": 1.0})],
            "GET /v1/tts/s1/audio": [httpx.Response(200, content=b"RIFF-audio")],
        }
    )
    out = tmp_path / "hello.wav"
    args = ["Hello", "--voice", "a", "--voice", "b", "-o", str(out), "--callback-url", "https://hooks.test/x"]
    result = invoke(*args, "--json", command=commands.say)
    assert result.exit_code == 0, result.output
    assert json.loads(server.bodies[0]) == {
        "text": "Hello",
        "model_ids": ["a", "b"],
        "format": "wav",  # from the extension of -o
        "callback_url": "https://hooks.test/x",
    }
    assert out.read_bytes() == b"RIFF-audio" and json.loads(result.output)["output"] == str(out)


def test_transcribe_asks_for_known_speakers(scripted, tmp_path):
    server = scripted(
        {
            "POST /v1/stt": [httpx.Response(202, json=task("t1", "queued"))],
            "GET /v1/stt/t1": [task("t1", "succeeded", 100)],
            "GET /v1/stt/t1/result": [{"text": "Hello.", "segments": [], "speakers": []}],
        }
    )
    clip = tmp_path / "call.wav"
    clip.write_bytes(b"RIFF-not-really")
    result = invoke(str(clip), "--known", "all", command=commands.transcribe)
    assert result.exit_code == 0, result.output
    assert b'name="speakers"\r\n\r\nall\r\n' in server.bodies[0]
