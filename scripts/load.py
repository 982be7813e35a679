"""Load test of the HTTP API on loopback: bounded request counts and time, asyncio + httpx.

Phases, each run by `--concurrency` clients for at most `--duration` seconds (and at most
`--max-requests` requests; submits at most `--max-submits`, because each one creates real work):

  health        GET /v1/health
  models        GET /v1/models, after one warm-up miss: every request should be a cache hit (X-Cache)
  polls         GET /v1/stt/{id} for existing tasks, while the workers transcribe long audio
                (`--busy-tasks` long STT tasks are submitted first and must still be running);
                closed loop: each client polls again as soon as it has its answer (saturation)
  polls-paced   the same, each client polling every `--poll-interval` s (what real pollers do):
                latency without the queueing a closed loop creates
  submit tts    POST /v1/tts with a short text
  submit stt    POST /v1/stt with a 1 s WAV (diarize=false)

It starts its own `voice-api serve` (embedded mode, authentication off, a temporary data dir) unless
`--url` names a running server (`--api-key` then authenticates). Results: one markdown table.
Targets to compare with (not asserted): health and cached models >= 1,000 req/s; status polls
p99 <= 20 ms under 50 concurrent clients while the workers are busy.

Usage (from the repository root):
    .venv/bin/python -m scripts.load --duration 10 --concurrency 50
    .venv/bin/python -m scripts.load --url http://127.0.0.1:8000 --api-key va_… --phases health,models
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python scripts/load.py` as well as `python -m scripts.load`
    sys.path.insert(0, str(ROOT))

from tests.support.audio import sample_clip, tiled_sample, wav_bytes  # noqa: E402
from tests.support.processes import ServeProcess, user_env  # noqa: E402

PHASES = ("health", "models", "polls", "polls-paced", "submit-tts", "submit-stt")


@dataclass
class PhaseResult:
    name: str
    requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class RawResponse:
    """What the checks read from a response: status code and (lower-case) headers."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class RawClient:
    """A minimal HTTP/1.1 keep-alive GET client on asyncio streams: one connection per virtual
    client, a fraction of httpx's CPU per request, so a small box measures the server rather than
    the load generator (`--client raw`; GET phases only)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        url = httpx.URL(base_url)
        self._host, self._port = url.host, url.port or 80
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {self._host}:{self._port}\r\n{extra}\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> RawResponse:
        try:
            return await self._get(path)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.aclose()
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def _get(self, path: str) -> RawResponse:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        self._writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._head)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await self._reader.readuntil(b"\r\n")).strip().split(b";")[0], 16):
                body += (await self._reader.readexactly(size + 2))[:-2]
            await self._reader.readuntil(b"\r\n")
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return RawResponse(status, headers, body)

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None


Session = httpx.AsyncClient | RawClient
Request = Callable[[Session, int], Awaitable[httpx.Response | RawResponse]]
Check = Callable[[httpx.Response | RawResponse], bool]


async def run_phase(
    open_session: Callable[[], Session],
    name: str,
    request: Request,
    ok: Check,
    duration: float,
    concurrency: int,
    max_requests: int,
    think: float = 0.0,
) -> PhaseResult:
    """`concurrency` clients send `request` back to back until the time or the count runs out.
    Each client gets its session from `open_session` (the shared httpx pool, or its own raw connection)."""
    result = PhaseResult(name)
    issued = 0
    started = time.perf_counter()
    deadline = started + duration

    async def one_client() -> None:
        nonlocal issued
        session = open_session()
        if think:  # spread the clients over the interval, as independent pollers would be
            await asyncio.sleep(random.uniform(0, think))
        try:
            while time.perf_counter() < deadline and issued < max_requests:
                index = issued
                issued += 1
                t0 = time.perf_counter()
                try:
                    response = await request(session, index)
                    good = ok(response)
                    result.statuses[response.status_code] += 1
                except httpx.HTTPError as exc:
                    good = False
                    result.statuses[type(exc).__name__] += 1
                result.latencies.append(time.perf_counter() - t0)
                result.requests += 1
                result.errors += not good
                if think:
                    await asyncio.sleep(think)
        finally:
            if isinstance(session, RawClient):
                await session.aclose()

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


def is_status(*codes: int) -> Check:
    return lambda response: response.status_code in codes


async def start_busy_tasks(client: httpx.AsyncClient, count: int, seconds: float) -> list[str]:
    """Long STT tasks that keep the workers transcribing during the polling phase. With count 0,
    one short task that is finished before polling starts: the same polls on an idle server."""
    audio = tiled_sample(seconds if count else 2.0)
    ids = []
    for _ in range(max(count, 1)):
        response = await client.post("/v1/stt", files={"file": ("long.wav", audio)}, data={"diarize": "false"})
        response.raise_for_status()
        ids.append(response.json()["task_id"])
    # wait until the first one really runs (model loaded, transcribing)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = (await client.get(f"/v1/stt/{ids[0]}")).json()
        if count and body["status"] == "running" and body["progress"] >= 5:
            break
        if body["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.2)
    return ids


async def busy_count(client: httpx.AsyncClient, ids: list[str]) -> Counter:
    return Counter([(await client.get(f"/v1/stt/{task_id}")).json()["status"] for task_id in ids])


async def run(args: argparse.Namespace, base_url: str) -> list[PhaseResult]:
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    results: list[PhaseResult] = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as client:

        def shared() -> Session:
            return client

        def raw() -> Session:
            return RawClient(base_url, headers)

        async def phase(
            name: str,
            request: Request,
            ok: Check,
            max_requests: int | None = None,
            get: bool = False,
            think: float = 0.0,
        ) -> PhaseResult:
            sessions = raw if get and args.client == "raw" else shared
            label = f"{name} [raw]" if sessions is raw else name
            # a short warm-up (connections opened, code paths hot), not counted
            await run_phase(sessions, name, request, lambda r: True, 0.5, args.concurrency, min(args.concurrency, 20))
            result = await run_phase(
                sessions,
                label,
                request,
                ok,
                args.duration,
                args.concurrency,
                max_requests or args.max_requests,
                think,
            )
            results.append(result)
            print(
                f"  {name}: {result.requests} requests, {result.throughput:.0f} req/s, "
                f"p99 {result.percentile(0.99):.1f} ms",
                file=sys.stderr,
            )
            return result

        if "health" in phases:
            await phase("GET /v1/health", lambda c, i: c.get("/v1/health"), is_status(200), get=True)

        if "models" in phases:
            hits = Counter()

            async def models(c: Session, i: int) -> httpx.Response | RawResponse:
                response = await c.get("/v1/models")
                hits[response.headers.get("x-cache", "none")] += 1
                return response

            first = await client.get("/v1/models", params={"refresh": "true"})  # fills the cache: a miss
            hits.clear()
            result = await phase(
                "GET /v1/models (cached)",
                models,
                lambda r: r.status_code == 200 and r.headers.get("x-cache") == "hit",
                get=True,
            )
            result.notes.append(
                f"first (refresh) X-Cache {first.headers.get('x-cache')}; "
                f"then, warm-up included: hit {hits['hit']}, miss {hits['miss']}"
            )

        busy_ids: list[str] = []
        for name, think in (("polls", 0.0), ("polls-paced", args.poll_interval)):
            if name not in phases:
                continue
            if not busy_ids:
                busy_ids = await start_busy_tasks(client, args.busy_tasks, args.busy_audio_s)
            ids = busy_ids
            before = await busy_count(client, ids)
            label = "GET /v1/stt/{id} (" + ("workers busy" if args.busy_tasks else "idle server")
            label += f", each client every {think * 1000:.0f} ms)" if think else ")"
            result = await phase(
                label,
                lambda c, i, ids=ids: c.get(f"/v1/stt/{ids[i % len(ids)]}"),
                is_status(200),
                get=True,
                think=think,
            )
            after = await busy_count(client, ids)
            result.notes.append(
                f"busy tasks before {dict(before)}, after {dict(after)}"
                + ("" if after.get("running") else " (workers went idle during the phase)")
            )

        if "submit-tts" in phases:
            result = await phase(
                "POST /v1/tts",
                lambda c, i: c.post("/v1/tts", json={"text": f"Load test number {i}."}),
                is_status(202),
                max_requests=args.max_submits,
            )
            result.notes.append(f"bounded to {args.max_submits} submits")

        if "submit-stt" in phases:
            clip, rate = sample_clip(1.0, offset=6.0)
            audio = wav_bytes(clip, rate)
            result = await phase(
                "POST /v1/stt (1 s WAV)",
                lambda c, i: c.post("/v1/stt", files={"file": ("clip.wav", audio)}, data={"diarize": "false"}),
                is_status(202),
                max_requests=args.max_submits,
            )
            result.notes.append(f"bounded to {args.max_submits} submits")
    return results


def table(results: list[PhaseResult], args: argparse.Namespace) -> str:
    lines = [
        f"concurrency {args.concurrency}, up to {args.duration:g} s per phase, GET client {args.client}, "
        "one uvicorn process, "
        f"{os.cpu_count()} CPUs shared by server and load generator",
        "",
        "| phase | requests | errors | req/s | p50 ms | p99 ms | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        odd = {k: v for k, v in r.statuses.items() if k not in (200, 202)}
        notes = "; ".join(r.notes + ([f"statuses {odd}"] if odd else []))
        lines.append(
            f"| {r.name} | {r.requests} | {r.errors} | {r.throughput:,.0f} | {r.percentile(0.5):.1f} | "
            f"{r.percentile(0.99):.1f} | {notes} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server; default: start `voice-api serve` (embedded)")
    parser.add_argument("--api-key", help="for a --url server with authentication on")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per phase (default 200000)")
    parser.add_argument("--max-submits", type=int, default=300, help="per submit phase (default 300)")
    parser.add_argument(
        "--busy-tasks", type=int, default=2, help="long STT tasks during the polls (default 2; 0: idle server)"
    )
    parser.add_argument("--busy-audio-s", type=float, default=300.0, help="their audio length (default 300)")
    parser.add_argument(
        "--poll-interval", type=float, default=0.1, help="seconds between polls per client in polls-paced"
    )
    parser.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="httpx",
        help="GET phases: httpx (default) or a lean asyncio keep-alive client, to measure the server "
        "rather than the load generator on a small machine",
    )
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    args = parser.parse_args()

    if args.url:
        results = asyncio.run(run(args, args.url.rstrip("/")))
    else:
        with tempfile.TemporaryDirectory(prefix="voice-load-") as tmp:
            env = user_env(VOICE_API_STORAGE__DATA_DIR=str(Path(tmp) / "data"), VOICE_API_AUTH__ENABLED="false")
            server = ServeProcess(env, Path(tmp) / "serve.log")
            try:
                server.wait_healthy()
                print(f"started voice-api serve (pid {server.proc.pid}) at {server.base_url}", file=sys.stderr)
                results = asyncio.run(run(args, server.base_url))
            finally:
                server.stop()
    print(table(results, args))
    if any(r.errors for r in results):
        print(f"\n{sum(r.errors for r in results)} request(s) failed", file=sys.stderr)


if __name__ == "__main__":
    main()
