"""Hands the C heap's free pages back to the system while a long job runs (glibc's malloc_trim).

The STT job runs two engines on two threads (transcription and diarization), each allocating its
transient buffers (Whisper's features, the segmentation's and CAM++'s activations) in its own
glibc arena. Freed blocks below the dynamic mmap threshold (which grows to 32 MB after the first
large free) stay in their arena, so the process keeps every arena's high-water mark: the 10-minute
job held ~300 MB of freed heap on top of what it used (a fixed mmap threshold took its peak from
1,413 to 1,122 MB, at 11x the system CPU time; docs/benchmarks.md, issue 11). malloc_trim(0)
returns the free pages of every arena (madvise) without changing how memory is allocated; called
at most every `interval_s` from the job's progress reports, it costs a few ms each time.

Elsewhere than glibc (musl, macOS) there is no malloc_trim and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def release_free_heap() -> bool:
    """malloc_trim(0): True when the C library has it (and something may have been released)."""
    if _MALLOC_TRIM is None:
        return False
    return bool(_MALLOC_TRIM(0))


class HeapTrimmer:
    """`maybe()` trims the heap when `interval_s` has passed since the last trim (thread-safe)."""

    def __init__(self, interval_s: float = 1.0, trim: Callable[[], object] = release_free_heap) -> None:
        self._interval_s = interval_s
        self._trim = trim
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def maybe(self) -> None:
        now = time.monotonic()
        if now - self._last < self._interval_s:
            return
        with self._lock:
            if now - self._last < self._interval_s:
                return
            self._last = now
        self._trim()
