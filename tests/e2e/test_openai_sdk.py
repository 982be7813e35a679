"""The official `openai` SDK against the real server process, embedded and distributed (real Redis,
a real `celery worker`), authentication on with keys made by the keys CLI.

One server (and worker) per mode for the whole module. The embedded server runs the default
English-only tiny.en, the distributed worker the multilingual `base` (translation needs it).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

openai = pytest.importorskip("openai", reason="the openai SDK is a dev dependency")

from tests.conftest import REDIS_URL  # noqa: E402
from tests.support.audio import encode, espeak, sample_clip, sample_wav, wav_bytes  # noqa: E402
from tests.support.processes import ServeProcess, WorkerProcess, project_env  # noqa: E402
from tests.support.wer import word_error_rate as wer  # noqa: E402

pytestmark = pytest.mark.slow

SENTENCE = "The quick brown fox jumps over the lazy dog."
# Long enough that the first sentence is out long before the last is synthesised.
PARAGRAPH = " ".join(
    f"This is sentence number {n} of a paragraph that is spoken one sentence at a time." for n in range(1, 11)
)
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
# The basic plan, made small: three counted requests an hour and a few spoken characters a month.
PLANS = {"basic": {"requests_per_hour": 3, "tts_characters_per_month": 30, "stt_minutes_per_month": 1000}}


class Server:
    def __init__(self, mode: str, base_url: str, key: str, basic_key: str, processes: list) -> None:
        self.mode, self.base_url, self.key, self.basic_key, self.processes = mode, base_url, key, basic_key, processes

    def client(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=key or self.key, max_retries=0, timeout=300)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.key}"}, timeout=300)


def make_key(env: dict[str, str], owner: str, plan: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "keys", "create", "--owner", owner, "--plan", plan],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    return re.search(r"API key: (\S+)", out).group(1)


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    mode = request.param
    tmp = tmp_path_factory.mktemp(f"openai-{mode}")
    settings = {
        "VOICE_API_STORAGE__DATA_DIR": str(tmp / "data"),
        "VOICE_API_AUTH__ENABLED": "true",
        "VOICE_API_AUTH__PLANS": json.dumps(PLANS),
    }
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    if mode == "distributed":
        settings |= {"VOICE_API_REDIS_URL": REDIS_URL, "VOICE_API_REDIS_PREFIX": prefix, "VOICE_API_STT__MODEL": "base"}
    env = project_env(**settings)
    key, basic_key = make_key(env, "sdk", "pro"), make_key(env, "small", "basic")
    processes = [ServeProcess(env, tmp / "serve.log")]
    if mode == "distributed":
        processes.append(WorkerProcess(env, tmp / "worker.log", queues="stt,tts"))
    try:
        processes[0].wait_healthy()
        if mode == "distributed":
            wait_for_worker(processes[0].base_url)
        yield Server(mode, processes[0].base_url, key, basic_key, processes)
    finally:
        for process in reversed(processes):
            process.stop()
        if mode == "distributed":
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for pattern in (f"{prefix}*", f"_kombu.binding*.{prefix}*"):
                for found in client.scan_iter(match=pattern):
                    client.delete(found)


def wait_for_worker(base_url: str) -> None:
    from tests.conftest import wait_for

    def ready():
        workers = httpx.get(f"{base_url}/v1/health", timeout=5).json().get("workers") or []
        return any("tts" in w["queues"] for w in workers)

    wait_for(ready, timeout=90)


def decoded(data: bytes, fmt: str, tmp_path: Path) -> np.ndarray:
    """16 kHz mono float32, whatever the format (pcm: OpenAI's raw 24 kHz s16le)."""
    from engines.audio_io import decode_mono

    if fmt == "pcm":
        pcm = np.frombuffer(data, "<i2").astype(np.float32) / 32768
        data, fmt = wav_bytes(pcm, 24_000), "wav"
    path = tmp_path / f"speech.{fmt}"
    path.write_bytes(data)
    return decode_mono(path)


def transcribe_text(server: Server, audio: np.ndarray) -> str:
    return server.client().audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", wav_bytes(audio)), response_format="text"
    )


