"""The interactive lane: which tasks go there, and that the embedded queue serves it first."""

from __future__ import annotations

import threading

from server.dispatch.embedded import LaneQueue
from server.domain.tasks import TaskKind, TaskLane
from server.services.lanes import choose_lane
from server.settings import WorkerSettings


def test_short_work_is_interactive_and_an_explicit_flag_wins():
    settings = WorkerSettings(interactive_max_audio_s=30, interactive_max_characters=500)
    assert choose_lane(settings, TaskKind.STT, 3.0, None) is TaskLane.INTERACTIVE
    assert choose_lane(settings, TaskKind.STT, 1800.0, None) is TaskLane.BATCH
    assert choose_lane(settings, TaskKind.STT, None, None) is TaskLane.BATCH  # unknown length: not short
    assert choose_lane(settings, TaskKind.TTS, 120, None) is TaskLane.INTERACTIVE
    assert choose_lane(settings, TaskKind.TTS, 4000, None) is TaskLane.BATCH
    assert choose_lane(settings, TaskKind.CLONE, 10.0, None) is TaskLane.BATCH
    assert choose_lane(settings, TaskKind.STT, 1800.0, True) is TaskLane.INTERACTIVE
    assert choose_lane(settings, TaskKind.STT, 3.0, False) is TaskLane.BATCH
    off = WorkerSettings(interactive_max_audio_s=0, interactive_max_characters=0)
    assert choose_lane(off, TaskKind.STT, 3.0, None) is TaskLane.BATCH


def test_interactive_tasks_are_taken_first():
    queue = LaneQueue()
    queue.put("long-1", TaskLane.BATCH)
    queue.put("long-2", TaskLane.BATCH)
    queue.put("short", TaskLane.INTERACTIVE)
    both = (TaskLane.INTERACTIVE, TaskLane.BATCH)
    assert [queue.get(both) for _ in range(3)] == ["short", "long-1", "long-2"]
    assert len(queue) == 0


def test_an_interactive_only_worker_never_takes_batch_work_and_close_wakes_it():
    queue = LaneQueue()
    queue.put("long", TaskLane.BATCH)
    taken: list[str | None] = []
    worker = threading.Thread(target=lambda: taken.append(queue.get((TaskLane.INTERACTIVE,))))
    worker.start()
    worker.join(0.2)
    assert worker.is_alive() and taken == []  # the batch task is not for it
    queue.put("short", TaskLane.INTERACTIVE)
    worker.join(5)
    assert taken == ["short"]
    waiting = threading.Thread(target=lambda: taken.append(queue.get((TaskLane.INTERACTIVE,))))
    waiting.start()
    queue.close()
    waiting.join(5)
    assert not waiting.is_alive() and taken[-1] is None
    assert len(queue) == 1  # the batch task stays for the next start (the store is the truth)
