"""Text-to-speech job: parse the script, render every chunk with its voice and cues, stream and encode."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from engines.audio_encode import StreamEncoder, encode
from engines.tts.render import RenderStream, limit_peaks
from engines.tts.script import parse_script
from server.domain.tts_artifacts import SCRIPT_ARTIFACT, audio_artifact
from server.domain.tts_options import TtsRequest
from server.services.task_stream import AUDIO
from server.worker.context import WorkerContext
from server.worker.progress import ProgressReporter

log = logging.getLogger(__name__)


def apply_gain(samples: np.ndarray, rate: int, volume_db: float) -> np.ndarray:
    """Gain in dB; the peaks a boost pushes over full scale are limited smoothly, not clipped."""
    if volume_db == 0:
        return samples
    return limit_peaks(samples * np.float32(10 ** (volume_db / 20)), rate)


def run_tts(ctx: WorkerContext, task, progress: ProgressReporter) -> dict[str, Any]:
    request = TtsRequest.model_validate({**task.params, "text": ctx.artifacts.read_text(task.id, SCRIPT_ARTIFACT)})
    voices = request.model_ids or [ctx.settings.tts.default_voice]
    script = parse_script(request.text, num_speakers=len(voices), max_chars=ctx.settings.tts.max_characters)
    engines = [ctx.engines.synthesizer_for(voice, ctx.voices) for voice in voices]
    progress.set(3)

    started = time.perf_counter()
    stream = RenderStream(
        script,
        engines,
        speed=request.speed,
        progress=progress.span(3, 92),
        max_chunk_chars=ctx.settings.tts.max_chunk_characters,
        language=request.language,
        levels=ctx.levels,
        first_chunk_chars=request.first_chunk_characters,
    )
    # Each piece is encoded and published as soon as it is made (followers hear the first sentence
    # while the next is synthesised); the file is encoded from the whole, as it always was.
    pieces, encoder = [], None
    for chunk in stream:
        chunk = apply_gain(np.asarray(chunk, dtype=np.float32), stream.sample_rate, request.volume_db)
        pieces.append(chunk)
        if encoder is None:
            encoder = StreamEncoder(
                request.format, stream.sample_rate, bitrate_kbps=request.mp3_bitrate, sample_rate=request.sample_rate
            )
        _publish(ctx, task.id, encoder.feed(chunk), request.format, encoder.sample_rate)
    if encoder is not None:
        _publish(ctx, task.id, encoder.close(), request.format, encoder.sample_rate)
    info, rate = stream.info, stream.sample_rate
    warnings = [{"code": w.code, "message": w.message, "position": w.position} for w in script.warnings]
    samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    data, out_rate = encode(
        samples, rate, request.format, bitrate_kbps=request.mp3_bitrate, sample_rate=request.sample_rate
    )
    ctx.artifacts.write_bytes(task.id, audio_artifact(request.format), data)
    ctx.usage.add(voices)
    elapsed = time.perf_counter() - started
    duration = samples.size / rate
    log.info(
        "task %s: %.1f s of speech in %.2f s (RTF %.3f)", task.id, duration, elapsed, elapsed / max(duration, 1e-9)
    )
    return {
        "duration": round(duration, 3),
        "characters": script.spoken_chars,
        "chunks": info["chunks"],
        "format": request.format,
        "sample_rate": out_rate,
        "warnings": warnings,
    }


def _publish(ctx: WorkerContext, task_id: str, data: bytes, fmt: str, rate: int) -> None:
    if data:
        ctx.streams.publish(task_id, AUDIO, data, {"format": fmt, "sample_rate": rate})
