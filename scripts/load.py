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

By default it runs every phase twice, the way the server is deployed: `embedded` (one `voice-api
serve` with its in-process worker and SQLite) and `distributed` (one `voice-api serve` and one
`voice-api worker` on a real Redis, `--redis-url`, under a fresh key prefix that is removed
afterwards). Authentication is on, with a real `pro` key the script creates in the server's own
key store (`--no-auth` measures anonymous requests); the pro plan's concurrent-task limit is raised
for the run, because the submit phases queue hundreds of tasks at once. `--url` measures a running
server instead (`--api-key` then authenticates).

Load generators: GET phases use a lean asyncio keep-alive client (`--client raw`, default) or
httpx; submits always use httpx. When `wrk` is installed (Debian package `wrk`) the saturation
phases (health, models, closed-loop polls) are measured with it as well, right after the Python
generator, with the same connection count (`--no-wrk` skips it). Results: one markdown table per
mode. Targets (not asserted; docs/benchmarks.md): health >= 5,000 req/s, cached models >= 3,000
req/s, paced status polls p99 <= 10 ms while a worker transcribes, distributed within 25%.

Usage (from the repository root):
    .venv/bin/python -m scripts.load --duration 8 --phases health,models,polls,polls-paced
    .venv/bin/python -m scripts.load --mode embedded --no-auth
    .venv/bin/python -m scripts.load --url http://127.0.0.1:8000 --api-key va_… --phases health,models
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python scripts/load.py` as well as `python -m scripts.load`
    sys.path.insert(0, str(ROOT))

from tests.support.audio import sample_clip, tiled_sample, wav_bytes  # noqa: E402
from tests.support.processes import VOICE_API, Process, ServeProcess, user_env  # noqa: E402

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
    reported_ms: dict[float, float] = field(default_factory=dict)  # percentiles wrk reported itself

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        if q in self.reported_ms:
            return self.reported_ms[q]
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


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _WRK_UNITS[unit]


async def run_wrk(name: str, url: str, headers: dict[str, str], args: argparse.Namespace) -> PhaseResult:
    """wrk with as many connections as the Python clients, `--wrk-threads` threads (default 1: on two
    cores shared with the server, more threads take CPU from what is being measured)."""
    command = ["wrk", f"-t{args.wrk_threads}", f"-c{args.concurrency}", f"-d{max(1, round(args.duration))}s"]
    command += ["--latency", "--timeout", "10s"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    proc = await asyncio.create_subprocess_exec(*command, url, stdout=asyncio.subprocess.PIPE)
    out = (await proc.communicate())[0].decode()
    result = PhaseResult(f"{name} [wrk]")
    match = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if proc.returncode or not match:
        result.notes.append(f"wrk failed: {out.strip()[-200:]!r}")
        return result
    result.requests = int(match.group(1))
    result.elapsed = float(match.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(3)]
    for q, label in ((0.5, "50%"), (0.99, "99%")):
        if found := re.search(rf"^\s*{label}\s+(\S+)", out, re.MULTILINE):
            result.reported_ms[q] = _wrk_ms(found.group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result.errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        result.notes.append(f"socket errors: {socket_errors.group(1).strip()}")
    result.notes.append(f"{args.wrk_threads} thread(s), {args.concurrency} connections")
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


async def run(args: argparse.Namespace, base_url: str, api_key: str | None) -> list[PhaseResult]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
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
            wrk_path: str | None = None,
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
            if wrk_path and args.wrk:  # the same path, a standard generator, right after
                measured = await run_wrk(name, base_url + wrk_path, headers, args)
                results.append(measured)
                print(f"  {measured.name}: {measured.throughput:.0f} req/s", file=sys.stderr)
            return result

        if "health" in phases:
            await phase(
                "GET /v1/health", lambda c, i: c.get("/v1/health"), is_status(200), get=True, wrk_path="/v1/health"
            )

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
                wrk_path="/v1/models",
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
                wrk_path=None if think else f"/v1/stt/{ids[0]}",  # wrk has no pacing: closed loop only
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


def table(results: list[PhaseResult], args: argparse.Namespace, setup: str) -> str:
    lines = [
        f"{setup}; concurrency {args.concurrency}, up to {args.duration:g} s per phase, GET client "
        f"{args.client}; {os.cpu_count()} CPUs shared by server, worker and load generator",
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


def _create_key(settings_env: dict[str, str], data_dir: Path) -> str:
    """A real pro key in the store the server will read (SQLite in data_dir, or Redis)."""
    from server.auth.keys import open_key_store
    from server.settings import Settings

    redis_url = settings_env.get("VOICE_API_REDIS_URL")
    prefix = settings_env.get("VOICE_API_REDIS_PREFIX", "voice:")
    settings = Settings(redis_url=redis_url, redis_prefix=prefix, storage={"data_dir": data_dir})
    return open_key_store(settings).create(owner="load-test", plan="pro")[1]


@contextlib.contextmanager
def started(mode: str, args: argparse.Namespace, tmp: Path) -> Iterator[tuple[str, str | None, str]]:
    """The server (and, distributed, its worker) for one mode: (base URL, API key or None, setup line)."""
    data_dir = tmp / mode / "data"
    env = {"VOICE_API_STORAGE__DATA_DIR": str(data_dir), "VOICE_API_AUTH__ENABLED": str(args.auth).lower()}
    # Submit phases queue up to --max-submits tasks at once; pro allows 5 by default.
    env["VOICE_API_AUTH__PLANS__PRO__MAX_CONCURRENT_TASKS"] = "100000"
    if args.worker_niceness is not None:  # both modes: embedded worker threads, or the worker process
        env["VOICE_API_WORKER__NICENESS"] = str(args.worker_niceness)
    for setting in args.setting:  # user_env drops the caller's VOICE_API_* variables: settings come here
        name, _, value = setting.partition("=")
        env["VOICE_API_" + name.replace(".", "__").upper()] = value
    prefix = f"load-{uuid.uuid4().hex[:8]}:"
    if mode == "distributed":
        env |= {"VOICE_API_REDIS_URL": args.redis_url, "VOICE_API_REDIS_PREFIX": prefix}
    api_key = _create_key(env, data_dir) if args.auth else None
    processes = [ServeProcess(user_env(**env), tmp / f"{mode}-serve.log")]
    if mode == "distributed":
        # Started as a service manager starts it, in a session of its own; it lowers its own CPU
        # priority (worker.niceness, server/worker/priority.py) as the embedded worker threads do.
        worker = [*VOICE_API, "worker", "--queues", "stt,tts,clone", "--concurrency", "1"]
        processes.append(Process(worker, user_env(**env), tmp / f"{mode}-worker.log"))
    try:
        processes[0].wait_healthy()
        if mode == "distributed":
            _wait_for_worker(processes[0].base_url)
        auth = "auth on, a pro key" if args.auth else "auth off"
        niceness = env.get("VOICE_API_WORKER__NICENESS", "10 (default)")
        setup = (
            "embedded: one `voice-api serve` (uvicorn) with its in-process worker, SQLite"
            if mode == "embedded"
            else "distributed: one `voice-api serve` (uvicorn) + one `voice-api worker` (Celery, 1 process, "
            f"niceness {niceness}, as the embedded worker threads), Redis {args.redis_url}"
        )
        print(f"{mode}: started at {processes[0].base_url} ({auth})", file=sys.stderr)
        yield processes[0].base_url, api_key, f"{setup}; {auth}"
    finally:
        for process in reversed(processes):
            process.stop()
        if mode == "distributed":
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for pattern in (f"{prefix}*", f"_kombu.binding*.{prefix}*"):
                for key in client.scan_iter(match=pattern):
                    client.delete(key)


def _wait_for_worker(base_url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{base_url}/v1/health", timeout=5).json().get("workers"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"no worker registered within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server; default: start one per --mode")
    parser.add_argument("--api-key", help="for a --url server with authentication on")
    parser.add_argument("--mode", choices=("both", "embedded", "distributed"), default="both")
    parser.add_argument("--no-auth", dest="auth", action="store_false", help="start the servers with auth off")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="for the distributed mode")
    parser.add_argument(
        "--worker-niceness", type=int, help="worker.niceness for both modes (default: the setting's default, 10)"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="SECTION.NAME=VALUE",
        help="a setting for the started servers and workers, e.g. storage.task_status_cache_s=0 (repeatable)",
    )
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
        default="raw",
        help="GET phases: a lean asyncio keep-alive client (raw, default: on a small machine httpx "
        "saturates before the server does) or httpx",
    )
    parser.add_argument("--no-wrk", dest="wrk", action="store_false", help="do not run wrk even if installed")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    args = parser.parse_args()
    if args.wrk and not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk): Python generator only", file=sys.stderr)
        args.wrk = False

    if args.url:
        results = asyncio.run(run(args, args.url.rstrip("/"), args.api_key))
        print(table(results, args, f"server at {args.url}"))
        failed = sum(r.errors for r in results)
    else:
        failed = 0
        modes = ("embedded", "distributed") if args.mode == "both" else (args.mode,)
        with tempfile.TemporaryDirectory(prefix="voice-load-") as tmp:
            for mode in modes:
                with started(mode, args, Path(tmp)) as (base_url, api_key, setup):
                    results = asyncio.run(run(args, base_url, api_key))
                print(table(results, args, setup) + "\n", flush=True)
                failed += sum(r.errors for r in results)
    if failed:
        print(f"\n{failed} request(s) failed", file=sys.stderr)


if __name__ == "__main__":
    main()
