"""The worker side's CPU priority (server/worker/priority.py): per thread, per process, per autogroup.

Each case runs in a thread of its own: niceness is per thread on Linux, and a lowered test thread
must not slow the rest of the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from server.worker import priority
from server.worker.priority import Applied, lower_process_priority, lower_thread_priority

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness and autogroups are Linux's")

# The runner's own niceness (0 unless the tests run under nice).
BEFORE = os.getpriority(os.PRIO_PROCESS, 0) if sys.platform == "linux" else 0


@pytest.fixture(autouse=True)
def only_the_calling_thread(monkeypatch, tmp_path):
    """The process-wide part would lower this test runner's own threads: the cases below see none
    (as where /proc is missing); `test_threads_started_before_the_call_are_lowered_too` runs it for real
    in a process of its own."""
    monkeypatch.setattr(priority, "THREADS", tmp_path / "no-proc-task")


def in_thread(fn):
    out: dict[str, object] = {}

    def run() -> None:
        out["value"] = fn()
        out["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out["value"], out["nice"]


def test_a_thread_is_lowered_and_never_raised_back():
    def lower() -> int:
        lower_thread_priority(6)
        lower_thread_priority(3)  # an operator's (or an earlier call's) higher niceness stands
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    value, _ = in_thread(lower)
    assert value == max(6, BEFORE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == BEFORE  # the caller is untouched


def autogroup_file(tmp_path: Path, nice: int = 0) -> Path:
    path = tmp_path / "autogroup"
    path.write_text(f"/autogroup-42 nice {nice}\n")
    return path


def test_a_session_leader_lowers_its_autogroup_too(tmp_path, monkeypatch):
    path = autogroup_file(tmp_path)
    monkeypatch.setattr(priority.os, "getsid", lambda pid: os.getpid())  # as if it led its session
    applied, nice = in_thread(lambda: lower_process_priority(10, autogroup=path))
    assert applied == Applied(niceness=max(10, BEFORE), autogroup_niceness=10)
    assert nice == max(10, BEFORE)
    assert path.read_text() == "10"


def test_a_shared_session_keeps_its_autogroup(tmp_path, monkeypatch):
    path = autogroup_file(tmp_path)
    monkeypatch.setattr(priority.os, "getsid", lambda pid: os.getpid() + 1)  # a terminal's session
    applied, _ = in_thread(lambda: lower_process_priority(10, autogroup=path))
    assert applied == Applied(niceness=max(10, BEFORE), autogroup_niceness=None)
    assert path.read_text() == "/autogroup-42 nice 0\n"


def test_an_autogroup_already_nicer_is_left_alone(tmp_path, monkeypatch):
    path = autogroup_file(tmp_path, nice=15)
    monkeypatch.setattr(priority.os, "getsid", lambda pid: os.getpid())
    applied, _ = in_thread(lambda: lower_process_priority(10, autogroup=path))
    assert applied.autogroup_niceness == 15
    assert path.read_text() == "/autogroup-42 nice 15\n"


def test_without_autogroup_support_only_the_process_is_lowered(tmp_path, monkeypatch):
    monkeypatch.setattr(priority.os, "getsid", lambda pid: os.getpid())
    applied, _ = in_thread(lambda: lower_process_priority(4, autogroup=tmp_path / "missing"))
    assert applied == Applied(niceness=max(4, BEFORE), autogroup_niceness=None)


def test_niceness_zero_changes_nothing(tmp_path, monkeypatch):
    path = autogroup_file(tmp_path)
    monkeypatch.setattr(priority.os, "getsid", lambda pid: os.getpid())
    applied, nice = in_thread(lambda: lower_process_priority(0, autogroup=path))
    assert applied == Applied(None, None) and nice == BEFORE
    assert path.read_text() == "/autogroup-42 nice 0\n"


@pytest.mark.parametrize("text", ["", "/autogroup-1", "/autogroup-1 nice x", "garbage nice 3 more"])
def test_an_unreadable_autogroup_line_is_not_written(tmp_path, monkeypatch, text):
    path = tmp_path / "autogroup"
    path.write_text(text)
    monkeypatch.setattr(priority.os, "getsid", lambda pid: os.getpid())
    applied, _ = in_thread(lambda: lower_process_priority(10, autogroup=path))
    assert applied.autogroup_niceness is None
    assert path.read_text() == text


def test_threads_started_before_the_call_are_lowered_too():
    # In a process of its own: numpy's import starts OpenBLAS's pool (native threads) and a Python
    # thread is already waiting, both before the call, as in `voice-api worker`; afterwards every
    # thread of the process runs at the worker's niceness.
    script = textwrap.dedent(
        """
        import os, threading
        import numpy  # noqa: F401 - starts OpenBLAS's threads
        from server.worker.priority import lower_process_priority
        from pathlib import Path

        started = threading.Event()
        waiting = threading.Thread(target=started.wait, daemon=True)
        waiting.start()
        lower_process_priority(7, autogroup=Path("/nonexistent"))
        tids = os.listdir("/proc/self/task")
        print(len(tids), sorted({os.getpriority(os.PRIO_PROCESS, int(t)) for t in tids}))
        """
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}  # a pool even on a one-core runner
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    count, nices = out.stdout.split(maxsplit=1)
    assert int(count) >= 3  # the main thread, the waiting one and OpenBLAS's
    assert nices.strip() == f"[{max(7, BEFORE)}]"
