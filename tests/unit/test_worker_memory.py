"""The heap trimmer: malloc_trim through ctypes where glibc has it, at most once per interval."""

from __future__ import annotations

import platform

import pytest

from server.worker import memory
from server.worker.memory import HeapTrimmer, release_free_heap


def test_trims_at_most_once_per_interval():
    calls = []
    trimmer = HeapTrimmer(interval_s=3600.0, trim=lambda: calls.append(1))
    trimmer.maybe()
    assert calls == []  # the interval counts from creation: a short task never trims
    trimmer._last -= 3600.0
    trimmer.maybe()
    trimmer.maybe()
    assert calls == [1]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_free_heap_calls_glibc():
    assert memory._MALLOC_TRIM is not None
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # ~128 MB below the mmap threshold
    del blocks
    assert release_free_heap() is True  # something was released


def test_without_malloc_trim_it_does_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_MALLOC_TRIM", None)
    assert release_free_heap() is False
