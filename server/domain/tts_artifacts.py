"""What a TTS task leaves in its artifact folder, and the audio formats it can be asked for.

Shared by the submitting side (which writes the script), the worker (which writes the audio) and the
download route (which serves it), so none of them reaches into another's module. The encoder settings
for each format stay in engines.audio_encode; tests/unit/test_tts_artifacts.py keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

SCRIPT_ARTIFACT = "script.txt"


@dataclass(frozen=True)
class AudioFormat:
    name: str
    media_type: str
    extension: str


AUDIO_FORMATS = {
    "mp3": AudioFormat("mp3", "audio/mpeg", "mp3"),
    "wav": AudioFormat("wav", "audio/wav", "wav"),
    "flac": AudioFormat("flac", "audio/flac", "flac"),
    "opus": AudioFormat("opus", "audio/ogg", "opus"),
    "aac": AudioFormat("aac", "audio/aac", "aac"),
    "pcm": AudioFormat("pcm", "audio/pcm", "pcm"),  # raw 16-bit little-endian mono; rate in the result
}


def audio_artifact(fmt: str) -> str:
    return f"audio.{AUDIO_FORMATS[fmt].extension}"
