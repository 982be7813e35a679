"""Effect of the /v1/models cache: the same query served from the cache vs recomputed (refresh=true).

Fills a model store with N cloned-voice entries (metadata only), starts `voice-api serve` (embedded,
authentication off) on it, and times sequential requests for a fuzzy title search and a plain
listing, each cached and with refresh=true.

Usage (from the repository root): .venv/bin/python -m scripts.bench_catalog [--voices 2000] [--requests 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from model_store.voices import VoiceModel, VoiceStore
from tests.support.processes import ServeProcess, user_env

WORDS = ["calm", "bright", "deep", "warm", "narrator", "anchor", "teacher", "storyteller", "host", "voice"]


def fill(store: VoiceStore, count: int) -> None:
    for i in range(count):
        title = f"{WORDS[i % 10].title()} {WORDS[(i // 10) % 10]} {i}"
        store.create(
            VoiceModel(
                id=store.new_id(),
                owner=f"team-{i % 5}",
                title=title,
                engine="piper+voice-match",
                visibility="public",
                tags=(WORDS[i % 7],),
                languages=("en",),
            )
        )


def timed(client: httpx.Client, params: dict, n: int) -> tuple[list[float], str]:
    times, cache = [], ""
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get("/v1/models", params=params)
        times.append((time.perf_counter() - t0) * 1000)
        cache = response.headers.get("x-cache", "")
    return times, cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        fill(VoiceStore(Path(data_dir) / "models"), args.voices)
        env = user_env(VOICE_API_STORAGE__DATA_DIR=data_dir, VOICE_API_AUTH__ENABLED="false")
        server = ServeProcess(env, Path(data_dir) / "serve.log")
        try:
            server.wait_healthy()
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                print(f"{args.voices} voices, {args.requests} sequential requests each\n")
                print("| query | path | median ms | p99 ms | req/s (1 client) |")
                print("|---|---|---|---|---|")
                for name, params in {
                    "title=narator (fuzzy)": {"title": "narator"},
                    "page 3, sort by created_at": {"page_number": 3, "sort_by": "created_at"},
                }.items():
                    client.get("/v1/models", params=params)  # fill the cache
                    for label, extra in (("cached", {}), ("refresh=true", {"refresh": "true"})):
                        times, cache = timed(client, {**params, **extra}, args.requests)
                        p99 = sorted(times)[int(len(times) * 0.99) - 1]
                        print(
                            f"| {name} | {label} (X-Cache: {cache}) | {statistics.median(times):.1f} | {p99:.1f} |"
                            f" {1000 / statistics.mean(times):.0f} |"
                        )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
