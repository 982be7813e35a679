"""OpenAI's server-sent event streams for speech and transcription, from a task's partial output."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

from server.domain.transcript_formats import diarized_segments
from server.domain.transcript_formats import usage as duration_usage
from server.http.openai.errors import openai_error_body
from server.http.openai.speech import usage
from server.http.openai.sse import sse_event
from server.http.openai.transcription import TranscriptionForm
from server.services.task_output import finished_transcript, follow_segments
from server.services.tasks import TaskService


def _error_event(exc: Exception) -> bytes:
    """The headers are out: a failure becomes the stream's last event."""
    error = {"code": getattr(exc, "code", "internal_error"), "message": getattr(exc, "message", None) or str(exc)}
    return sse_event(openai_error_body(getattr(exc, "status", 500), error), "error")


async def speech_events(chunks: AsyncIterator[bytes], characters: int) -> AsyncIterator[bytes]:
    sent = 0
    try:
        async for chunk in chunks:
            sent += len(chunk)
            yield sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
    except Exception as exc:
        yield _error_event(exc)
        return
    yield sse_event({"type": "speech.audio.done", "usage": usage(characters, sent)})


async def transcript_events(
    tasks: TaskService, task_id: str, owner: str, form: TranscriptionForm, timeout: float
) -> AsyncIterator[bytes]:
    """Deltas as segments are decoded (joined they are the final text), the speaker-labelled
    segments once diarization is done (diarized_json), then the whole text."""
    try:
        first = True
        async for segment in follow_segments(tasks, task_id, owner):
            if not segment.text:
                continue
            yield sse_event({"type": "transcript.text.delta", "delta": segment.text if first else " " + segment.text})
            first = False
        result = await finished_transcript(tasks, task_id, owner, timeout)
    except Exception as exc:
        yield _error_event(exc)
        return
    if form.response_format == "diarized_json":
        for item in diarized_segments(result):
            yield sse_event(item)
    yield sse_event({"type": "transcript.text.done", "text": result.text, "usage": duration_usage(result)})
