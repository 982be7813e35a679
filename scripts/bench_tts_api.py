"""Real-time factor of the whole /v1/tts path with Piper: submit → audio downloaded, over audio seconds.

Runs `voice-api serve` (embedded mode) as a subprocess and sends scripts of different kinds one at a
time: plain prose, a long multi-paragraph text, a two-speaker dialogue with emotion and event cues.
The first request (model load) is reported apart.

Usage (from the repository root): .venv/bin/python -m scripts.bench_tts_api [--format mp3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.processes import ServeProcess, poll_finished, user_env

VOICE = "en_US-joe-medium"
PROSE = (
    "The lighthouse keeper climbed the spiral stairs every evening at dusk. From the top he could see "
    "the fishing boats returning, their lanterns swaying like fireflies over the dark water. "
)
SCRIPTS = {
    "prose (1 paragraph)": {"text": PROSE},
    "long (12 paragraphs, ~2.3k chars)": {"text": "\n\n".join([PROSE] * 12)},
    "dialogue with cues": {
        "text": (
            "[excited] We won the contract! <|speaker:1|> [calm] That's wonderful news. [sigh] "
            "I was worried. <|speaker:0|> [whisper] Don't tell anyone yet. [laugh] "
            "<|speaker:1|> [sad] I wish Maria could have seen this. [pause] She worked so hard."
        ),
        "model_ids": [VOICE, VOICE],
    },
}


def one(client: httpx.Client, body: dict) -> tuple[float, float]:
    t0 = time.perf_counter()
    task_id = client.post("/v1/tts", json=body).json()["task_id"]
    status = poll_finished(client, f"/v1/tts/{task_id}", 0.05)
    client.get(f"/v1/tts/{task_id}/audio").raise_for_status()
    return time.perf_counter() - t0, status["result"]["duration"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", default="mp3")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = user_env(VOICE_API_STORAGE__DATA_DIR=data_dir, VOICE_API_AUTH__ENABLED="false")
        server = ServeProcess(env, Path(data_dir) / "serve.log")
        try:
            server.wait_healthy()
            with httpx.Client(base_url=server.base_url, timeout=120) as client:
                cold, _ = one(client, {"text": "Warming up.", "format": args.format})
                print(f"format {args.format}; first request (loads the voice): {cold:.2f} s\n")
                print("| script | audio s | wall s (median) | RTF |")
                print("|---|---|---|---|")
                for name, body in SCRIPTS.items():
                    runs = [one(client, {**body, "format": args.format}) for _ in range(args.runs)]
                    wall = statistics.median(r[0] for r in runs)
                    audio = statistics.median(r[1] for r in runs)
                    print(f"| {name} | {audio:.1f} | {wall:.2f} | {wall / audio:.3f} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
