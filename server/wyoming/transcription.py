"""transcribe + audio-start/chunk/stop -> transcript, as one interactive STT task.

The audio is staged while it arrives (the submission runs beside the connection, reading the chunks
from a queue), so audio-stop only has to close the file, record the task and wait for its result.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart

from server.domain.errors import InvalidRequest
from server.domain.stt_options import SttOptions
from server.domain.transcript_formats import spoken
from server.services.audio_source import AudioStream, PcmFormat
from server.services.task_output import finished_transcript, follow_segments
from server.wyoming.context import WyomingContext
from server.wyoming.info import PROGRAM, served_model

_END = None  # queued after the last chunk


def stt_options(ctx: WyomingContext, request: Transcribe | None, stt: dict) -> SttOptions:
    """A voice command: one speaker, so no diarization; the model must be the one served."""
    model = served_model(ctx, stt)
    if request is not None and request.name and request.name not in (PROGRAM, model):
        raise InvalidRequest(
            f"no speech-to-text model {request.name!r}; this server runs {model!r}", code="model_not_found"
        )
    language = request.language if request is not None else None
    # Home Assistant may send a region ("en-US"); Whisper knows languages only.
    primary = language.replace("_", "-").split("-")[0] if language else None
    return SttOptions(language=primary, diarize=False)


class Transcription:
    """One utterance: started at audio-start, fed with audio-chunks, finished at audio-stop."""

    def __init__(self, ctx: WyomingContext, options: SttOptions, start: AudioStart) -> None:
        self._ctx = ctx
        self._format = PcmFormat(rate=start.rate, width=start.width, channels=start.channels)
        # A client may change format mid-stream; its chunks are converted to the announced one.
        self._converter = AudioChunkConverter(rate=start.rate, width=start.width, channels=start.channels)
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        source = AudioStream(self._stream(), name="wyoming.wav", pcm=self._format)
        self._submission = asyncio.create_task(
            ctx.services.submissions.submit_stt(ctx.caller, source, options, interactive=True),
            name="wyoming stt submission",
        )

    def add(self, chunk: AudioChunk) -> None:
        if self._submission.done():
            return  # staging already failed (too large, a full disk): its error comes at audio-stop
        if (chunk.rate, chunk.width, chunk.channels) != (self._format.rate, self._format.width, self._format.channels):
            chunk = self._converter.convert(chunk)
        self._chunks.put_nowait(chunk.audio)

    async def finish(self, on_segment: Callable[[str], Awaitable[None]] | None = None) -> tuple[str, str | None]:
        """The transcript's text and language; `on_segment` gets each segment's text as it is decoded
        (from the task's partial output, so also when a distributed worker runs it)."""
        self._chunks.put_nowait(_END)
        task = await self._submission
        tasks, owner = self._ctx.services.tasks, self._ctx.caller.owner
        if on_segment is not None:  # partial text is a bonus: the whole transcript follows
            async for segment in follow_segments(tasks, task.id, owner):
                if segment.text:
                    await on_segment(segment.text)
        return spoken(await finished_transcript(tasks, task.id, owner, timeout=self._ctx.settings.task_timeout_s))

    async def cancel(self) -> None:
        self._submission.cancel()
        with contextlib.suppress(BaseException):
            await self._submission

    async def _stream(self) -> AsyncIterator[bytes]:
        while (chunk := await self._chunks.get()) is not _END:
            yield chunk
