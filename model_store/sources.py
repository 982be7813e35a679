"""Model sets a GPU deployment may want, where each comes from, and its licence.

Provisioning runs on a connected machine; the air-gapped side only ever verifies and reads. URLs
are relative to a hub base so an operator can point them at an internal mirror (`--mirror`).
"""

from __future__ import annotations

from dataclasses import dataclass

HUB = "https://huggingface.co"


@dataclass(frozen=True)
class ModelSet:
    name: str
    engine: str  # store folder: whisper | xtts | pyannote | piper
    target: str  # folder name under <store>/<engine>/
    repo: str
    files: tuple[str, ...]  # paths inside the repo; kept as the layout under target
    licence: str
    note: str = ""
    gated: bool = False  # needs an access token (HF_TOKEN) on the connected side

    def url(self, path: str, base: str = HUB) -> str:
        return f"{base.rstrip('/')}/{self.repo}/resolve/main/{path}"


MODEL_SETS: dict[str, ModelSet] = {
    s.name: s
    for s in (
        ModelSet(
            "whisper-large-v3",
            "whisper",
            "large-v3",
            "Systran/faster-whisper-large-v3",
            ("config.json", "model.bin", "preprocessor_config.json", "tokenizer.json", "vocabulary.json"),
            "MIT (OpenAI Whisper weights, CTranslate2 conversion by Systran)",
        ),
        ModelSet(
            "whisper-large-v3-turbo",
            "whisper",
            "large-v3-turbo",
            "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
            ("config.json", "model.bin", "preprocessor_config.json", "tokenizer.json", "vocabulary.json"),
            "MIT (OpenAI Whisper weights)",
        ),
        ModelSet(
            "xtts-v2",
            "xtts",
            "XTTS-v2",
            "coqui/XTTS-v2",
            ("config.json", "model.pth", "vocab.json", "speakers_xtts.pth"),
            "Coqui Public Model License 1.0.0: NON-COMMERCIAL use only",
            note="Commercial use needs a licence from the rights holder.",
        ),
        ModelSet(
            "pyannote-community-1",
            "pyannote",
            "speaker-diarization-community-1",
            "pyannote/speaker-diarization-community-1",
            (
                "config.yaml",
                "segmentation/pytorch_model.bin",
                "embedding/pytorch_model.bin",
                "plda/xvec_transform.npz",
                "plda/plda.npz",
            ),
            "CC-BY-4.0 (attribution required)",
            gated=True,
            note="Accept the conditions on the model page and set HF_TOKEN before provisioning.",
        ),
        ModelSet(
            "piper-en_US-amy-medium",
            "piper",
            "",
            "rhasspy/piper-voices",
            ("en/en_US/amy/medium/en_US-amy-medium.onnx", "en/en_US/amy/medium/en_US-amy-medium.onnx.json"),
            "Per voice: see its MODEL_CARD (amy: public domain dataset)",
        ),
    )
}
