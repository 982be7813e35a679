"""The Wyoming front-end as Home Assistant uses it: how soon a voice command's transcript and a
spoken answer arrive, against a real `voice-api wyoming` process (embedded mode, default settings).

- command: a 5 s utterance streamed in 1,024-sample chunks at 16 kHz; time from audio-stop to transcript.
- answer, whole: a three-sentence answer sent as one `synthesize` (one task per sentence, one
  audio-start/stop); time to its first audio-chunk and to audio-stop.
- answer, streamed: the same answer arriving as an LLM writes it (a word every 50 ms, ~20 tokens/s)
  through synthesize-start/-chunk/-stop; time from the first word to the first audio-chunk, compared
  with waiting for the whole text and then synthesising it (what a non-streaming server gives).

Targets (Home Assistant's pipeline feels responsive under ~1 s per step on a small CPU box): command
transcript < 1.5 s after audio-stop with tiny.en; first streamed audio before the answer has finished
being written. Figures are medians of --runs (after one warm-up each).

    .venv/bin/python -m scripts.bench_wyoming [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

from tests.support.audio import sample_clip
from tests.support.processes import WyomingProcess, user_env
from tests.support.wyoming_client import SAMPLES_PER_CHUNK, client, next_event, pcm16

VOICE = SynthesizeVoice(name="en_US-joe-medium")
ANSWER = "The kitchen lights are now on. The living room is at twenty one degrees. Anything else I can do for you?"
WORD_INTERVAL_S = 0.05


async def command(port: int, audio: bytes, rate: int) -> float:
    async with client(port) as c:
        await c.write_event(Transcribe(language="en").event())
        await c.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        step = SAMPLES_PER_CHUNK * 2
        for offset in range(0, len(audio), step):
            await c.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=audio[offset : offset + step]).event())
        await c.write_event(AudioStop().event())
        stopped = time.perf_counter()
        event = await next_event(c)
        assert Transcript.is_type(event.type), event
        return time.perf_counter() - stopped


async def whole_answer(port: int) -> tuple[float, float]:
    async with client(port) as c:
        started = time.perf_counter()
        await c.write_event(Synthesize(text=ANSWER, voice=VOICE).event())
        first = None
        while not AudioStop.is_type((event := await next_event(c)).type):
            if first is None and AudioChunk.is_type(event.type):
                first = time.perf_counter() - started
        return first, time.perf_counter() - started


async def streamed_answer(port: int) -> tuple[float, float]:
    """(first word -> first audio-chunk, writing time of the whole answer)."""
    async with client(port) as c:
        first_audio: list[float] = []

        async def listen():
            while not SynthesizeStopped.is_type((event := await next_event(c)).type):
                if not first_audio and AudioChunk.is_type(event.type):
                    first_audio.append(time.perf_counter())

        listener = asyncio.create_task(listen())
        started = time.perf_counter()
        await c.write_event(SynthesizeStart(voice=VOICE).event())
        for word in ANSWER.split(" "):
            await c.write_event(SynthesizeChunk(text=word + " ").event())
            await asyncio.sleep(WORD_INTERVAL_S)
        written = time.perf_counter() - started
        await c.write_event(SynthesizeStop().event())
        await listener
        return first_audio[0] - started, written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    clip, rate = sample_clip(5.0, offset=6.0)
    audio = pcm16(clip)
    with tempfile.TemporaryDirectory() as folder:
        env = user_env(VOICE_API_STORAGE__DATA_DIR=str(Path(folder) / "data"))
        server = WyomingProcess(env, Path(folder) / "wyoming.log")
        try:
            server.wait_ready()

            def measure(scenario):
                asyncio.run(scenario())  # warm-up: models load on first use
                return [asyncio.run(scenario()) for _ in range(args.runs)]

            commands = measure(lambda: command(server.port, audio, rate))
            wholes = measure(lambda: whole_answer(server.port))
            streams = measure(lambda: streamed_answer(server.port))
        finally:
            server.stop()
    median = statistics.median
    written = median(s[1] for s in streams)
    print(f"command (5 s, 16 kHz): transcript {median(commands):.2f} s after audio-stop")
    print(f"answer, whole: first audio {median(w[0] for w in wholes):.2f} s, done {median(w[1] for w in wholes):.2f} s")
    print(
        f"answer, streamed at {1 / WORD_INTERVAL_S:.0f} words/s (written in {written:.2f} s): first audio "
        f"{median(s[0] for s in streams):.2f} s after the first word; waiting for the whole text first: "
        f"{written + median(w[0] for w in wholes):.2f} s"
    )


if __name__ == "__main__":
    main()
