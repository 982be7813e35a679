from engines.audio_encode import FORMATS
from server.domain.tts_artifacts import AUDIO_FORMATS, audio_artifact


def test_served_formats_match_the_encoders():
    assert set(AUDIO_FORMATS) == set(FORMATS)
    for name, fmt in AUDIO_FORMATS.items():
        assert (fmt.media_type, fmt.extension) == (FORMATS[name].media_type, FORMATS[name].extension)
    assert audio_artifact("opus") == "audio.opus"
