"""Task metrics shared by every process that runs tasks: outcomes, durations and real-time factor
by task kind. In-process for the embedded mode; Redis hashes in the distributed mode, so the API's
/metrics sees what every worker did."""

from __future__ import annotations

import abc
import threading
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis

DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def _bucket_keys(kind: str, name: str, value: float, buckets: tuple[float, ...]) -> list[str]:
    return [f"{kind}|{name}_bucket|{b}" for b in buckets if value <= b] + [f"{kind}|{name}_bucket|+Inf"]


def observations(kind: str, outcome: str, duration_s: float, audio_s: float | None) -> dict[str, float]:
    """The counter increments one finished task contributes."""
    incr: dict[str, float] = {f"{kind}|outcome|{outcome}": 1}
    incr.update({k: 1 for k in _bucket_keys(kind, "duration", duration_s, DURATION_BUCKETS)})
    incr[f"{kind}|duration_sum|"] = duration_s
    incr[f"{kind}|duration_count|"] = 1
    if audio_s and outcome == "succeeded":
        rtf = duration_s / audio_s
        incr.update({k: 1 for k in _bucket_keys(kind, "rtf", rtf, RTF_BUCKETS)})
        incr[f"{kind}|rtf_sum|"] = rtf
        incr[f"{kind}|rtf_count|"] = 1
        incr[f"{kind}|audio_seconds|"] = audio_s
    return incr


class TaskMetrics(abc.ABC):
    def record(self, kind: str, outcome: str, duration_s: float, audio_s: float | None) -> None:
        self._add(observations(kind, outcome, duration_s, audio_s))

    @abc.abstractmethod
    def _add(self, increments: dict[str, float]) -> None: ...

    @abc.abstractmethod
    def snapshot(self) -> dict[str, float]: ...


class MemoryTaskMetrics(TaskMetrics):
    def __init__(self) -> None:
        self._values: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def _add(self, increments: dict[str, float]) -> None:
        with self._lock:
            for key, value in increments.items():
                self._values[key] += value

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._values)


class RedisTaskMetrics(TaskMetrics):
    def __init__(self, client: Redis, prefix: str) -> None:
        self._redis = client
        self._key = f"{prefix}metrics"

    def _add(self, increments: dict[str, float]) -> None:
        try:
            with self._redis.pipeline() as pipe:
                for key, value in increments.items():
                    pipe.hincrbyfloat(self._key, key, value)
                pipe.execute()
        except Exception:
            pass  # metrics must never fail a task

    def snapshot(self) -> dict[str, float]:
        return {_text(k): float(v) for k, v in self._redis.hgetall(self._key).items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
