"""describe -> info: one ASR program (the served Whisper model and its languages) and one TTS
program (the catalog voices the operator exposes)."""

from __future__ import annotations

import asyncio

from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice

from server import __version__
from server.domain.catalog import CatalogItem
from server.services.languages import WHISPER_LANGUAGES
from server.settings import WyomingSettings
from server.wyoming.context import WyomingContext

PROGRAM = "voice-api"
PROJECT = Attribution(name="Voice API", url="")  # self-hosted: no public home page to point at
WHISPER = Attribution(name="OpenAI Whisper (faster-whisper, SYSTRAN)", url="https://github.com/SYSTRAN/faster-whisper")
ENGINE_ATTRIBUTION = {
    "piper": Attribution(name="Piper voices (rhasspy)", url="https://huggingface.co/rhasspy/piper-voices"),
    "xtts": Attribution(name="Coqui XTTS v2", url="https://huggingface.co/coqui/XTTS-v2"),
}


def exposed(items: list[CatalogItem], settings: WyomingSettings) -> list[CatalogItem]:
    """The voices the operator chose to offer over Wyoming, in catalog order."""

    def offered(item: CatalogItem) -> bool:
        # visible_to() already hid other owners' private clones: a private one here is the owner's.
        kind = "builtin" if item.builtin else "public" if item.visibility == "public" else "owned"
        return kind in settings.expose and (not settings.voices or item.id in settings.voices)

    return [i for i in items if offered(i) and i.state == "ready"]


async def offered_voices(ctx: WyomingContext) -> list[CatalogItem]:
    items = await asyncio.to_thread(ctx.services.catalog.visible, ctx.caller.owner)
    return exposed(items, ctx.settings)


async def describe(ctx: WyomingContext) -> Info:
    capabilities = await asyncio.to_thread(ctx.services.dispatcher.capabilities)
    return Info(asr=[_asr_program(ctx, capabilities.get("stt") or {})], tts=[_tts_program(await offered_voices(ctx))])


def served_model(ctx: WyomingContext, stt: dict) -> str:
    # With no worker reporting yet (distributed, scaled to zero) the configured model is what will serve.
    return stt.get("model") or ctx.services.settings.stt.model


def _asr_program(ctx: WyomingContext, stt: dict) -> AsrProgram:
    model = served_model(ctx, stt)
    languages = stt.get("languages") or sorted(WHISPER_LANGUAGES)
    return AsrProgram(
        name=PROGRAM,
        description=f"Voice API speech-to-text ({stt.get('engine') or ctx.services.settings.stt.engine})",
        attribution=PROJECT,
        installed=True,
        version=__version__,
        models=[
            AsrModel(
                name=model,
                description=f"Whisper {model}",
                attribution=WHISPER,
                installed=stt.get("available", True) is not False,
                version=None,
                languages=list(languages),
            )
        ],
        # transcript-start, a transcript-chunk per segment as Whisper decodes it, transcript-stop, then
        # the whole transcript (clients that do not stream read only that).
        supports_transcript_streaming=True,
    )


def _tts_program(voices: list[CatalogItem]) -> TtsProgram:
    return TtsProgram(
        name=PROGRAM,
        description="Voice API text-to-speech (built-in voices and clones, with [cue] emotion cues)",
        attribution=PROJECT,
        installed=True,
        version=__version__,
        voices=[_voice(item) for item in voices],
        supports_synthesize_streaming=True,
    )


def _voice(item: CatalogItem) -> TtsVoice:
    if item.builtin:
        attribution = ENGINE_ATTRIBUTION.get(item.engine, PROJECT)
    else:
        attribution = Attribution(name=f"voice clone by {item.author}", url="")
    return TtsVoice(
        name=item.id,
        description=item.title,
        attribution=attribution,
        installed=True,
        version=None,
        languages=list(item.languages),
    )
