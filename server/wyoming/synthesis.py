"""Rendering speech for Wyoming: the voice a request means, one interactive TTS task per sentence
(rendered as WAV at the voice's own rate, sent as raw PCM chunks).

Until tasks stream partial output, a task's audio is sent once it has finished; making each sentence
its own task (server/wyoming/streaming.py) is what gets the first audio out early.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import ValidationError
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import SynthesizeVoice

from server.domain.catalog import language_matches
from server.domain.errors import InvalidRequest, NotFound
from server.domain.tasks import TaskKind
from server.domain.tts_artifacts import audio_artifact
from server.domain.tts_options import TtsRequest
from server.services.task_output import finished
from server.services.tts_requests import check_script
from server.wyoming.context import WyomingContext
from server.wyoming.info import offered_voices

Send = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class Pcm:
    rate: int
    width: int
    channels: int
    frames: bytes


async def resolve_voice(ctx: WyomingContext, voice: SynthesizeVoice | None) -> str:
    """The voice id to speak with: by name (and speaker), else the first offered voice of the
    language, else the default. Only voices the operator exposes are accepted."""
    offered = await offered_voices(ctx)
    ids = [item.id for item in offered]
    default = ctx.settings.default_voice or ctx.services.settings.tts.default_voice
    if voice is not None and voice.name:
        # A multi-speaker voice is listed as "<voice>:<speaker>" (XTTS's built-in speakers).
        wanted = f"{voice.name}:{voice.speaker}" if voice.speaker else voice.name
        if wanted in ids:
            return wanted
        raise NotFound(f"no voice {wanted!r} on this server; describe lists the voices", code="voice_not_found")
    if voice is not None and voice.language:
        for item in sorted(offered, key=lambda item: item.id != default):  # the default voice first
            if any(language_matches(voice.language, offered_language) for offered_language in item.languages):
                return item.id
        raise NotFound(f"no voice speaks {voice.language!r} on this server", code="voice_not_found")
    if default in ids or not ids:
        return default  # with no voice listed yet (no worker reporting) the worker decides
    return ids[0]


def check_text(ctx: WyomingContext, text: str, voice_id: str) -> None:
    """The whole text against the script rules and the per-call cap, before it is cut into sentences."""
    check_script(_request(text, voice_id), [voice_id], ctx.services.settings.tts)


def _request(text: str, voice_id: str) -> TtsRequest:
    try:
        return TtsRequest(text=text, model_ids=[voice_id], format="wav")
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InvalidRequest(f"cannot synthesise this text: {problem['msg']}", code="invalid_text") from None


async def render(ctx: WyomingContext, text: str, voice_id: str) -> Pcm:
    """Synthesise `text` (our script language: cues, markers) with one voice, as 16-bit PCM. The
    caller has spent the request's rate-limit budget (once per request, not per sentence)."""
    services = ctx.services
    task = await services.submissions.submit_tts(ctx.caller, _request(text, voice_id), interactive=True)
    timeout = ctx.settings.task_timeout_s
    done = await finished(services.tasks, task.id, ctx.caller.owner, TaskKind.TTS, timeout, "synthesis")
    path = services.tasks.artifacts.path(done.id, audio_artifact("wav"))
    return await asyncio.to_thread(read_pcm, path)


def read_pcm(path) -> Pcm:
    with wave.open(str(path), "rb") as wav:
        return Pcm(wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.readframes(wav.getnframes()))


async def send_audio(send: Send, pcm: Pcm, samples_per_chunk: int, *, start: bool = True, stop: bool = True) -> None:
    fmt = {"rate": pcm.rate, "width": pcm.width, "channels": pcm.channels}
    if start:
        await send(AudioStart(**fmt).event())
    step = samples_per_chunk * pcm.width * pcm.channels
    for offset in range(0, len(pcm.frames), step):
        await send(AudioChunk(audio=pcm.frames[offset : offset + step], **fmt).event())
    if stop:
        await send(AudioStop().event())