# --- speech -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_speech_in_every_format_decodes_and_transcribes_back(server, fmt, tmp_path):
    data = server.client().audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format=fmt)
    audio = decoded(data.content, fmt, tmp_path)
    assert 1.5 < audio.size / 16_000 < 8
    assert wer(SENTENCE, transcribe_text(server, audio)) <= 0.2


def test_streaming_response_gets_audio_while_the_task_still_runs(server):
    client = server.client()
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="alloy", input=PARAGRAPH, response_format="mp3", instructions="speak calmly"
    ) as response:
        task_id = response.headers["x-task-id"]
        assert response.headers["x-instructions-applied"] == "calm"
        chunks = response.iter_bytes()
        first = next(chunks)
        with server.http() as http:
            at_first_chunk = http.get(f"/v1/tts/{task_id}").json()["status"]
        rest = b"".join(chunks)
    assert first and at_first_chunk in ("queued", "running")
    with server.http() as http:
        status = http.get(f"/v1/tts/{task_id}").json()
        assert status["status"] == "succeeded" and status["result"]["format"] == "mp3"  # an ordinary task
        stored = http.get(f"/v1/tts/{task_id}/audio").content
    # The streamed MP3 lacks only the file's Xing header: same frames, within a frame of length.
    assert abs(len(first + rest) - len(stored)) < 2048


def test_a_client_that_leaves_mid_stream_cancels_nothing(server):
    body = {"model": "tts-1", "voice": "alloy", "input": PARAGRAPH, "response_format": "opus"}
    with server.http() as http:
        with http.stream("POST", "/v1/audio/speech", json=body) as response:
            task_id = response.headers["x-task-id"]
            next(response.iter_bytes())
        # the connection is gone; the task runs on and keeps its file
        from tests.support.processes import poll_finished

        assert poll_finished(http, f"/v1/tts/{task_id}")["result"]["format"] == "opus"
        assert http.get(f"/v1/tts/{task_id}/audio").content[:4] == b"OggS"


def test_sse_deltas_concatenate_to_the_same_audio(server):
    client = server.client()
    plain = client.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm").content
    with httpx.Client(timeout=300) as http:
        response = http.post(
            f"{server.base_url}/v1/audio/speech",
            headers={"Authorization": f"Bearer {server.key}"},
            json={
                "model": "tts-1",
                "voice": "alloy",
                "input": SENTENCE,
                "response_format": "pcm",
                "stream_format": "sse",
            },
        )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done" and events[-1]["usage"]["input_tokens"] == len(SENTENCE)
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert audio == plain  # deterministic Piper: the same request gives the same bytes


def test_a_running_task_audio_route_streams_to_the_end(server):
    with server.http() as http:
        task = http.post("/v1/tts", json={"text": PARAGRAPH, "format": "wav"}).json()
        with http.stream("GET", f"/v1/tts/{task['task_id']}/audio") as response:
            assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
            streamed = response.read()
        stored = http.get(f"/v1/tts/{task['task_id']}/audio").content
    # Streaming header (unknown sizes), then the same samples as the stored file.
    assert streamed[:4] == b"RIFF" and streamed[4:8] == b"\xff\xff\xff\xff"
    samples_at = stored.index(b"data") + 8  # the file's header also has a LIST chunk (the encoder's name)
    assert streamed[44:] == stored[samples_at:]


# --- transcription -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip() -> bytes:
    audio, rate = sample_clip(8.0, offset=6.0)
    return encode(audio, rate, "mp3")


def stt_text(server: Server, data: bytes) -> str:
    with server.http() as http:
        task = http.post("/v1/stt", files={"file": ("clip.mp3", data)}, data={"diarize": "false"}).json()
        from tests.support.processes import poll_finished

        poll_finished(http, f"/v1/stt/{task['task_id']}")
        return http.get(f"/v1/stt/{task['task_id']}/result", params={"format": "text"}).text


