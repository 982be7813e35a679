"""A task's output as it is made, for any front-end: TTS audio bytes and STT transcript segments,
and the finished task's result (its transcript), or its failure as the project's error.

Both streams follow the task's partial-output stream (task_stream.py) and end when the task does. Callers
that must answer with an error status before sending anything (HTTP) use `first_then_rest`: it
waits for the first piece, so a task that fails before producing any output raises its error
instead of ending an empty 200 response.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

from anyio import to_thread

from server.domain.errors import TaskFailed, Timeout
from server.domain.tasks import Task, TaskKind, TaskStatus
from server.domain.transcripts import TRANSCRIPT_ARTIFACT, SttResult, SttSegment, segment_from_json
from server.domain.tts_artifacts import audio_artifact
from server.services.task_stream import AUDIO, SEGMENT, StreamTruncated
from server.services.tasks import TaskService

FILE_CHUNK = 64 * 1024
T = TypeVar("T")


def failure(task: Task, what: str) -> TaskFailed:
    """The ended task's failure, with its own error code."""
    error = task.error
    return TaskFailed(
        f"the {what} failed: {error.message if error else 'unknown error'}",
        code=error.code if error else None,
        task_id=task.id,
    )


async def finished(tasks: TaskService, task_id: str, owner: str, kind: TaskKind, timeout: float, what: str) -> Task:
    """Wait for the task's end: the task if it succeeded, its failure, or Timeout if it runs on."""
    task = await tasks.wait(task_id, owner, kind, timeout)
    if task.status is TaskStatus.FAILED:
        raise failure(task, what)
    if task.status is not TaskStatus.SUCCEEDED:
        raise Timeout(
            f"the {what} did not finish in time (task {task_id} is {task.status.value}); "
            f"follow it at /v1/{kind.value}/{task_id}"
        )
    return task


OUTCOME_WAIT_S = 30.0  # from the stream's end to the recorded outcome: milliseconds, unless the store is away


async def follow_audio(tasks: TaskService, task_id: str, owner: str) -> AsyncIterator[bytes]:
    """The TTS task's audio bytes in its format, from the first byte to the last: streamed while it
    runs; from the stored file when it has already ended and its stream has expired or was trimmed."""
    sent = False
    try:
        async for item in tasks.follow(task_id, owner, TaskKind.TTS):
            if item.kind == AUDIO and item.data:
                sent = True
                yield item.data
    except StreamTruncated:
        if sent:
            return  # part of it is already out: the client has to fetch the file
    if sent:
        # The stream ends just before the worker records the task's outcome. Wait for that, so a
        # client holding the whole response may submit its next task at once: a plan allowing one
        # task at a time still counted this one as running, and the next call got a 429 by chance.
        task = await tasks.wait(task_id, owner, TaskKind.TTS, OUTCOME_WAIT_S)
        if task.status is TaskStatus.FAILED:
            raise failure(task, "speech")
        return
    task = await finished(tasks, task_id, owner, TaskKind.TTS, float("inf"), "speech")
    fmt = (task.result or {})["format"]  # a succeeded TTS task records its format
    path = tasks.artifacts.path(task.id, audio_artifact(fmt))
    with open(path, "rb") as file:  # noqa: ASYNC230 - small reads of a local file
        while chunk := file.read(FILE_CHUNK):
            yield chunk


async def follow_segments(tasks: TaskService, task_id: str, owner: str) -> AsyncIterator[SttSegment]:
    """Transcript segments as Whisper decodes them (no speakers yet: those come with the whole
    transcript, from `finished_transcript`)."""
    with contextlib.suppress(StreamTruncated):  # the whole transcript still comes at the end
        async for item in tasks.follow(task_id, owner, TaskKind.STT):
            if item.kind == SEGMENT:
                yield segment_from_json(item.meta)


async def finished_transcript(tasks: TaskService, task_id: str, owner: str, timeout: float) -> SttResult:
    """Wait for the STT task's end and return its transcript; TaskFailed if it failed."""
    task = await finished(tasks, task_id, owner, TaskKind.STT, timeout, "transcription")
    document = await to_thread.run_sync(tasks.artifacts.read_json, task.id, TRANSCRIPT_ARTIFACT)
    return SttResult.from_json(document)


async def first_then_rest(chunks: AsyncIterator[T]) -> AsyncIterator[T]:
    """Await the first item now (errors raise here), then return an iterator over all of them."""
    iterator = chunks.__aiter__()
    try:
        first = [await iterator.__anext__()]
    except StopAsyncIteration:
        first = []

    async def rest() -> AsyncIterator[T]:
        for item in first:
            yield item
        if first:
            async for item in iterator:
                yield item

    return rest()
