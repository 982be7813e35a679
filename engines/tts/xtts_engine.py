"""Coqui XTTS v2 text-to-speech adapter (coqui-tts), for a checkpoint the operator copies in by hand.

What to copy into the model store (one directory), from coqui's XTTS-v2 release::

    <checkpoint_dir>/
      config.json         # XttsConfig: model_args, languages, inference defaults
      model.pth           # weights
      vocab.json          # BPE text tokenizer
      speakers_xtts.pth   # optional: built-in speakers, listed as voices "xtts:<slug of name>"

Nothing is downloaded: coqui's loading code reads only these files. Licence: XTTS v2 weights are
under the Coqui Public Model License — non-commercial use only. Deployers must honour it.

Cloning computes XTTS's conditioning (GPT latents + speaker embedding) once from a reference clip
(`conditioning_from_reference`); the caller stores it with `save_conditioning` and speaks with
`synthesize_with`, so latents are never recomputed per request. A model.pth that pickles its config
object (older release files) is rewritten in place by coqui on first load: keep the directory writable.
"""

from __future__ import annotations

import importlib.util
import json
import re
import textwrap
import threading
import unicodedata
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engines.model_cache import ModelCache, weights_size

if TYPE_CHECKING:
    from TTS.tts.models.xtts import Xtts
from engines.tts.types import Audio, SynthesisRequest, UnknownVoice, Voice
from engines.types import EngineError, EngineUnavailable, UnsupportedLanguage

ENGINE = "xtts"
REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
SPEAKERS_FILE = "speakers_xtts.pth"
COND_SAMPLE_RATE = 22050  # XTTS computes both GPT latents and speaker embedding from 22.05 kHz audio
MIN_REFERENCE_S = 0.5  # coqui rejects < 0.33 s; a little margin keeps one full conditioning chunk
_COND_FILES = ("gpt_cond_latent.npy", "speaker_embedding.npy")


class InvalidReference(EngineError):
    code = "invalid_reference_audio"


@dataclass(frozen=True)
class XttsConfig:
    checkpoint_dir: Path
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", "auto"
    language: str = "en"  # used when a request carries no language


@dataclass(frozen=True)
class XttsConditioning:
    gpt_cond_latent: np.ndarray  # [1, 32, gpt channels]
    speaker_embedding: np.ndarray  # [1, 512, 1]


def missing_files(path: Path | str) -> list[str]:
    return [name for name in REQUIRED_FILES if not (Path(path) / name).is_file()]


def is_checkpoint_dir(path: Path | str) -> bool:
    """Cheap check for health reports (no coqui import): every required file is present."""
    return not missing_files(path)


def save_conditioning(cond: XttsConditioning, directory: Path | str) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in zip(_COND_FILES, (cond.gpt_cond_latent, cond.speaker_embedding), strict=True):
        np.save(directory / name, np.asarray(array, dtype=np.float32), allow_pickle=False)


def load_conditioning(directory: Path | str) -> XttsConditioning:
    """What save_conditioning wrote; FileNotFoundError when it is not there."""
    latent, embedding = (np.load(Path(directory) / name, allow_pickle=False) for name in _COND_FILES)
    if latent.ndim != 3 or embedding.ndim != 3:
        raise InvalidReference(f"{directory} does not hold XTTS conditioning arrays")
    return XttsConditioning(gpt_cond_latent=latent, speaker_embedding=embedding)


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def speaker_names(path: Path) -> list[str]:
    """Built-in speaker names in a speakers_xtts.pth (weights_only: a tensor dict, no code runs)."""
    import torch

    return [str(name) for name in torch.load(path, map_location="cpu", weights_only=True)]


@dataclass
class _Loaded:
    model: Xtts  # coqui-tts has no type information: Any to mypy
    # coqui caches the prompt embedding on the shared GPT module during generate(): one call at a time.
    lock: threading.Lock


