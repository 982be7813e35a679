"""Interleaved A/B load test: several server set-ups run at once, and each GET phase is measured in
short slices that take turns between them, so every set-up sees the same background load.

On a shared machine, runs one after the other see different loads (other people's jobs come and
go within a minute) and their ratio swings by ±50%; taking turns every few seconds makes the
comparison fair, which is what docs/benchmarks.md's issue-19 ratios need. Each arm is a mode with
optional settings; every arm gets its own server (and, distributed, its own worker), authentication
on with a pro key, and its own busy tasks during the poll phases (as scripts/load.py).

Usage (from the repository root):
    .venv/bin/python -m scripts.load_interleaved --slices 6 --slice-s 3 \\
        --arm embedded --arm distributed --arm distributed:storage.task_status_cache_s=0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import httpx

from scripts.load import PhaseResult, RawClient, is_status, run_phase, start_busy_tasks, started


def _arm_args(base: argparse.Namespace, arm: str) -> tuple[str, argparse.Namespace]:
    mode, _, settings = arm.partition(":")
    args = argparse.Namespace(**vars(base))
    args.setting = [s for s in settings.split(",") if s]
    return mode, args


Arm = tuple[str, str, str | None]  # label, base URL, API key


async def measure(args: argparse.Namespace, arms: list[Arm]) -> dict[str, dict[str, PhaseResult]]:
    """results[phase][label]"""
    busy: dict[str, list[str]] = {}
    for label, url, key in arms:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            await client.get("/v1/models", params={"refresh": "true"})  # the models phase then hits
            busy[label] = await start_busy_tasks(client, args.busy_tasks, args.busy_audio_s)
    results: dict[str, dict[str, PhaseResult]] = {}
    for phase in args.phases.split(","):
        think = args.poll_interval if phase == "polls-paced" else 0.0
        results[phase] = {label: PhaseResult(f"{phase} {label}") for label, _, _ in arms}
        for n in range(args.slices):
            turn = arms[n % len(arms) :] + arms[: n % len(arms)]  # who goes first rotates
            for label, url, key in turn:
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                ids = busy[label]
                path = {"health": lambda i: "/v1/health", "models": lambda i: "/v1/models"}.get(
                    phase, lambda i, ids=ids: f"/v1/stt/{ids[i % len(ids)]}"
                )

                async def request(session, i, path=path):
                    return await session.get(path(i))

                def session(url=url, headers=headers):
                    return RawClient(url, headers)

                await run_phase(session, "warm-up", request, lambda r: True, 0.3, args.concurrency, args.concurrency)
                part = await run_phase(
                    session, phase, request, is_status(200), args.slice_s, args.concurrency, 10**9, think
                )
                total = results[phase][label]
                total.requests += part.requests
                total.errors += part.errors
                total.elapsed += part.elapsed
                total.latencies += part.latencies
    return results


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--arm",
        action="append",
        default=[],
        help="MODE[:SECTION.NAME=VALUE,...]; MODE embedded or distributed (repeatable; default: both modes)",
    )
    parser.add_argument("--phases", default="health,models,polls,polls-paced")
    parser.add_argument("--slices", type=int, default=6, help="turns per arm and phase (default 6)")
    parser.add_argument("--slice-s", type=float, default=3.0, help="seconds per turn (default 3)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--poll-interval", type=float, default=0.1)
    parser.add_argument("--busy-tasks", type=int, default=2)
    parser.add_argument("--busy-audio-s", type=float, default=300.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--worker-niceness", type=int, default=None)
    args = parser.parse_args()
    args.auth = True
    arms = args.arm or ["embedded", "distributed"]
    print(f"load average before: {_loadavg()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="voice-load-") as tmp, contextlib.ExitStack() as stack:
        running = []
        for n, arm in enumerate(arms):
            mode, arm_args = _arm_args(args, arm)
            (Path(tmp) / f"arm{n}").mkdir()
            url, key, _ = stack.enter_context(started(mode, arm_args, Path(tmp) / f"arm{n}"))
            running.append((arm, url, key))
        results = asyncio.run(measure(args, running))
        load_after = _loadavg()
    print(
        f"{len(arms)} arms at once, {args.slices} turns of {args.slice_s:g} s each per phase, "
        f"{args.concurrency} clients; {os.cpu_count()} CPUs; load average after: {load_after}\n"
    )
    print("| phase | " + " | ".join(f"{a}: req/s, p50 / p99 ms" for a in arms) + " | ratio to the first |")
    print("|---|" + "---:|" * len(arms) + "---|")
    for phase, by_arm in results.items():
        cells = [f"{r.throughput:,.0f}, {r.percentile(0.5):.1f} / {r.percentile(0.99):.1f}" for r in by_arm.values()]
        first = next(iter(by_arm.values()))
        ratios = ", ".join(f"{r.throughput / first.throughput:.0%}" for r in list(by_arm.values())[1:])
        errors = sum(r.errors for r in by_arm.values())
        print(f"| {phase} | " + " | ".join(cells) + f" | {ratios}" + (f"; {errors} errors" if errors else "") + " |")


if __name__ == "__main__":
    main()
