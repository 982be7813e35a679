"""Speech-to-text job: decode the staged upload, transcribe, diarize, store the transcript document."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from engines.audio_io import decode_mono
from engines.speakers import assign_speakers, number_speakers
from engines.types import SAMPLE_RATE, Diarization, DiarizationRequest, TranscriptionRequest
from server.domain.stt_options import SttOptions
from server.domain.transcripts import TRANSCRIPT_ARTIFACT, transcript_document
from server.services.task_stream import SEGMENT
from server.worker.context import WorkerContext
from server.worker.progress import ProgressReporter, SharedSpan

log = logging.getLogger(__name__)

# A streaming transcription decodes about this much first (see TranscriptionRequest.first_window_s).
STREAMING_FIRST_WINDOW_S = 6.0


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
            ctx.streams.publish(
                task.id,
                SEGMENT,
                segment.text.encode(),
                {"id": segment.id, "start": segment.start, "end": segment.end, "text": segment.text},
            )
        transcript = stream.transcript()
        timings["transcribe"] = time.perf_counter() - started

        turns = None
        diarization = None
        if background is not None and transcript.segments:  # nothing said: its result is not needed
            diarization, timings["diarize"] = background.result()
        elif options.diarize and transcript.segments:
            started = time.perf_counter()
            diarization = _diarize(ctx, options, audio, progress.span(transcribe_end, 95))
            timings["diarize"] = time.perf_counter() - started
        if diarization is not None and transcript.segments:
            transcript, turns = number_speakers(assign_speakers(transcript, diarization), diarization.turns)
    finally:
        if background is not None:
            background.stop()  # an early end (error, cancel, time limit) must not leave it running
    duration = audio.size / SAMPLE_RATE
    del audio

    document = transcript_document(transcript, include_words=options.word_timestamps, turns=turns)
    ctx.artifacts.write_json(task.id, TRANSCRIPT_ARTIFACT, document)
    log.info(
        "task %s: %.1f s of audio; %s",
        task.id,
        duration,
        ", ".join(f"{k} {v:.2f}s (RTF {v / max(duration, 1e-9):.3f})" for k, v in timings.items()),
    )
    # The status route returns result=null for STT (listing); this summary is for logs and metrics.
    return {
        "language": document["language"],
        "duration": document["duration"],
        "segments": len(document["segments"]),
        "speakers": len(document["speakers"]),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "concurrent": bool(concurrent),
    }


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
