"""Clone job: gate the reference, measure it, store a voice model (atomically) in the model store.

What a clone stores (one folder per model, see model_store/voices.py):
  reference.wav   the trimmed 16 kHz reference (dense speech, long silences cut)
  embedding.npy   its speaker embedding by the CAM++ speaker encoder (the diarizer's and the
                  speaker registry's), whose version meta.json's engine_data["speaker_encoder"] names;
                  absent when that encoder is not provisioned (server/worker/voice_embedding.py
                  re-embeds reference.wav for a voice without one, or with another encoder's)
  profile.json    the measured voice profile; match.json: the DSP plan applied to the base voice
  xtts/           XTTS conditioning latents, when XTTS is provisioned (computed once, here)
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np

from engines.audio_encode import encode
from engines.audio_io import decode_mono
from engines.cloning.gate import analyse_reference
from engines.cloning.voice_match import base_profile, measure_profile, plan_match
from engines.types import SAMPLE_RATE, EngineUnavailable
from model_store.voices import VoiceModel
from server.domain.clone_options import CloneOptions
from server.worker.context import WorkerContext
from server.worker.progress import ProgressReporter
from server.worker.voice_embedding import ENCODER_KEY, pcm16_samples

log = logging.getLogger(__name__)

ENGINE_VOICE_MATCH = "piper+voice-match"


def run_clone(ctx: WorkerContext, task, progress: ProgressReporter) -> dict[str, Any]:
    options = CloneOptions.parse(task.params)
    limits = ctx.settings.clone
    # Decoding stops just past the limit: the gate then names the real problem (too long).
    audio = decode_mono(ctx.artifacts.path(task.id, ctx.artifacts.INPUT), max_seconds=limits.max_audio_s + 1)
    progress.set(10)
    report = analyse_reference(
        audio, ctx.engines.diarizer(), min_speech_s=limits.min_speech_s, max_audio_s=limits.max_audio_s
    )
    progress.set(45)

    base_voice = ctx.settings.tts.default_voice
    base_synth, _ = ctx.engines.synthesizer_for(base_voice)
    profile = measure_profile(report.audio)
    base = base_profile(
        base_synth, base_voice, cache_path=ctx.settings.storage.data_dir / "cache" / f"base-profile-{base_voice}.json"
    )
    match = plan_match(profile, base)
    reference_wav = encode(report.audio, SAMPLE_RATE, "wav")[0]
    embedding, encoder_version = _embed(ctx, pcm16_samples(reference_wav))
    progress.set(70)

    xtts = ctx.engines.xtts()
    conditioning = xtts.conditioning_from_reference(report.audio, SAMPLE_RATE) if xtts is not None else None
    progress.set(90)

    def write(folder: Path) -> None:
        if embedding is not None:
            buffer = io.BytesIO()
            np.save(buffer, embedding.astype(np.float32))
            (folder / "embedding.npy").write_bytes(buffer.getvalue())
        (folder / "reference.wav").write_bytes(reference_wav)
        (folder / "profile.json").write_text(profile.to_json())
        (folder / "match.json").write_text(match.to_json())
        if conditioning is not None:
            from engines.tts.xtts_engine import save_conditioning

            save_conditioning(conditioning, folder / "xtts")

    engine_data: dict[str, int | str] = {"voice_match": profile.version}
    if encoder_version is not None:
        engine_data[ENCODER_KEY] = encoder_version
    if conditioning is not None:
        engine_data["xtts"] = ctx.settings.tts.xtts_checkpoint
    model = ctx.voices.create(
        VoiceModel(
            id=ctx.voices.new_id(),
            owner=task.owner,
            title=options.title,
            description=options.description,
            tags=tuple(options.tags),
            languages=tuple(options.languages or ["en"]),
            visibility=options.visibility,
            engine="xtts" if conditioning is not None else ENGINE_VOICE_MATCH,
            base_voice=base_voice,
            engine_data=engine_data,
            source={**report.summary(), "transcript": options.transcript},
        ),
        writer=write,
    )
    log.info("task %s: voice %s created from %.1f s of speech", task.id, model.id, report.speech_s)
    return {
        "model_id": model.id,
        "engine": model.engine,
        "speech_seconds": round(report.speech_s, 2),
        "snr_db": round(report.snr_db, 1),
    }


def _embed(ctx: WorkerContext, stored: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """The stored reference's CAM++ embedding and the encoder's version, or (None, None) when the
    encoder's weights are not provisioned (cloning does not need them; voice_embedding.py embeds
    such a voice when it is)."""
    try:
        encoder = ctx.engines.speaker_encoder()
        return encoder.embed(stored), encoder.version
    except EngineUnavailable as exc:
        log.warning("voice embedding skipped: %s", exc)
        return None, None
