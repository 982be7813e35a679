"""The OpenAI-compatible routes: time to the first audio byte, first transcript delta, overhead.

Runs what users run: a real `voice-api serve` with authentication on (a `pro` key from the keys CLI)
and default settings (stochastic Piper, tiny.en), embedded, and distributed with one `voice-api
worker` (real Redis). Each figure is the median of --repeats runs after one warm-up request (models
loaded, the voice's loudness calibrated):

- speech: a 1,000-character paragraph, mp3, POST /v1/audio/speech streamed: time from the request's
  start to the first audio byte and to the last; beside it today's path (POST /v1/tts, poll, GET the
  file) and the raw engine's first sentence (Piper in this process, no server).
- transcription of sample.wav (30 s): stream=true time to the first transcript.text.delta and to
  transcript.text.done; non-streaming json against the raw engine (decode + faster-whisper with the
  server's settings, in this process).

    .venv/bin/python -m scripts.bench_openai [--modes embedded,distributed] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from scripts.bench_lanes import make_key
from tests.support.audio import sample_wav
from tests.support.processes import ServeProcess, WorkerProcess, user_env

PARAGRAPH = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of salt "
    "and wind. Every evening, the keeper climbed the narrow spiral stairs to light the great lamp, "
    "counting each of the one hundred and twelve steps as his father had taught him. Ships passing in "
    "the night relied on its steady beam to guide them safely past the jagged rocks below. In winter, "
    "storms would batter the tower for days, and the keeper would listen to the waves crashing against "
    "the stones while he wrote in his journal by candlelight. He recorded the weather, the ships he "
    "saw, and the birds that sheltered on the gallery rail. Visitors rarely came, but when they did, he "
    "would show them the brass instruments, polished until they shone like gold. Some asked whether he "
    "felt lonely out there, so far from the village. He always smiled and said that the sea was the "
    "best company a man could ask for, and that the light needed him as much as he needed it, "
    "every single night of the long cold year."
)
FIRST_SENTENCE = PARAGRAPH.split(". ")[0] + "."
FIRST_CHUNK = FIRST_SENTENCE.split(", ")[0] + ","  # what /v1/audio/speech synthesises first (60 characters at most)


def speech_first_byte(client: httpx.Client) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    body = {"model": "tts-1", "voice": "alloy", "input": PARAGRAPH, "response_format": "mp3"}
    with client.stream("POST", "/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - started
    return first, time.perf_counter() - started


def whole_file(client: httpx.Client) -> float:
    started = time.perf_counter()
    task = client.post("/v1/tts", json={"text": PARAGRAPH, "format": "mp3"}).json()
    while client.get(f"/v1/tts/{task['task_id']}").json()["status"] not in ("succeeded", "failed"):
        time.sleep(0.02)
    client.get(f"/v1/tts/{task['task_id']}/audio").raise_for_status()
    return time.perf_counter() - started


def transcript_first_delta(client: httpx.Client, audio: bytes) -> tuple[float, float]:
    started, first = time.perf_counter(), None
    files = {"file": ("sample.wav", audio)}
    with client.stream(
        "POST", "/v1/audio/transcriptions", files=files, data={"model": "whisper-1", "stream": "true"}
    ) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data: ") and first is None and json.loads(line[6:])["type"] == "transcript.text.delta":
                first = time.perf_counter() - started
    return first, time.perf_counter() - started


def transcription(client: httpx.Client, audio: bytes) -> float:
    started = time.perf_counter()
    client.post(
        "/v1/audio/transcriptions", files={"file": ("sample.wav", audio)}, data={"model": "whisper-1"}
    ).raise_for_status()
    return time.perf_counter() - started


def raw_engines(repeats: int) -> dict:
    """The engines alone in this process, with the server's default settings."""
    from engines.audio_io import decode_mono
    from engines.model_cache import ModelCache
    from engines.tts.piper_engine import PiperSynthesizer
    from engines.tts.types import SynthesisRequest
    from server.settings import Settings
    from server.worker.engines import build_faster_whisper

    settings = Settings()
    piper = PiperSynthesizer()

    def synthesis(text: str) -> float:
        request = SynthesisRequest(text=text, voice_id=settings.tts.default_voice)
        started = time.perf_counter()
        piper.synthesize(request)
        return time.perf_counter() - started

    synthesis(FIRST_SENTENCE)
    sentence = [synthesis(FIRST_SENTENCE) for _ in range(repeats)]
    chunk = [synthesis(FIRST_CHUNK) for _ in range(repeats)]
    stt = build_faster_whisper(settings, ModelCache())
    from engines.types import TranscriptionRequest

    def transcribe() -> float:
        started = time.perf_counter()
        stt.transcribe(TranscriptionRequest(audio=decode_mono(sample_wav())))
        return time.perf_counter() - started

    transcribe()
    return {
        "first_sentence_s": statistics.median(sentence),
        "first_chunk_s": statistics.median(chunk),
        "stt_s": statistics.median(transcribe() for _ in range(repeats)),
    }


