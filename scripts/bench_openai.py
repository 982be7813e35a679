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
import time

import httpx

from scripts.bench_server import bench_server
from tests.support.audio import sample_wav

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


class RawEngines:
    """The engines alone in this process, with the server's default settings. Timed in turn with
    the server's requests (the machine is shared: interleaving keeps a load change from landing on
    one side only)."""

    def __init__(self) -> None:
        from engines.audio_io import decode_mono
        from engines.model_cache import ModelCache
        from engines.tts.piper_engine import PiperSynthesizer
        from server.settings import Settings
        from server.worker.engines import build_faster_whisper

        self.settings = Settings()
        self.piper = PiperSynthesizer()
        self.stt = build_faster_whisper(self.settings, ModelCache())
        self.audio = decode_mono(sample_wav())
        self.synthesis(FIRST_SENTENCE), self.transcription()  # loaded

    def synthesis(self, text: str) -> float:
        from engines.tts.types import SynthesisRequest

        request = SynthesisRequest(text=text, voice_id=self.settings.tts.default_voice)
        started = time.perf_counter()
        self.piper.synthesize(request)
        return time.perf_counter() - started

    def transcription(self) -> float:
        """Decoding the file and transcribing it, as the worker does."""
        from engines.audio_io import decode_mono
        from engines.types import TranscriptionRequest

        started = time.perf_counter()
        self.stt.transcribe(TranscriptionRequest(audio=decode_mono(sample_wav())))
        return time.perf_counter() - started


def run_mode(mode: str, repeats: int, raw: RawEngines) -> dict:
    audio = sample_wav().read_bytes()
    with bench_server(mode, "openai", queues="stt,tts") as server:
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=600) as client:
            speech_first_byte(client), transcription(client, audio)  # warm-up: models, calibration
            rounds = [
                {
                    "sentence": raw.synthesis(FIRST_SENTENCE),
                    "clause": raw.synthesis(FIRST_CHUNK),
                    "speech": speech_first_byte(client),
                    "file": whole_file(client),
                    "raw_stt": raw.transcription(),
                    "delta": transcript_first_delta(client, audio),
                    "plain": transcription(client, audio),
                }
                for _ in range(repeats)
            ]
        speech, files = [r["speech"] for r in rounds], [r["file"] for r in rounds]
        deltas, plain = [r["delta"] for r in rounds], [r["plain"] for r in rounds]
        return {
            "raw_sentence_s": statistics.median(r["sentence"] for r in rounds),
            "raw_clause_s": statistics.median(r["clause"] for r in rounds),
            "raw_stt_s": statistics.median(r["raw_stt"] for r in rounds),
            "first_byte_s": statistics.median(s[0] for s in speech),
            "last_byte_s": statistics.median(s[1] for s in speech),
            "whole_file_s": statistics.median(files),
            "first_delta_s": statistics.median(d[0] for d in deltas),
            "stream_done_s": statistics.median(d[1] for d in deltas),
            "transcription_s": statistics.median(plain),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="embedded,distributed")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{len(PARAGRAPH)}-character paragraph (mp3); sample.wav (30 s); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at the start; median of {args.repeats}"
    )
    raw = RawEngines()
    print(
        f"raw engine inputs: the first sentence ({len(FIRST_SENTENCE)} characters) and its first clause "
        f"({len(FIRST_CHUNK)}, what the stream synthesises first); faster-whisper decode + transcribe of sample.wav"
    )
    print(
        "| mode | first audio byte (s) | last byte (s) | whole file, /v1/tts (s) | raw: first sentence / clause (s) | "
        "first delta (s) | stream done (s) | first delta / done | transcription (s) | raw engine (s) | overhead |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        r = run_mode(mode, args.repeats, raw)
        print(
            f"| {mode} | {r['first_byte_s']:.3f} | {r['last_byte_s']:.2f} | {r['whole_file_s']:.2f} | "
            f"{r['raw_sentence_s']:.3f} / {r['raw_clause_s']:.3f} | {r['first_delta_s']:.2f} | "
            f"{r['stream_done_s']:.2f} | {r['first_delta_s'] / r['stream_done_s']:.0%} | {r['transcription_s']:.2f} | "
            f"{r['raw_stt_s']:.2f} | {r['transcription_s'] / r['raw_stt_s'] - 1:+.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
