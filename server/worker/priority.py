"""CPU priority of the worker side: engines compute below the API, so status polls stay fast on a
machine that runs both.

Embedded mode lowers each worker thread (Linux niceness is per thread, and the CTranslate2/torch
threads a worker thread starts inherit it): it shares its process, and its scheduling group, with
the event loop answering polls.

A `voice-api worker` process needs more than `nice`. With the kernel's autogroup scheduling (the
default on desktop and many server kernels), CPU time is shared first between *sessions*, and a
thread's niceness only counts against threads of its own session. A worker started in a session of
its own (by a service manager, `setsid`, or a benchmark) therefore got as much CPU as the API's whole
session despite nice 10: measured in docs/benchmarks.md (issue 19), about a third of two busy cores
and paced status polls well past their target. So the worker also lowers its autogroup, the kernel's
per-session knob, when that autogroup is its own, that is when it leads its session. In a session it
shares (a terminal's), it leaves the others' priority alone. Under systemd or containers, whose
cgroups bypass autogroups, an operator sets the share there (CPUWeight=, --cpu-shares).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")
# One entry per thread of this process.
THREADS = Path("/proc/self/task")


@dataclass(frozen=True)
class Applied:
    """What `lower_process_priority` set (None: left as it was, or not possible here)."""

    niceness: int | None
    autogroup_niceness: int | None


def lower_thread_priority(niceness: int) -> None:
    """The calling thread, and the threads it starts from now on, at `niceness` or nicer."""
    with contextlib.suppress(AttributeError):  # not Linux
        _lower(threading.get_native_id(), niceness)


def lower_process_priority(niceness: int, autogroup: Path = AUTOGROUP) -> Applied:
    """For a worker process, called first thing (before it starts threads or pool processes, which
    inherit it): every thread's niceness, and its autogroup's when it leads its session."""
    if niceness <= 0:
        return Applied(None, None)
    lower_thread_priority(niceness)
    _lower_threads_started_before(niceness)
    return Applied(_own_niceness(), _lower_autogroup(niceness, autogroup))


def _lower(tid: int, niceness: int) -> None:
    with contextlib.suppress(OSError):  # not permitted, or the thread has just ended: as it was
        if niceness > os.getpriority(os.PRIO_PROCESS, tid):  # only ever lower: an operator's `nice -n 15` stands
            os.setpriority(os.PRIO_PROCESS, tid, niceness)


def _lower_threads_started_before(niceness: int) -> None:
    """Imports start native threads before any code of ours runs: OpenBLAS starts its pool when numpy
    is imported. They would compute at the old niceness (and a thread they start inherits it), so
    every thread the process has now is lowered too. (Found by the flake hunt: the worker's priority
    test saw OpenBLAS's thread at nice 0 whenever it outlived the check on a loaded machine.)"""
    try:
        tids = [int(name) for name in os.listdir(THREADS)]
    except (OSError, ValueError):  # not Linux
        return
    for tid in tids:
        _lower(tid, niceness)


def _own_niceness() -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return None


def _lower_autogroup(niceness: int, autogroup: Path) -> int | None:
    try:
        if os.getsid(0) != os.getpid():
            return None  # the session (and its autogroup) is shared: e.g. a terminal's
        current = _autogroup_niceness(autogroup.read_text())
        if current is None:
            return None
        if niceness > current:
            autogroup.write_text(str(niceness))
            current = niceness
        return current
    except OSError as exc:  # no autogroup support (FileNotFoundError), or not permitted
        log.debug("autogroup niceness not set: %s", exc)
        return None


def _autogroup_niceness(text: str) -> int | None:
    """`/autogroup-123 nice 0` -> 0."""
    parts = text.split()
    if len(parts) == 3 and parts[1] == "nice":
        with contextlib.suppress(ValueError):
            return int(parts[2])
    return None
