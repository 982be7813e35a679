"""The interactive lane: how long a short transcription takes while a long recording is transcribed.

Runs the configuration users run: a real `voice-api serve` with authentication on (a `pro` key made
with the keys CLI) and default settings, in embedded mode and in distributed mode (real Redis, one
`voice-api worker -Q stt` with its default interactive companion). For each mode: submit a long
recording (sample.wav tiled, 30 minutes by default), wait until it runs, then submit a 3 s clip and
time it from submission to its result; report whether the long task was still running then, and
the same short request on an idle server for comparison.

    .venv/bin/python -m scripts.bench_lanes [--long-minutes 30] [--modes embedded,distributed]
"""

from __future__ import annotations

import argparse
import os
import time

import httpx

from scripts.bench_server import bench_server
from tests.support.audio import sample_clip, tiled_sample, wav_bytes


def wait_status(client: httpx.Client, task_id: str, wanted: set[str], timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/stt/{task_id}").json()
        if body["status"] in wanted:
            return body
        time.sleep(0.05)
    raise TimeoutError(task_id)


def short_request(client: httpx.Client, clip: bytes) -> float:
    started = time.perf_counter()
    task_id = client.post("/v1/stt", files={"file": ("short.wav", clip)}).json()["task_id"]
    wait_status(client, task_id, {"succeeded", "failed"})
    client.get(f"/v1/stt/{task_id}/result")
    return time.perf_counter() - started


def measure(base_url: str, key: str, long_audio: bytes, clip: bytes) -> dict:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        short_request(client, clip)  # loads the model in whichever process serves the lane
        idle = min(short_request(client, clip) for _ in range(3))
        long_id = client.post("/v1/stt", files={"file": ("long.wav", long_audio)}).json()["task_id"]
        wait_status(client, long_id, {"running"})
        time.sleep(2.0)  # well into the long task
        busy = short_request(client, clip)
        long_state = client.get(f"/v1/stt/{long_id}").json()
        long_started = time.perf_counter()
        wait_status(client, long_id, {"succeeded", "failed"})
        return {
            "idle_s": idle,
            "while_long_runs_s": busy,
            "long_status_then": long_state["status"],
            "long_progress_then": long_state["progress"],
            "long_remaining_s": time.perf_counter() - long_started,
        }


def run_mode(mode: str, long_audio: bytes, clip: bytes) -> dict:
    with bench_server(mode, "lanes", queues="stt") as server:
        return measure(server.base_url, server.key, long_audio, clip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long-minutes", type=float, default=30.0)
    parser.add_argument("--modes", default="embedded,distributed")
    args = parser.parse_args()
    long_audio = tiled_sample(args.long_minutes * 60)
    clip_samples, rate = sample_clip(3.0, offset=6.5)
    clip = wav_bytes(clip_samples, rate)
    print(f"long recording: {args.long_minutes:.0f} min (sample.wav tiled); short: 3 s; {os.cpu_count()} CPUs")
    print("| mode | short alone (s) | short while long runs (s) | long task then | long finished after (s) |")
    print("|---|---|---|---|---|")
    for mode in args.modes.split(","):
        r = run_mode(mode, long_audio, clip)
        print(
            f"| {mode} | {r['idle_s']:.2f} | {r['while_long_runs_s']:.2f} | "
            f"{r['long_status_then']} ({r['long_progress_then']}%) | {r['long_remaining_s']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