class XttsSynthesizer:
    name = ENGINE

    def __init__(self, config: XttsConfig, cache: ModelCache | None = None) -> None:
        self._config = config
        self._dir = Path(config.checkpoint_dir)
        self._cache = cache if cache is not None else ModelCache(idle_ttl=float("inf"))
        self._meta: dict | None = None
        self._speakers: dict[str, str] | None = None  # voice id -> speaker name in the file

    # -- discovery ------------------------------------------------------------------------
    def _check(self) -> None:
        if missing := missing_files(self._dir):
            raise EngineUnavailable(f"XTTS checkpoint at {self._dir} incomplete: missing {', '.join(missing)}")
        if importlib.util.find_spec("TTS") is None:
            raise EngineUnavailable("coqui-tts is not installed (pip install coqui-tts)")

    def _metadata(self) -> dict:
        self._check()  # every public call passes here: a checkpoint removed later is reported, not crashed on
        if self._meta is None:
            try:
                self._meta = json.loads((self._dir / "config.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise EngineUnavailable(f"unreadable XTTS config {self._dir / 'config.json'}: {exc}") from exc
        return self._meta

    def languages(self) -> tuple[str, ...]:
        return tuple(self._metadata().get("languages") or ("en",))

    @property
    def sample_rate(self) -> int:
        return int((self._metadata().get("audio") or {}).get("output_sample_rate", 24000))

    def _speaker_ids(self) -> dict[str, str]:
        if self._speakers is None:
            self._metadata()
            path, ids = self._dir / SPEAKERS_FILE, {}
            for index, name in enumerate(speaker_names(path) if path.is_file() else []):
                base = f"{ENGINE}:{_slug(name) or f'speaker-{index}'}"
                voice_id, n = base, 2
                while voice_id in ids:  # two names with one slug ("A b", "a-b") stay distinct
                    voice_id, n = f"{base}-{n}", n + 1
                ids[voice_id] = name
            self._speakers = ids
        return self._speakers

    def voices(self) -> list[Voice]:
        languages, rate = self.languages(), self.sample_rate
        return [
            Voice(vid, name, languages, ENGINE, rate, extra={"speaker": name, "path": str(self._dir)})
            for vid, name in self._speaker_ids().items()
        ]

    # -- loading --------------------------------------------------------------------------
    def load(self) -> AbstractContextManager[_Loaded]:
        """The loaded model, held while the `with` block runs (loads on first use; thread-safe). A
        missing or incomplete checkpoint fails here, before the block."""
        self._metadata()
        return self._cache.use(
            (ENGINE, str(self._dir.resolve()), self._config.device),
            self._load,
            size_bytes=weights_size(self._dir / "model.pth"),
        )

    def _load(self) -> _Loaded:
        try:
            import torch
            from TTS.tts.configs.xtts_config import XttsConfig as CoquiConfig
            from TTS.tts.models.xtts import Xtts
        except ImportError as exc:
            raise EngineUnavailable(f"coqui-tts is not importable: {exc}") from exc
        device = self._config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            config = CoquiConfig()
            config.load_json(str(self._dir / "config.json"))
            model = Xtts(config)
            model.load_checkpoint(config, checkpoint_dir=str(self._dir), eval=True, use_deepspeed=False)
            model.to(torch.device(device))
        except Exception as exc:  # coqui raises bare RuntimeError/KeyError/AssertionError on bad files
            raise EngineUnavailable(f"cannot load XTTS checkpoint from {self._dir}: {exc}") from exc
        return _Loaded(model=model, lock=threading.Lock())

    # -- conditioning ---------------------------------------------------------------------
    def conditioning_from_reference(self, samples: np.ndarray, sample_rate: int) -> XttsConditioning:
        """XTTS voice conditioning from float32 mono reference audio; compute once per cloned voice."""
        import torch
        import torchaudio.functional as AF

        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        if len(audio) < MIN_REFERENCE_S * sample_rate or not np.isfinite(audio).all():
            raise InvalidReference(f"reference audio must be finite and at least {MIN_REFERENCE_S} s long")
        with self.load() as loaded:
            model, cfg = loaded.model, loaded.model.config
            wav = torch.from_numpy(audio).unsqueeze(0)
            if sample_rate != COND_SAMPLE_RATE:
                wav = AF.resample(wav, sample_rate, COND_SAMPLE_RATE)
            # Same steps as coqui's get_conditioning_latents, minus its torchaudio.load of a file.
            wav = wav[:, : COND_SAMPLE_RATE * cfg.max_ref_len].clamp(-1.0, 1.0).to(model.device)
            if cfg.sound_norm_refs:
                wav = wav / wav.abs().max().clamp(min=1e-8) * 0.75
            with loaded.lock:
                embedding = model.get_speaker_embedding(wav, COND_SAMPLE_RATE)  # resamples to 16 kHz itself
                latent = model.get_gpt_cond_latents(
                    wav, COND_SAMPLE_RATE, length=cfg.gpt_cond_len, chunk_length=cfg.gpt_cond_chunk_len
                )
        return XttsConditioning(*(t.detach().cpu().numpy().astype(np.float32) for t in (latent, embedding)))

    # -- synthesis ------------------------------------------------------------------------
    def synthesize(self, request: SynthesisRequest, language: str | None = None) -> Audio:
        speaker = self._speaker_ids().get(request.voice_id)
        if speaker is None:
            raise UnknownVoice(f"unknown xtts voice {request.voice_id!r}; available: {sorted(self._speaker_ids())}")
        with self.load() as loaded:  # held across synthesize_with's own use: one load, not a reload between
            manager = loaded.model.speaker_manager  # None if the speakers file appeared after loading
            if manager is None or speaker not in manager.speakers:
                raise UnknownVoice(f"xtts voice {request.voice_id!r} is not in the loaded model; reload the engine")
            stored = manager.speakers[speaker]
            cond = XttsConditioning(*(stored[k].cpu().numpy() for k in ("gpt_cond_latent", "speaker_embedding")))
            return self.synthesize_with(
                cond, request.text, language or request.language, request.speed, request.variation
            )

    def synthesize_with(
        self,
        cond: XttsConditioning,
        text: str,
        language: str | None = None,
        speed: float = 1.0,
        variation: float = 1.0,
    ) -> Audio:
        """Speak `text` with precomputed conditioning. `variation` scales the sampling temperature."""
        import torch

        lang = resolve_language(self.languages(), language or self._config.language)
        with self.load() as loaded:
            model, cfg = loaded.model, loaded.model.config
            if cond.gpt_cond_latent.shape[-1] != model.args.gpt_n_model_channels:
                raise InvalidReference("conditioning was computed with another XTTS model; clone the voice again")
            latent = torch.from_numpy(np.asarray(cond.gpt_cond_latent, dtype=np.float32))
            embedding = torch.from_numpy(np.asarray(cond.speaker_embedding, dtype=np.float32))
            sampling = {k: getattr(cfg, k) for k in ("length_penalty", "repetition_penalty", "top_k", "top_p")}
            temperature, speed = min(max(cfg.temperature * variation, 0.05), 1.5), min(max(speed, 0.25), 4.0)
            parts = []
            try:
                for piece in self.pieces(text, lang):
                    with loaded.lock:
                        out = model.inference(
                            piece, lang, latent, embedding, temperature=temperature, speed=speed, **sampling
                        )
                    parts.append(np.asarray(out["wav"], dtype=np.float32).reshape(-1))
            except ImportError as exc:  # zh needs pypinyin, ja needs cutlet: optional coqui extras
                raise EngineUnavailable(f"XTTS text processing for {lang!r} needs: {exc}") from exc
        samples = np.clip(np.concatenate(parts), -1.0, 1.0) if parts else np.zeros(0, np.float32)
        return Audio(samples=samples.astype(np.float32), sample_rate=self.sample_rate)

    def pieces(self, text: str, language: str) -> list[str]:
        """How `text` will be cut into XTTS calls (see split_text)."""
        lang = resolve_language(self.languages(), language)
        with self.load() as loaded:
            model = loaded.model
            return split_text(
                text,
                model.tokenizer.char_limits.get(lang.split("-")[0], 250),
                lambda piece: len(model.tokenizer.encode(piece.lower(), lang)),
                model.args.gpt_max_text_tokens - 1,
            )


def resolve_language(known: tuple[str, ...], language: str) -> str:
    # XTTS names Chinese "zh-cn"; "zh", "zh-CN" or "en-US" mean their base language.
    base = language.split("-")[0].lower()
    match = language if language in known else next((k for k in known if k.split("-")[0] == base), None)
    if match is None:
        raise UnsupportedLanguage(f"XTTS checkpoint speaks {list(known)}, not {language!r}")
    return match


def split_text(text: str, char_limit: int, count_tokens, max_tokens: int) -> list[str]:
    """`text` in pieces XTTS accepts in one call: past the language's char limit it truncates the
    audio, past the GPT's text-token capacity it fails an assertion (number expansion can push a
    short text over). The caller already chunks; this only guards against an oversize chunk."""
    pieces: list[str] = []
    for sentence in re.split(r"(?<=[.!?;:])\s+", text.strip()):
        if pieces and len(pieces[-1]) + 1 + len(sentence) <= char_limit:
            pieces[-1] += " " + sentence
        else:
            pieces += textwrap.wrap(sentence, width=char_limit, break_on_hyphens=False)
    out = []
    while pieces:
        piece = pieces.pop(0)
        if len(piece) > 1 and count_tokens(piece) >= max_tokens:
            cut = piece.rfind(" ", 1, len(piece) // 2 + 1)  # the last word break before the middle
            cut = cut if cut > 0 else len(piece) // 2
            pieces[:0] = [piece[:cut], piece[cut:]]
        elif piece.strip():
            out.append(piece.strip())
    return out
