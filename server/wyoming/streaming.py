"""Speech sentence by sentence: each sentence is its own TTS task, started the moment the sentence is
complete, and its audio is sent as soon as it (and every sentence before it) is rendered. The
workers render sentence 2 while sentence 1 is being played.

Two shapes on the wire:
- a text stream (synthesize-start, synthesize-chunk…, synthesize-stop), so an LLM's answer is
  spoken as it is written: each sentence as one audio-start/chunks/audio-stop (as wyoming-piper
  does), then synthesize-stopped;
- one `synthesize` with the whole text: one audio-start, the chunks of every sentence, one audio-stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.audio import AudioStop
from wyoming.tts import SynthesizeStopped

from server.domain.errors import ServiceError
from server.wyoming.context import WyomingContext
from server.wyoming.errors import INTERNAL, error_event
from server.wyoming.sentences import SentenceStream
from server.wyoming.synthesis import Pcm, Send, render, send_audio

log = logging.getLogger(__name__)


class SentenceSpeaker:
    def __init__(self, ctx: WyomingContext, voice_id: str, send: Send, *, text_stream: bool) -> None:
        self._ctx = ctx
        self._voice_id = voice_id
        self._send = send
        self._text_stream = text_stream
        self._sentences = SentenceStream()
        self._renders: asyncio.Queue[asyncio.Task[Pcm] | None] = asyncio.Queue()
        self._speaker = asyncio.create_task(self._speak(), name="wyoming sentence speaker")

    def add(self, text: str) -> None:
        for sentence in self._sentences.add(text):
            self._start(sentence)

    async def finish(self) -> None:
        """Speak what is left and wait until every sentence has been sent."""
        if (rest := self._sentences.finish()) is not None:
            self._start(rest)
        self._renders.put_nowait(None)
        await self._speaker

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
        failed, started = False, False  # after an error the rest is not spoken: one error event is enough
        samples_per_chunk = self._ctx.settings.samples_per_chunk
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
                log.exception("wyoming: a sentence failed to render")
                await self._send(INTERNAL.event())
                failed = True
                continue
            if self._text_stream:
                await send_audio(self._send, pcm, samples_per_chunk)
            else:
                await send_audio(self._send, pcm, samples_per_chunk, start=not started, stop=False)
                started = True
        if self._text_stream:
            await self._send(SynthesizeStopped().event())
        elif started and not failed:
            await self._send(AudioStop().event())
