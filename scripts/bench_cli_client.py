"""What the command-line client adds to a request: `voice-api say` / `voice-api transcribe` as processes,
against the same requests made directly with httpx (polling every 50 ms), on one `voice-api serve`.

The difference is the client's own cost: starting Python and importing the CLI, and the polling
granularity (0.1 s growing to 1 s). `voice-api voices` shows the start-up alone (one cheap GET).

Usage (from the repository root): .venv/bin/python -m scripts.bench_cli_client [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.audio import sample_wav
from tests.support.processes import VOICE_API, ServeProcess, poll_finished, user_env

TEXT = "Hello there, this is a short sentence."


def direct_say(client: httpx.Client) -> float:
    t0 = time.perf_counter()
    task_id = client.post("/v1/tts", json={"text": TEXT}).json()["task_id"]
    poll_finished(client, f"/v1/tts/{task_id}", 0.05)
    client.get(f"/v1/tts/{task_id}/audio").raise_for_status()
    return time.perf_counter() - t0


def direct_transcribe(client: httpx.Client) -> float:
    t0 = time.perf_counter()
    with open(sample_wav(), "rb") as fh:
        task_id = client.post("/v1/stt", files={"file": ("s.wav", fh)}, data={"diarize": "false"}).json()["task_id"]
    poll_finished(client, f"/v1/stt/{task_id}", 0.05)
    client.get(f"/v1/stt/{task_id}/result", params={"format": "srt"}).raise_for_status()
    return time.perf_counter() - t0


def cli(env: dict[str, str], *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([*VOICE_API, *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = user_env(VOICE_API_STORAGE__DATA_DIR=data_dir, VOICE_API_AUTH__ENABLED="false")
        server = ServeProcess(env, Path(data_dir) / "serve.log")
        client_env = user_env(VOICE_API_URL=server.base_url, VOICE_API_CLIENT_CONFIG=f"{data_dir}/none.toml")
        out = Path(data_dir)
        try:
            server.wait_healthy()
            with httpx.Client(base_url=server.base_url, timeout=120) as client:
                direct_say(client), direct_transcribe(client)  # model loads, not measured
                rows = {
                    "voice-api voices (start-up + one GET)": [cli(client_env, "voices") for _ in range(args.runs)],
                    "say: direct httpx": [direct_say(client) for _ in range(args.runs)],
                    "say: voice-api say": [
                        cli(client_env, "say", TEXT, "-o", str(out / "a.mp3")) for _ in range(args.runs)
                    ],
                }
                stt_args = ["transcribe", str(sample_wav()), "--no-diarize", "-o", str(out / "s.srt")]
                rows["transcribe 30 s: direct httpx"] = [direct_transcribe(client) for _ in range(2)]
                rows["transcribe 30 s: voice-api transcribe"] = [cli(client_env, *stt_args) for _ in range(2)]
        finally:
            server.stop()
    print("| what | runs | median (s) | min (s) |")
    print("|---|---|---|---|")
    for name, times in rows.items():
        print(f"| {name} | {len(times)} | {statistics.median(times):.2f} | {min(times):.2f} |")


if __name__ == "__main__":
    main()
