"""Speech-to-text job: decode the staged upload, transcribe, diarize, store the transcript document."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from engines.audio_io import decode_mono
from engines.speakers import assign_speakers, number_speakers
from engines.types import SAMPLE_RATE, Diarization, DiarizationRequest, SpeakerTurn, TranscriptionRequest
from server.domain.errors import InvalidRequest
from server.domain.stt_options import SttOptions
from server.domain.tasks import Task
from server.domain.transcripts import (
    TRANSCRIPT_ARTIFACT,
    SttResult,
    SttSpeaker,
    cluster_artifact,
    reference_artifact,
    segment_from_engine,
    segment_json,
)
from server.services.task_stream import SEGMENT
from server.worker.context import WorkerContext
from server.worker.progress import ProgressReporter
from server.worker.speaker_id import cluster_speech, identify, wav

log = logging.getLogger(__name__)

# A streaming transcription decodes about this much first (see TranscriptionRequest.first_window_s).
STREAMING_FIRST_WINDOW_S = 6.0
MIN_REFERENCE_S = 2.0  # a request's own reference clip (OpenAI asks for 2-10 s)


def run_stt(ctx: WorkerContext, task, progress: ProgressReporter) -> dict[str, Any]:
    options = SttOptions.parse(task.params)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    audio = decode_mono(ctx.artifacts.path(task.id, ctx.artifacts.INPUT), max_seconds=ctx.settings.stt.max_duration_s)
    timings["decode"] = time.perf_counter() - started
    progress.set(5)

    # Transcription takes most of the time when diarizing too; progress is split accordingly.
    transcribe_end = 70 if options.diarize else 95
    started = time.perf_counter()
    stream = ctx.engines.stt().stream(
        TranscriptionRequest(
            audio=audio,
            language=options.language,
            # Word times let a segment that spans a speaker change be split there.
            word_timestamps=options.word_timestamps or options.diarize,
            initial_prompt=options.prompt,
            temperature=options.temperature,
            task=options.task,
            first_window_s=STREAMING_FIRST_WINDOW_S if options.streaming else None,
        ),
        progress=progress.span(5, transcribe_end),
    )
    for segment in stream:  # followers read each segment as it is decoded (speakers come at the end)
        ctx.streams.publish(task.id, SEGMENT, segment.text.encode(), segment_json(segment_from_engine(segment)))
    transcript = stream.transcript()
    timings["transcribe"] = time.perf_counter() - started

    turns = None
    if options.diarize and transcript.segments:
        started = time.perf_counter()
        diarizer = ctx.engines.diarizer()
        request = DiarizationRequest(
            audio=audio,
            num_speakers=options.num_speakers,
            min_speakers=options.min_speakers,
            max_speakers=options.max_speakers,
        )
        # Overlap-aware engines give both views; the others' turns serve as both.
        full = getattr(diarizer, "diarize_full", None)
        if full is not None:
            diarization = full(request, progress=progress.span(transcribe_end, 95))
        else:
            found = diarizer.diarize(request, progress=progress.span(transcribe_end, 95))
            diarization = Diarization(turns=found, exclusive=found)
        transcript, turns = number_speakers(assign_speakers(transcript, diarization), diarization.turns)
        timings["diarize"] = time.perf_counter() - started
    identities = None
    if turns is not None and (options.speakers or options.known_speakers or options.keep_speaker_audio):
        started = time.perf_counter()
        identities = _known_speakers(ctx, task, options, audio, turns)
        timings["identify"] = time.perf_counter() - started
    duration = audio.size / SAMPLE_RATE
    del audio

    result = SttResult.from_engine(transcript, include_words=options.word_timestamps, turns=turns)
    identifying = bool(options.speakers or options.known_speakers)
    if identities is not None and identifying:
        result = result.named(identities)
    ctx.artifacts.write_json(task.id, TRANSCRIPT_ARTIFACT, result.to_json())
    log.info(
        "task %s: %.1f s of audio; %s",
        task.id,
        duration,
        ", ".join(f"{k} {v:.2f}s (RTF {v / max(duration, 1e-9):.3f})" for k, v in timings.items()),
    )
    # The status route returns result=null for STT (listing); this summary is for logs and metrics.
    named = sum(1 for s in result.recognised() if s.speaker_id)
    return {
        "language": result.language,
        "duration": result.duration,
        "segments": len(result.segments),
        "speakers": len(result.speakers),
        **({"named_speakers": named} if identifying else {}),
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def _known_speakers(
    ctx: WorkerContext, task: Task, options: SttOptions, audio: np.ndarray, turns: list[SpeakerTurn]
) -> list[SttSpeaker]:
    """Each cluster's clean speech kept with the task (for learning later), and the recognised
    clusters when the request named known speakers."""
    encoder = ctx.engines.speaker_encoder()
    speech = cluster_speech(encoder, audio, turns)
    for label, samples in speech.items():
        ctx.artifacts.write_bytes(task.id, cluster_artifact(label), wav(samples, ctx.settings.speakers.cluster_audio_s))
    if not options.speakers and not options.known_speakers:
        return []
    references = []
    for index, name in enumerate(options.known_speakers or ()):
        path = ctx.artifacts.path(task.id, reference_artifact(index))
        clip = decode_mono(path, max_seconds=ctx.settings.speakers.max_audio_s)
        if clip.size < MIN_REFERENCE_S * SAMPLE_RATE:
            raise InvalidRequest(
                f"the reference of {name!r} lasts {clip.size / SAMPLE_RATE:.1f} s; at least {MIN_REFERENCE_S:.0f} s "
                "of one speaker is needed",
                code="audio_too_short",
            )
        references.append((name, clip))
    matches = identify(ctx.settings, ctx.speakers, encoder, task.owner, options.speakers or [], speech, references)
    for index in range(len(references)):
        ctx.artifacts.remove(task.id, reference_artifact(index))  # inputs, like the upload: not kept once used
    # a request's own reference has no enrolled id: "" in the match, null in the document
    return [SttSpeaker(label, m.name, m.speaker_id or None, m.score) for label, m in matches.items()]
