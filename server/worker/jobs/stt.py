"""Speech-to-text job: decode the staged upload, transcribe, diarize, store the transcript document."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from engines.audio_io import decode_mono
from engines.speaker_id.matching import Match
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
from server.worker.progress import ProgressReporter, SharedSpan
from server.worker.speaker_id import identify, wav

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

    concurrent = options.diarize and ctx.settings.diarization.concurrent
    background = None
    if concurrent:
        # Diarization runs on its own thread while this one transcribes: the job then takes about the
        # longer of the two. Progress weighs each by its cost: on CPU, one hour measured RTF 0.074 to
        # transcribe (batched tiny.en) against 0.254 to diarize (docs/benchmarks.md, issue 11).
        shared = SharedSpan(progress, 5, 95, {"transcribe": 1.0, "diarize": 3.0})
        transcribe_progress = shared.part("transcribe")
        background = _BackgroundDiarization(ctx, options, audio, shared.part("diarize"))
    else:
        # Transcription takes most of the time when diarizing too; progress is split accordingly.
        transcribe_end = 70 if options.diarize else 95
        transcribe_progress = progress.span(5, transcribe_end)
    try:
        started = time.perf_counter()
        stream = ctx.engines.stt().stream(
            TranscriptionRequest(
                audio=audio,
                language=options.language,
                # Word times let a segment that spans a speaker change be split there (the engine
                # keeps the text the same either way).
                word_timestamps=options.word_timestamps or options.diarize,
                initial_prompt=options.prompt,
                temperature=options.temperature,
                task=options.task,
                first_window_s=STREAMING_FIRST_WINDOW_S if options.streaming else None,
            ),
            progress=transcribe_progress,
        )
        for segment in stream:  # followers read each segment as it is decoded (speakers come at the end)
            ctx.streams.publish(task.id, SEGMENT, segment.text.encode(), segment_json(segment_from_engine(segment)))
        transcript = stream.transcript()
        timings["transcribe"] = time.perf_counter() - started

        turns = None
        diarization: Diarization | None = None
        if background is not None and transcript.segments:  # nothing said: its result is not needed
            diarization, timings["diarize"] = background.result()
        elif options.diarize and transcript.segments:
            started = time.perf_counter()
            diarization = _diarize(ctx, options, audio, progress.span(transcribe_end, 95))
            timings["diarize"] = time.perf_counter() - started
    finally:
        if background is not None:
            background.stop()  # an early end (error, cancel, time limit) must not leave it running
    identifying = bool(options.speakers or options.known_speakers)
    identities: list[SttSpeaker] = []
    if diarization is not None and transcript.segments:
        matches: dict[str, Match] = {}
        if identifying:
            # before words get their speakers: per-turn naming may move turns to other labels
            started = time.perf_counter()
            diarization, matches = _known_speakers(ctx, task, options, audio, diarization)
            timings["identify"] = time.perf_counter() - started
        transcript, turns = number_speakers(assign_speakers(transcript, diarization), diarization.turns)
        numbered = {old.speaker: new.speaker for old, new in zip(diarization.turns, turns, strict=True)}
        # a request's own reference has no enrolled id: "" in the match, null in the document
        identities = [
            SttSpeaker(numbered[label], m.name, m.speaker_id or None, m.score)
            for label, m in matches.items()
            if label in numbered
        ]
        if identifying or options.keep_speaker_audio:
            _keep_cluster_audio(ctx, task, audio, turns)
    duration = audio.size / SAMPLE_RATE
    del audio

    result = SttResult.from_engine(transcript, include_words=options.word_timestamps, turns=turns)
    if turns is not None and identifying:
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
        "concurrent": bool(concurrent),
    }


def _keep_cluster_audio(ctx: WorkerContext, task: Task, audio: np.ndarray, turns: list[SpeakerTurn]) -> None:
    """Each cluster's clean speech kept with the task, so a cluster can be labelled and learned later."""
    speech = ctx.engines.speaker_encoder().cluster_speech(audio, turns)
    for label, samples in speech.items():
        ctx.artifacts.write_bytes(task.id, cluster_artifact(label), wav(samples, ctx.settings.speakers.cluster_audio_s))


def _known_speakers(
    ctx: WorkerContext, task: Task, options: SttOptions, audio: np.ndarray, diarization: Diarization
) -> tuple[Diarization, dict[str, Match]]:
    """The diarization relabelled by identification, and who each (diarizer) label is."""
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
    encoder = ctx.engines.speaker_encoder()
    found = identify(
        ctx.settings, ctx.speakers, encoder, task.owner, options.speakers or [], audio, diarization, references
    )
    for index in range(len(references)):
        ctx.artifacts.remove(task.id, reference_artifact(index))  # inputs, like the upload: not kept once used
    return found


def _diarize(ctx: WorkerContext, options: SttOptions, audio, progress) -> Diarization:
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
        return full(request, progress=progress)
    found = diarizer.diarize(request, progress=progress)
    return Diarization(turns=found, exclusive=found)


class _Stopped(Exception):
    """Raised from the diarizer's progress callback once the job no longer wants its result."""


class _BackgroundDiarization:
    """`_diarize` on a thread of its own; `result()` waits for it, `stop()` abandons it at its next
    progress report and waits until it has returned (so no orphan keeps the cores or its memory)."""

    def __init__(self, ctx: WorkerContext, options: SttOptions, audio, progress) -> None:
        self._stopping = threading.Event()
        self._outcome: tuple[Diarization, float] | BaseException | None = None

        def report(completed: float, total: float) -> None:
            if self._stopping.is_set():
                raise _Stopped
            progress(completed, total)

        def work() -> None:
            started = time.perf_counter()
            try:
                self._outcome = (_diarize(ctx, options, audio, report), time.perf_counter() - started)
            except BaseException as exc:  # handed to the job's thread by result()
                self._outcome = exc

        self._thread = threading.Thread(target=work, name="stt-diarize", daemon=True)
        self._thread.start()

    def result(self) -> tuple[Diarization, float]:
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
