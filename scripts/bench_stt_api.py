"""API overhead of speech-to-text: the whole /v1/stt round trip vs faster-whisper alone, same file.

Runs faster-whisper directly (same model and decoding options as the server's engine) and then
`voice-api serve` as a real subprocess (embedded mode), each several times, one after the other so
they never compete for the CPU. The API figure is the client's wall time from the start of the
upload to the transcript in hand: upload, staging, probe, queue, decode, transcribe, polling (every
`--poll` seconds) and the result request.

Usage (from the repository root): .venv/bin/python -m scripts.bench_stt_api [--runs 5] [--poll 0.05] [--audio FILE]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.audio import sample_wav
from tests.support.processes import ServeProcess, poll_finished, user_env


def faster_whisper_alone(audio: Path, runs: int) -> tuple[float, list[float]]:
    from faster_whisper import WhisperModel, decode_audio

    from model_store.whisper import resolve
    from server.settings import Settings

    cfg = Settings().stt
    with tempfile.TemporaryDirectory() as models_dir:
        t0 = time.perf_counter()
        model = WhisperModel(str(resolve(cfg.model, Path(models_dir))), device="cpu", compute_type=cfg.compute_type)
        load = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        segments, _ = model.transcribe(
            decode_audio(str(audio)), beam_size=cfg.beam_size, vad_filter=True, condition_on_previous_text=False
        )
        list(segments)
        times.append(time.perf_counter() - t0)
    return load, times


def through_api(audio: Path, runs: int, poll: float, fields: dict) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as data_dir:
        env = user_env(VOICE_API_STORAGE__DATA_DIR=data_dir, VOICE_API_AUTH__ENABLED="false")
        server = ServeProcess(env, Path(data_dir) / "serve.log")
        try:
            server.wait_healthy()
            times = [_one_request(server.base_url, audio, poll, fields) for _ in range(runs + 1)]
        finally:
            server.stop()
    return times[0], times[1:]  # the first request includes loading the model


def _one_request(base_url: str, audio: Path, poll: float, fields: dict) -> float:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        t0 = time.perf_counter()
        response = client.post("/v1/stt", files={"file": (audio.name, audio.read_bytes())}, data=fields)
        task_id = response.json()["task_id"]
        poll_finished(client, f"/v1/stt/{task_id}", poll)
        client.get(f"/v1/stt/{task_id}/result").raise_for_status()
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--poll", type=float, default=0.05, help="client polling interval, seconds")
    parser.add_argument("--audio", type=Path, default=None, help="default: pyannote's 30 s sample.wav")
    args = parser.parse_args()
    audio = args.audio or sample_wav()

    fw_load, fw = faster_whisper_alone(audio, args.runs)
    api_first, api = through_api(audio, args.runs, args.poll, {"diarize": "false"})
    _, full = through_api(audio, args.runs, args.poll, {"word_timestamps": "true"})
    fw_med, api_med = statistics.median(fw), statistics.median(api)
    print(f"audio: {audio.name}, runs: {args.runs}, poll interval {args.poll * 1000:.0f} ms\n")
    print("| path | median s | min s | max s |")
    print("|---|---|---|---|")
    print(f"| faster-whisper alone (decode + transcribe) | {fw_med:.2f} | {min(fw):.2f} | {max(fw):.2f} |")
    print(f"| /v1/stt round trip, diarize=false (upload → result) | {api_med:.2f} | {min(api):.2f} | {max(api):.2f} |")
    print(
        f"| /v1/stt round trip, default (+ speakers, words) | {statistics.median(full):.2f} | {min(full):.2f} |"
        f" {max(full):.2f} |"
    )
    print(f"\nAPI overhead ratio, same work (median): {api_med / fw_med:.2f}x (+{api_med - fw_med:.2f} s)")
    print(f"cold start: model load alone {fw_load:.2f} s; first API request {api_first:.2f} s")


if __name__ == "__main__":
    main()