def test_transcriptions_in_every_response_format(server, clip):
    client = server.client()
    file = ("clip.mp3", clip)
    as_json = client.audio.transcriptions.create(model="whisper-1", file=file)
    assert as_json.text == stt_text(server, clip)  # the same transcript as /v1/stt
    assert client.audio.transcriptions.create(model="whisper-1", file=file, response_format="text") == as_json.text
    srt = client.audio.transcriptions.create(model="whisper-1", file=file, response_format="srt")
    assert srt.startswith("1\n00:00:") and " --> " in srt
    vtt = client.audio.transcriptions.create(model="whisper-1", file=file, response_format="vtt")
    assert vtt.startswith("WEBVTT")
    verbose = client.audio.transcriptions.create(
        model="whisper-1", file=file, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert verbose.language == "english" and verbose.text == as_json.text and 7.5 < verbose.duration < 8.5
    assert verbose.segments and {"id", "seek", "tokens", "avg_logprob", "no_speech_prob"} <= set(
        verbose.segments[0].model_dump()
    )
    words = verbose.words
    assert len(words) >= 5 and all(w.start <= w.end for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_diarized_json_labels_the_two_speakers(server):
    data = sample_wav().read_bytes()
    result = server.client().audio.transcriptions.create(
        model="gpt-4o-transcribe-diarize", file=("sample.wav", data), response_format="diarized_json"
    )
    body = result.model_dump()
    speakers = {s["speaker"] for s in body["segments"]}
    assert speakers == {"A", "B"} and body["text"] and 29 < body["duration"] < 31


def test_diarized_json_names_known_speakers_from_their_references(server):
    import base64

    from tests.support.audio import single_speaker_spans

    def data_url(speaker: str) -> str:
        return "data:audio/wav;base64," + base64.b64encode(wav_bytes(single_speaker_spans(speaker))).decode()

    result = server.client().audio.transcriptions.create(
        model="gpt-4o-transcribe-diarize",
        file=("sample.wav", sample_wav().read_bytes()),
        response_format="diarized_json",
        known_speaker_names=["agent", "customer"],
        known_speaker_references=[data_url("speaker90"), data_url("speaker91")],
    )
    assert {s["speaker"] for s in result.model_dump()["segments"]} == {"agent", "customer"}


def test_streamed_deltas_concatenate_to_the_final_text(server, clip):
    stream = server.client().audio.transcriptions.create(model="whisper-1", file=("clip.mp3", clip), stream=True)
    events = list(stream)
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    done = [e for e in events if e.type == "transcript.text.done"]
    assert len(deltas) >= 1 and len(done) == 1 and events[-1] is done[0]
    assert "".join(deltas) == done[0].text and done[0].text


def test_translation_needs_a_multilingual_model(server):
    german = espeak("Guten Morgen. Das Wetter ist heute sehr schön, und wir gehen in den Park.", voice="de")
    client = server.client()
    if server.mode == "embedded":  # tiny.en
        with pytest.raises(openai.BadRequestError) as caught:
            client.audio.translations.create(model="whisper-1", file=("de.wav", wav_bytes(german)))
        assert caught.value.code == "translation_unavailable" and "multilingual" in caught.value.message
        return
    english = client.audio.translations.create(model="whisper-1", file=("de.wav", wav_bytes(german))).text.lower()
    assert "weather" in english or "morning" in english, english


# --- errors and limits ---------------------------------------------------------------------------


def test_errors_raise_the_sdk_exception_classes(server):
    with pytest.raises(openai.AuthenticationError) as caught:
        server.client(key="vk_not-a-key").audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    assert caught.value.code == "invalid_api_key" and caught.value.body["type"] == "authentication_error"
    client = server.client()
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", speed=9.0)
    assert caught.value.body["param"] == "speed"
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-1", voice="no-such-voice", input="Hi.")
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(
            model="whisper-1", file=("x.wav", wav_bytes(np.zeros(1600))), response_format="xml"
        )
    assert caught.value.body["param"] == "response_format"


def test_quotas_and_rate_limits_count_these_routes(server):
    client = server.client(key=server.basic_key)
    client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.")  # 12 of 30 characters
    with pytest.raises(openai.RateLimitError) as caught:
        client.audio.speech.create(model="tts-1", voice="alloy", input="This sentence is too long for it.")
    assert caught.value.code == "quota_exceeded"
    client.audio.transcriptions.create(model="whisper-1", file=("s.wav", wav_bytes(np.zeros(16_000))))  # third
    with pytest.raises(openai.RateLimitError) as caught:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    assert caught.value.code == "rate_limited"
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {server.basic_key}"}) as http:
        usage = http.get("/v1/usage").json()
    assert usage["quotas"]["tts_characters"]["used"] == 12, usage
