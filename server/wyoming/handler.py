"""One Wyoming connection: events in, calls on the services, events out.

Errors become `error` events with the project's codes and the connection stays open, so a client can
correct itself (another voice, another language) without reconnecting.
"""

from __future__ import annotations

import asyncio
import logging

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from server.domain.errors import ServiceError
from server.wyoming.context import WyomingContext
from server.wyoming.errors import INTERNAL, error_event
from server.wyoming.info import describe
from server.wyoming.streaming import SentenceSpeaker
from server.wyoming.synthesis import check_text, resolve_voice
from server.wyoming.transcription import Transcription, stt_options

log = logging.getLogger(__name__)


class VoiceApiHandler(AsyncEventHandler):
    def __init__(self, ctx: WyomingContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self._ctx = ctx
        self._transcribe: Transcribe | None = None  # the request the next audio belongs to
        self._transcription: Transcription | None = None
        self._streaming = False  # between synthesize-start and synthesize-stop
        self._stream: SentenceSpeaker | None = None

    async def handle_event(self, event: Event) -> bool:
        try:
            await self._handle(event)
        except ServiceError as exc:
            log.info("wyoming %s: %s (%s)", event.type, exc.message, exc.code)
            await self.write_event(error_event(exc))
        except (ConnectionError, asyncio.IncompleteReadError):
            return False  # the client went away
        except Exception:
            log.exception("wyoming %s failed", event.type)
            await self.write_event(INTERNAL.event())
        return True

    async def disconnect(self) -> None:
        await self._drop_transcription()
        await self._drop_stream()

    async def _handle(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.write_event((await describe(self._ctx)).event())
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif Transcribe.is_type(event.type):
            self._transcribe = Transcribe.from_event(event)
        elif AudioStart.is_type(event.type):
            await self._start_transcription(AudioStart.from_event(event))
        elif AudioChunk.is_type(event.type):
            if self._transcription is not None:
                self._transcription.add(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            await self._finish_transcription()
        elif Synthesize.is_type(event.type):
            if not self._streaming:  # inside a stream it only repeats the whole text for older servers
                await self._synthesize(Synthesize.from_event(event))
        elif SynthesizeStart.is_type(event.type):
            await self._start_stream(SynthesizeStart.from_event(event))
        elif SynthesizeChunk.is_type(event.type):
            if self._stream is not None:
                self._stream.add(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(event.type):
            await self._finish_stream()
        # Anything else (wake, intent, satellite events) is not ours: ignored, as Wyoming servers do.

    # -- speech-to-text -----------------------------------------------------------------------
    async def _start_transcription(self, start: AudioStart) -> None:
        await self._drop_transcription()  # a new utterance replaces one never stopped
        capabilities = await asyncio.to_thread(self._ctx.services.dispatcher.capabilities)
        options = stt_options(self._ctx, self._transcribe, capabilities.get("stt") or {})
        await self._ctx.admit()
        self._transcription = Transcription(self._ctx, options, start)

    async def _finish_transcription(self) -> None:
        transcription, self._transcription = self._transcription, None
        request, self._transcribe = self._transcribe, None
        if transcription is None:
            return  # audio-stop without audio-start, or after an error already reported
        asked = request.language if request is not None else None
        streamed = False

        async def send_chunk(text: str) -> None:
            # transcript-start with the first segment: an utterance that fails, or has no speech,
            # sends no half-open stream before its error or empty transcript.
            nonlocal streamed
            if not streamed:
                streamed = True
                await self.write_event(TranscriptStart(language=asked).event())
            await self.write_event(TranscriptChunk(text=text).event())

        text, language = await transcription.finish(on_segment=send_chunk)
        if streamed:
            await self.write_event(TranscriptStop().event())
        await self.write_event(Transcript(text=text, language=language or asked).event())

    async def _drop_transcription(self) -> None:
        transcription, self._transcription = self._transcription, None
        if transcription is not None:
            await transcription.cancel()

    # -- text-to-speech -----------------------------------------------------------------------
    async def _synthesize(self, request: Synthesize) -> None:
        voice_id = await resolve_voice(self._ctx, request.voice)
        check_text(self._ctx, request.text, voice_id)  # the whole text's errors before any audio
        await self._ctx.admit()
        speaker = SentenceSpeaker(self._ctx, voice_id, self.write_event, text_stream=False)
        speaker.add(request.text)
        try:
            await speaker.finish()
        finally:
            await speaker.cancel()  # a no-op once finished; stops the renders if the client went away

    async def _start_stream(self, start: SynthesizeStart) -> None:
        await self._drop_stream()
        self._streaming = True  # set first: an unknown voice still makes this a stream to end properly
        voice_id = await resolve_voice(self._ctx, start.voice)
        await self._ctx.admit()  # one request, however many sentences the answer has
        self._stream = SentenceSpeaker(self._ctx, voice_id, self.write_event, text_stream=True)

    async def _finish_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._streaming = False
        if stream is None:
            await self.write_event(SynthesizeStopped().event())  # its error was already sent
            return
        await stream.finish()

    async def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._streaming = False
        if stream is not None:
            await stream.cancel()
