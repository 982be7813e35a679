"""Speaker task: gate a reference sample and embed it, then enrol a new speaker or add the sample.

The gate is the cloning one (engines/cloning/gate.py) with the speaker settings' limits: speech
length, one speaker (`multiple_speakers`), clipping and noise. What is stored is the gate's trimmed
reference (so a later encoder can re-embed it) and its CAM++ embedding.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from engines.audio_io import decode_mono
from engines.cloning.gate import GateConfig, analyse_reference
from model_store.speakers import Speaker, SpeakerStore, new_sample
from server.domain.errors import Conflict, NotFound
from server.domain.speaker_options import SpeakerTaskParams
from server.domain.transcripts import cluster_artifact
from server.worker.context import WorkerContext
from server.worker.progress import ProgressReporter
from server.worker.speaker_id import reembed, wav

log = logging.getLogger(__name__)

# The cloning gate's checks; the advice differs (a voiceprint needs less speech than a voice).
SPEAKER_GATE = GateConfig(advice="5-30 s of one person's speech is recommended", recommended_max_speech_s=120.0)


def run_speaker(ctx: WorkerContext, task, progress: ProgressReporter) -> dict[str, Any]:
    params = SpeakerTaskParams.parse(task.params)
    limits = ctx.settings.speakers
    if params.op == "learn":
        source = ctx.artifacts.path(params.source_task or "", cluster_artifact(params.label or ""))
        if not source.is_file():
            raise Conflict(
                f"the audio of {params.label} in task {params.source_task} is no longer kept",
                code="speaker_audio_unavailable",
            )
    else:
        source = ctx.artifacts.path(task.id, ctx.artifacts.INPUT)
    audio = decode_mono(source, max_seconds=limits.max_audio_s + 1)
    progress.set(10)
    report = analyse_reference(
        audio,
        ctx.engines.diarizer(),
        min_speech_s=limits.min_speech_s,
        max_audio_s=limits.max_audio_s,
        config=SPEAKER_GATE,
    )
    progress.set(60)
    encoder = ctx.engines.speaker_encoder()
    # Embedded as stored (16-bit WAV), so a later re-embedding of the sample gives the same voiceprint:
    # the quiet frames' log-mel energies move with quantisation.
    stored = (np.clip(report.audio, -1.0, 1.0) * 32767).astype(np.int16).astype(np.float32) / 32768
    embedding = encoder.embed(stored)
    progress.set(90)
    figures = report.summary()
    origin = {"task": params.source_task, "label": params.label} if params.op == "learn" else {}
    sample = new_sample(report.trimmed_s, {**figures, **origin})
    data = wav(report.audio, limits.max_audio_s)
    store: SpeakerStore = ctx.speakers

    if params.op == "enrol":
        speaker = store.create(
            Speaker(
                id=store.new_id(),
                owner=task.owner,
                name=params.name or "",
                description=params.description,
                encoder=encoder.version,
                samples=(sample,),
                embeddings_file=f"embeddings-{sample.id[4:]}.npy",
            ),
            samples={sample.id: data},
            embeddings=embedding[None],
        )
    else:
        speaker = _add_sample(ctx, task.owner, params.speaker_id or "", sample, data, embedding)
    log.info("task %s: speaker %s has %d sample(s)", task.id, speaker.id, len(speaker.samples))
    return {
        "speaker_id": speaker.id,
        "sample_id": sample.id,
        "samples": len(speaker.samples),
        "speech_seconds": round(report.speech_s, 2),
        "snr_db": round(report.snr_db, 1),
    }


def _add_sample(ctx: WorkerContext, owner: str, speaker_id: str, sample, data: bytes, embedding: np.ndarray) -> Speaker:
    store, encoder = ctx.speakers, ctx.engines.speaker_encoder()
    speaker = store.get(owner, speaker_id)
    if speaker is not None and speaker.encoder != encoder.version:
        speaker = reembed(store, encoder, speaker)  # the old rows must not sit beside new-encoder ones
    with store.editing(owner, speaker_id) as current:
        if current is None or speaker is None:
            raise NotFound(f"no speaker {speaker_id!r}", code="speaker_not_found")
        if len(current.samples) >= ctx.settings.speakers.max_samples:
            raise Conflict(
                f"speaker {speaker_id} already has {len(current.samples)} samples, the most kept",
                code="too_many_samples",
            )
        if current.encoder != encoder.version:  # changed again between the two steps: start over
            raise Conflict("the speaker's encoder changed while the sample was added; retry", code="conflict")
        rows = np.vstack([store.embeddings(owner, current), embedding[None]])
        return store.update(current, embeddings=rows, encoder=encoder.version, new_samples=[(sample, data)])
