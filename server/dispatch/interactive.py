"""The interactive lane's own worker process beside each distributed worker.

A Celery worker process runs one task at a time: while it transcribes a four-hour recording, a
two-second voice command in its interactive queue would wait for it however the queues are ordered.
So `voice-api worker` starts a companion `voice-api worker --lane interactive` that consumes only the
interactive queues of the same capabilities. It loads its own models (on first use), and it dies with
its parent: same process group for an operator's kill, and PR_SET_PDEATHSIG for a parent killed alone.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import subprocess
import sys

from server.domain.tasks import TaskKind
from server.settings import Settings

log = logging.getLogger(__name__)

# Cloning has no interactive lane: a clone is never a few seconds of work; an enrolment is.
INTERACTIVE_KINDS = (TaskKind.STT.value, TaskKind.TTS.value, TaskKind.SPEAKER.value)


def start_interactive_companion(settings: Settings, kinds: list[str], name: str) -> subprocess.Popen | None:
    count = settings.worker.interactive_workers
    served = [kind for kind in kinds if kind in INTERACTIVE_KINDS]
    if count <= 0 or not served:
        return None
    args = [sys.executable, "-m", "server.cli", "worker", "--lane", "interactive"]
    args += ["--queues", ",".join(served), "--concurrency", str(count), "--name", f"interactive-{name}"]
    companion = subprocess.Popen(args, preexec_fn=_die_with_parent)  # noqa: PLW1509 - only prctl, no locks
    log.info("interactive lane: worker process %d for %s", companion.pid, ",".join(served))
    atexit.register(_stop, companion)
    return companion


def _stop(companion: subprocess.Popen) -> None:
    if companion.poll() is None:
        companion.send_signal(signal.SIGTERM)
        try:
            companion.wait(20)
        except subprocess.TimeoutExpired:
            companion.kill()


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):  # not Linux: the atexit hook and the process group remain
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
