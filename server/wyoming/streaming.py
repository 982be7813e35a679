"""synthesize-start, synthesize-chunk…, synthesize-stop: speak an answer while it is being written.

Each sentence becomes its own TTS task the moment it is complete, so the workers render sentence 2
while sentence 1 is being played; audio goes out strictly in order, each sentence as one
audio-start/chunks/audio-stop (as wyoming-piper does), then synthesize-stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.tts import SynthesizeStopped

from server.domain.errors import ServiceError
from server.wyoming.context import WyomingContext
from server.wyoming.errors import INTERNAL, error_event
from server.wyoming.sentences import SentenceStream
from server.wyoming.synthesis import Pcm, Send, render, send_audio

log = logging.getLogger(__name__)


class SynthesisStream:
    def __init__(self, ctx: WyomingContext, voice_id: str, send: Send) -> None:
        self._ctx = ctx
        self._voice_id = voice_id
        self._send = send
        self._sentences = SentenceStream()
        self._renders: asyncio.Queue[asyncio.Task[Pcm] | None] = asyncio.Queue()
        self._speaker = asyncio.create_task(self._speak(), name="wyoming tts stream")

    def add(self, text: str) -> None:
        for sentence in self._sentences.add(text):
            self._start(sentence)

    async def finish(self) -> None:
        """Speak what is left, wait until every sentence has been sent, then synthesize-stopped."""
        if (rest := self._sentences.finish()) is not None:
            self._start(rest)
        self._renders.put_nowait(None)
        await self._speaker
        await self._send(SynthesizeStopped().event())

    async def cancel(self) -> None:
        self._speaker.cancel()
        with contextlib.suppress(BaseException):
            await self._speaker
        while not self._renders.empty():
            if (pending := self._renders.get_nowait()) is not None:
                pending.cancel()

    def _start(self, sentence: str) -> None:
        self._renders.put_nowait(asyncio.create_task(render(self._ctx, sentence, self._voice_id)))

    async def _speak(self) -> None:
        failed = False  # after an error the rest of the stream is not spoken: one error event is enough
        while (pending := await self._renders.get()) is not None:
            if failed:
                pending.cancel()
                continue
            try:
                pcm = await pending
            except ServiceError as exc:
                await self._send(error_event(exc))
                failed = True
                continue
            except Exception:
                log.exception("wyoming: a streamed sentence failed")
                await self._send(INTERNAL.event())
                failed = True
                continue
            await send_audio(self._send, pcm, self._ctx.settings.samples_per_chunk)
