from __future__ import annotations

import numpy as np
import pytest

from engines.audio_io import AudioDecodeError, EmptyAudio, decode_mono, probe
from tests.support.audio import FORMATS, encode, sample_clip, wav_bytes


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_promised_format_decodes_to_16k_mono(tmp_path, fmt):
    clip, rate = sample_clip(4.0, offset=6.0)
    path = tmp_path / f"clip{FORMATS[fmt][2]}"
    path.write_bytes(encode(clip, rate, fmt))
    info = probe(path)
    assert info.channels >= 1 and info.sample_rate > 0
    audio = decode_mono(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # codecs add priming/padding samples; the duration must still be the clip's within 0.1 s
    assert abs(audio.size / 16_000 - 4.0) < 0.1
    assert np.abs(audio).max() > 0.05


def test_multichannel_and_other_rates_are_mixed_and_resampled(tmp_path):
    t = np.arange(0, 1.0, 1 / 44_100)
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1).reshape(-1) * 0.5
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav_bytes(stereo, 44_100, channels=2))
    audio = decode_mono(path)
    assert abs(audio.size - 16_000) <= 16


def test_garbage_empty_and_duration_limit(tmp_path):
    garbage = tmp_path / "x.mp3"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(AudioDecodeError):
        decode_mono(garbage)
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudio):
        probe(empty)
    long_clip = tmp_path / "l.wav"
    long_clip.write_bytes(wav_bytes(np.zeros(16_000 * 3, dtype=np.float32)))
    with pytest.raises(AudioDecodeError, match="longer"):
        decode_mono(long_clip, max_seconds=1)


def test_long_audio_windows_cut_in_pauses_and_cover_everything():
    from engines.stt.faster_whisper import long_audio_windows

    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(16_000 * 95) * 0.3).astype(np.float32)
    audio[16_000 * 27 : 16_000 * 28] = 0  # the only pause near the first boundary (30 s)
    windows = long_audio_windows(audio, window_s=30, search_s=5)
    assert windows[0][0] == 0 and windows[-1][1] == audio.size
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert 27 * 16_000 <= windows[0][1] <= 28 * 16_000
    assert long_audio_windows(audio[: 16_000 * 20], window_s=30) == [(0, 16_000 * 20)]


def test_a_short_first_window_is_cut_in_a_pause_near_its_length():
    from engines.stt.faster_whisper import long_audio_windows

    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(16_000 * 30) * 0.3).astype(np.float32)
    audio[int(16_000 * 7.2) : int(16_000 * 7.5)] = 0  # a pause within 40% of the 6 s asked for
    windows = long_audio_windows(audio, window_s=300, first_s=6.0)
    assert len(windows) == 2 and windows[0][0] == 0 and windows[0][1] == windows[1][0] and windows[1][1] == audio.size
    assert 7.2 * 16_000 <= windows[0][1] <= 7.5 * 16_000
    assert long_audio_windows(audio[: 16_000 * 10], window_s=300, first_s=6.0) == [(0, 16_000 * 10)]  # too short
    # a recording that starts with silence: the first window still holds about 6 s of speech
    late = np.concatenate([np.zeros(16_000 * 5, np.float32), audio])
    assert (5 + 7.2) * 16_000 <= long_audio_windows(late, window_s=300, first_s=6.0)[0][1] <= (5 + 7.5) * 16_000


@pytest.mark.parametrize("fmt", ["webm", "flac"])
def test_duration_of_a_streamed_recording_comes_from_its_packets(tmp_path, fmt):
    # MediaRecorder WebM and piped FLAC carry no duration in their headers; the quota and the
    # duration limit still need the real length before anything is decoded.
    clip, rate = sample_clip(12.0)
    path = tmp_path / f"live{FORMATS[fmt][2]}"
    path.write_bytes(encode(clip, rate, fmt, streamed=True))
    duration = probe(path).duration
    assert duration is not None and abs(duration - 12.0) < 0.1
