"""follow_audio: the speech response ends only once the task's outcome is recorded."""

from __future__ import annotations

import asyncio

import pytest

from server.domain.errors import TaskFailed
from server.domain.tasks import Task, TaskKind, TaskStatus
from server.services.task_output import follow_audio
from server.services.task_stream import AUDIO, StreamItem


class RecordsAfterTheStream:
    """A TTS task whose stream ends while the worker has yet to record its outcome (the order the
    worker uses: stream end first, so that a follower who sees the end has seen every item)."""

    def __init__(self, outcome: TaskStatus, record_after_s: float) -> None:
        self.task = Task.new(TaskKind.TTS, "owner").evolve(status=TaskStatus.RUNNING)
        self.outcome, self.record_after_s = outcome, record_after_s

    async def follow(self, task_id, owner, kind):
        yield StreamItem(0, AUDIO, b"RIFF...")
        asyncio.get_running_loop().call_later(self.record_after_s, self._record)

    def _record(self) -> None:
        self.task = self.task.evolve(status=self.outcome, progress=100)

    async def wait(self, task_id, owner, kind, timeout):
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.task.status.terminal and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        return self.task


async def _drain(tasks) -> list[bytes]:
    return [chunk async for chunk in follow_audio(tasks, tasks.task.id, "owner")]


def test_the_audio_ends_after_the_outcome_is_recorded():
    tasks = RecordsAfterTheStream(TaskStatus.SUCCEEDED, record_after_s=0.2)
    chunks = asyncio.run(_drain(tasks))
    assert chunks == [b"RIFF..."]
    # Before the fix the response ended with the task still running: a plan allowing one task at
    # a time refused the client's next call (seen as a 429 in the OpenAI SDK test under load).
    assert tasks.task.status is TaskStatus.SUCCEEDED


def test_a_failure_recorded_after_the_stream_is_raised():
    tasks = RecordsAfterTheStream(TaskStatus.FAILED, record_after_s=0.1)
    with pytest.raises(TaskFailed):
        asyncio.run(_drain(tasks))
