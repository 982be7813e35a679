"""Audio as any front-end delivers it, and staging it to a task's input file.

A front-end (the HTTP multipart parser, a Wyoming connection, an OpenAI-style form) hands the
submissions service an `AudioSource`: async byte chunks, the client's name for the file, and, for
raw PCM (which has no container to probe), its format. Staging writes the chunks to the task's input
artifact within a byte limit counted as they arrive, wrapping raw PCM in a WAV header so that every
later stage (probe, decode) sees an ordinary audio file.
"""

from __future__ import annotations

import hashlib
import wave
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from server.domain.artifacts import ArtifactStore
from server.domain.errors import PayloadTooLarge, UnsupportedMediaType


@dataclass(frozen=True)
class PcmFormat:
    """Raw little-endian signed PCM, as Wyoming's audio-chunk events carry it."""

    rate: int
    width: int = 2  # bytes per sample
    channels: int = 1

    def __post_init__(self) -> None:
        if not (8000 <= self.rate <= 192_000 and self.width in (1, 2, 3, 4) and 1 <= self.channels <= 8):
            raise UnsupportedMediaType(
                f"unsupported raw audio format: {self.rate} Hz, {self.width * 8}-bit, {self.channels} channel(s)"
            )


class AudioSource(Protocol):
    """What staging reads. `name` is read once `chunks()` is consumed (a multipart part's file
    name arrives inside the body); `pcm` and `declared_bytes` before."""

    name: str | None  # the client's file name: metadata only, never a path
    pcm: PcmFormat | None  # None: the bytes are a container (WAV, MP3, WebM…) that is probed
    declared_bytes: int | None  # the client's announced size, if any: over the limit -> 413 at once

    def chunks(self) -> AsyncIterator[bytes]: ...


@dataclass
class AudioStream:
    """An AudioSource over any async iterable of bytes (a Wyoming connection, a test)."""

    stream: AsyncIterable[bytes]
    name: str | None = None
    pcm: PcmFormat | None = None
    declared_bytes: int | None = None

    def chunks(self) -> AsyncIterator[bytes]:
        return aiter(self.stream)


@dataclass(frozen=True)
class StagedAudio:
    path: Path
    size: int  # bytes received from the client
    name: str | None
    sha256: str  # of the bytes received: what makes a retried upload "the same request"


async def stage_audio_source(
    source: AudioSource, artifacts: ArtifactStore, task_id: str, max_bytes: int
) -> StagedAudio:
    """Write the source to the task's input artifact atomically; 413 the moment `max_bytes` is crossed.
    On any failure (limit, a client that went away, a parse error) nothing is left behind."""
    if source.declared_bytes is not None and source.declared_bytes > max_bytes:
        raise PayloadTooLarge(f"the upload exceeds the {max_bytes / 1_000_000:.0f} MB limit", code="upload_too_large")
    file, tmp = artifacts.open_staging(task_id)
    size = 0
    digest = hashlib.sha256()
    try:
        writer = _PcmWriter(file, source.pcm) if source.pcm is not None else file
        async for chunk in source.chunks():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(
                    f"the upload exceeds the {max_bytes / 1_000_000:.0f} MB limit", code="upload_too_large"
                )
            digest.update(chunk)
            writer.write(chunk)
        writer.close()
    except BaseException:
        file.close()
        tmp.unlink(missing_ok=True)
        raise
    path = artifacts.commit(tmp, task_id, artifacts.INPUT)
    return StagedAudio(path=path, size=size, name=source.name, sha256=digest.hexdigest())


class _PcmWriter:
    """Raw PCM into a WAV file; the header's lengths are written when it is closed."""

    def __init__(self, file: BinaryIO, pcm: PcmFormat) -> None:
        self._file = file
        self._wav = wave.open(file, "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(pcm.channels)
        self._wav.setsampwidth(pcm.width)
        self._wav.setframerate(pcm.rate)
        self._frame = pcm.width * pcm.channels
        self._carry = b""  # a chunk may end inside a frame; wave wants whole frames

    def write(self, chunk: bytes) -> None:
        data = self._carry + chunk
        cut = len(data) - len(data) % self._frame
        self._wav.writeframes(data[:cut])
        self._carry = data[cut:]

    def close(self) -> None:
        self._wav.close()  # patches the header; does not close a file object it was given
        self._file.close()
