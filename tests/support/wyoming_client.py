"""Speaking to a Wyoming server as Home Assistant does, with the `wyoming` package's own client."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

SAMPLES_PER_CHUNK = 1024
READ_TIMEOUT_S = 120.0  # a stuck server fails the test instead of hanging it


def client(port: int) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", port, connect_timeout=10, read_timeout=READ_TIMEOUT_S)


def pcm16(samples: np.ndarray, channels: int = 1) -> bytes:
    """Float mono samples as interleaved 16-bit PCM, the same signal on every channel."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    return np.repeat(pcm[:, None], channels, axis=1).tobytes() if channels > 1 else pcm.tobytes()


def resample(samples: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    times = np.arange(int(samples.size * new_rate / rate)) / new_rate
    return np.interp(times, np.arange(samples.size) / rate, samples).astype(np.float32)


async def describe(c: AsyncTcpClient) -> Info:
    await c.write_event(Describe().event())
    event = await next_event(c)
    assert Info.is_type(event.type), event
    return Info.from_event(event)


async def next_event(c: AsyncTcpClient) -> Event:
    event = await c.read_event()
    assert event is not None, "the server closed the connection"
    return event


async def transcribe_streamed(
    c: AsyncTcpClient, audio: bytes, rate: int, width: int = 2, channels: int = 1, language: str | None = "en"
) -> tuple[Event, list[Event]]:
    """Send one utterance in chunks of 1,024 samples; the server's answer (transcript or error) and
    the streaming events before it (transcript-start, -chunk…, -stop)."""
    fmt = {"rate": rate, "width": width, "channels": channels}
    await c.write_event(Transcribe(language=language).event())
    await c.write_event(AudioStart(**fmt).event())
    step = SAMPLES_PER_CHUNK * width * channels
    for offset in range(0, len(audio), step):
        await c.write_event(AudioChunk(audio=audio[offset : offset + step], **fmt).event())
    await c.write_event(AudioStop().event())
    streamed = []
    while True:
        event = await next_event(c)
        if not event.type.startswith("transcript-"):
            return event, streamed
        streamed.append(event)


async def transcribe(c: AsyncTcpClient, audio: bytes, rate: int, **fmt) -> Event:
    """The server's answer to one utterance (transcript or error)."""
    return (await transcribe_streamed(c, audio, rate, **fmt))[0]


async def transcript_text(c: AsyncTcpClient, audio: bytes, rate: int, **fmt) -> str:
    event = await transcribe(c, audio, rate, **fmt)
    assert Transcript.is_type(event.type), event
    return Transcript.from_event(event).text


@dataclass
class Speech:
    """Audio the server sent: one audio-start ... audio-stop."""

    rate: int
    width: int
    channels: int
    chunks: list[bytes] = field(default_factory=list)

    @property
    def pcm(self) -> bytes:
        return b"".join(self.chunks)

    def samples(self) -> np.ndarray:
        assert self.width == 2 and self.channels == 1
        return np.frombuffer(self.pcm, dtype="<i2").astype(np.float32) / 32768


async def read_speech(c: AsyncTcpClient) -> Speech | Error:
    """audio-start, audio-chunks, audio-stop (or an error event instead)."""
    event = await next_event(c)
    if Error.is_type(event.type):
        return Error.from_event(event)
    assert AudioStart.is_type(event.type), event
    start = AudioStart.from_event(event)
    speech = Speech(start.rate, start.width, start.channels)
    while not AudioStop.is_type((event := await next_event(c)).type):
        assert AudioChunk.is_type(event.type), event
        chunk = AudioChunk.from_event(event)
        assert (chunk.rate, chunk.width, chunk.channels) == (speech.rate, speech.width, speech.channels)
        speech.chunks.append(chunk.audio)
    return speech


async def synthesize(c: AsyncTcpClient, text: str, voice: str | None = None) -> Speech | Error:
    await c.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice) if voice else None).event())
    return await read_speech(c)