def run_mode(mode: str, repeats: int) -> dict:
    audio = sample_wav().read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        settings = {"VOICE_API_STORAGE__DATA_DIR": str(Path(tmp) / "data")}
        if mode == "distributed":
            settings |= {"VOICE_API_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")}
            settings |= {"VOICE_API_REDIS_PREFIX": f"bench-openai-{os.getpid()}:"}
        env = user_env(**settings)
        key = make_key(env)
        server, worker = ServeProcess(env, Path(tmp) / "serve.log"), None
        try:
            server.wait_healthy()
            if mode == "distributed":
                worker = WorkerProcess(env, Path(tmp) / "worker.log", queues="stt,tts")
                deadline = time.monotonic() + 120
                while not httpx.get(f"{server.base_url}/v1/health").json()["workers"]:
                    if time.monotonic() > deadline:
                        raise TimeoutError("no worker announced itself")
                    time.sleep(0.5)
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=600) as client:
                speech_first_byte(client), transcription(client, audio)  # warm-up: models, calibration
                speech = [speech_first_byte(client) for _ in range(repeats)]
                files = [whole_file(client) for _ in range(repeats)]
                deltas = [transcript_first_delta(client, audio) for _ in range(repeats)]
                plain = [transcription(client, audio) for _ in range(repeats)]
            return {
                "first_byte_s": statistics.median(s[0] for s in speech),
                "last_byte_s": statistics.median(s[1] for s in speech),
                "whole_file_s": statistics.median(files),
                "first_delta_s": statistics.median(d[0] for d in deltas),
                "stream_done_s": statistics.median(d[1] for d in deltas),
                "transcription_s": statistics.median(plain),
            }
        except Exception:
            print(server.log(), file=sys.stderr)
            raise
        finally:
            if worker is not None:
                worker.stop()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="embedded,distributed")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{len(PARAGRAPH)}-character paragraph (mp3); sample.wav (30 s); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at the start; median of {args.repeats}"
    )
    raw = raw_engines(args.repeats)
    print(
        f"raw engine: first sentence ({len(FIRST_SENTENCE)} chars) {raw['first_sentence_s']:.3f} s, its first clause "
        f"({len(FIRST_CHUNK)} chars) {raw['first_chunk_s']:.3f} s; faster-whisper on sample.wav {raw['stt_s']:.2f} s"
    )
    print(
        "| mode | first audio byte (s) | last byte (s) | whole file, /v1/tts (s) | first delta (s) | "
        "stream done (s) | first delta / done | transcription (s) | overhead vs raw |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        r = run_mode(mode, args.repeats)
        print(
            f"| {mode} | {r['first_byte_s']:.3f} | {r['last_byte_s']:.2f} | {r['whole_file_s']:.2f} | "
            f"{r['first_delta_s']:.2f} | {r['stream_done_s']:.2f} | {r['first_delta_s'] / r['stream_done_s']:.0%} | "
            f"{r['transcription_s']:.2f} | {r['transcription_s'] / raw['stt_s'] - 1:+.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
