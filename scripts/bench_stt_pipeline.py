"""Quality and cost of the whole STT pipeline (decode → transcribe → diarize → speakers on words).

Each case runs the real worker path (`execute_task` with the configured engines) in a fresh
process, so its peak RSS is its own. Inputs:
  * sample.wav: pyannote.audio's 30 s two-speaker telephone sample, with sample.stm (words) and
    sample.rttm (speaker turns) as references;
  * long-N: sample.wav tiled to N minutes (references shifted to match), for memory and speed on
    long audio.
Metrics: WER (jiwer, lower-cased, punctuation stripped), DER (pyannote.metrics, collar 0.25 s,
overlap scored) of the diarizer's own turns and of the speaker labels on the final words, the
speaker count found without a hint, RTF per stage, peak RSS of the process.

Usage (from the repository root):
  .venv/bin/python -m scripts.bench_stt_pipeline                  # sample.wav
  .venv/bin/python -m scripts.bench_stt_pipeline --long-minutes 60 # plus one hour of audio
  .venv/bin/python -m scripts.bench_stt_pipeline --long-minutes 60 --pipeline-only  # skip the
        diarizer-alone run (its DER), e.g. for the hour's memory and time only
  --sequential: diarize after transcribing (diarization.concurrent=false) instead of alongside
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from tests.support.audio import pyannote_sample_dir, read_wav, sample_reference_text, wav_bytes
from tests.support.wer import word_error_rate

SAMPLE_SECONDS = 30.0


def reference_turns(repeats: int) -> list[tuple[float, float, str]]:
    turns = []
    for line in (pyannote_sample_dir() / "sample.rttm").read_text().splitlines():
        parts = line.split()
        start, duration, speaker = float(parts[3]), float(parts[4]), parts[7]
        turns.append((start, start + duration, speaker))
    return [(s + k * SAMPLE_SECONDS, e + k * SAMPLE_SECONDS, spk) for k in range(repeats) for s, e, spk in turns]


def der(reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]]) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    for i, (s, e, spk) in enumerate(reference):
        ref[Segment(s, e), i] = spk
    for i, (s, e, spk) in enumerate(hypothesis):
        hyp[Segment(s, e), i] = spk
    return float(DiarizationErrorRate(collar=0.25, skip_overlap=False)(ref, hyp))


def run_case(audio_path: Path, repeats: int, concurrent: bool = True) -> dict:
    """Child process: one task through the real worker path."""
    from engines.types import DiarizationRequest
    from server.domain.tasks import Task, TaskKind
    from server.settings import Settings
    from server.worker.context import WorkerContext
    from server.worker.runner import execute_task

    # Removed by the TemporaryDirectory finaliser when this function returns.
    data_dir = tempfile.TemporaryDirectory(prefix="voice-bench-")
    ctx = WorkerContext.build(
        Settings(storage={"data_dir": Path(data_dir.name)}, diarization={"concurrent": concurrent})
    )
    # Load the models first, so the figures are the steady state of a warm worker.
    warm = ctx.engines.stt()
    with warm.model():  # loads it; it stays resident for the idle TTL
        pass
    # Noise, not zeros: the diarizers skip digital silence without loading anything.
    noise = (0.05 * np.random.default_rng(0).standard_normal(16_000 * 2)).astype(np.float32)
    ctx.engines.diarizer().diarize(DiarizationRequest(audio=noise))
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    task = Task.new(TaskKind.STT, "bench", {"word_timestamps": True})
    ctx.artifacts.write_bytes(task.id, ctx.artifacts.INPUT, audio_path.read_bytes())
    ctx.store.create(task)
    progress: list[tuple[float, int]] = []
    started = time.perf_counter()
    original = ctx.store.set_progress

    def record(task_id: str, value: int) -> None:
        progress.append((round(time.perf_counter() - started, 2), value))
        original(task_id, value)

    ctx.store.set_progress = record  # type: ignore[method-assign]
    samples: list[tuple[float, float]] = []  # (s since start, RSS MB), to see when the peak happens
    running = threading.Event()
    running.set()

    def sample_rss() -> None:
        while running.is_set():
            samples.append((time.perf_counter() - started, _rss_mb()))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    execute_task(ctx, task.id)
    wall = time.perf_counter() - started
    running.clear()
    sampler.join()
    done = ctx.store.get(task.id)
    if done.error:
        raise SystemExit(f"task failed: {done.error}")
    document = ctx.artifacts.read_json(task.id, "transcript.json")
    duration = document["duration"]
    words = [(w["start"], w["end"], w["speaker"]) for s in document["segments"] for w in s["words"]]

    reference = reference_turns(repeats)
    timings = done.result["timings"]
    return {
        "duration_s": duration,
        "wer": word_error_rate(" ".join([sample_reference_text()] * repeats), document["text"]),
        "der_words": der(reference, words),
        "rtf_total": wall / duration,
        "rtf": {k: v / duration for k, v in timings.items()},
        "diarization_share": timings.get("diarize", 0.0) / wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_models_loaded_mb": rss_loaded,
        "speakers_found": len(document["speakers"]),  # the diarizer-alone run, when made, overrides it
        "progress_steps": len(progress),
        "largest_progress_gap_s": max(
            (b[0] - a[0] for a, b in zip([(0.0, 0), *progress], progress, strict=False)), default=0.0
        ),
        # the gap's end: (s since start, percent reached after it)
        "largest_progress_gap_end": max(
            zip([(0.0, 0), *progress], progress, strict=False), key=lambda ab: ab[1][0] - ab[0][0], default=(0, 0)
        )[1],
        "rss_sampled_peak": max(samples, key=lambda x: x[1], default=(0.0, 0.0)),
        "wall_s": wall,
        "vm_hwm_mb": _status_mb("VmHWM"),
        **_write_trace(samples, progress),
    }


def _write_trace(samples: list[tuple[float, float]], progress: list[tuple[float, int]]) -> dict:
    """With BENCH_TRACE=<file>: the RSS samples and the progress reports as JSON, to see which stage
    holds the peak."""
    path = os.environ.get("BENCH_TRACE")
    if path:
        Path(path).write_text(json.dumps({"rss": samples, "progress": progress}))
    return {}


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_diarizer_alone(audio_path: Path, repeats: int) -> dict:
    """Child process: the diarizer on its own, for its DER (kept out of the pipeline's memory figure)."""
    from engines.audio_io import decode_mono
    from engines.types import DiarizationRequest
    from server.settings import Settings
    from server.worker.context import WorkerContext

    data_dir = tempfile.TemporaryDirectory(prefix="voice-bench-")
    ctx = WorkerContext.build(Settings(storage={"data_dir": Path(data_dir.name)}))  # the configured engine
    turns = ctx.engines.diarizer().diarize(DiarizationRequest(audio=decode_mono(audio_path)))
    return {
        "der_diarizer": der(reference_turns(repeats), [(t.start, t.end, t.speaker) for t in turns]),
        "speakers_found": len({t.speaker for t in turns}),
    }


def build_input(minutes: float | None, directory: Path) -> tuple[Path, int]:
    if not minutes:
        return pyannote_sample_dir() / "sample.wav", 1
    audio, rate = read_wav(pyannote_sample_dir() / "sample.wav")
    repeats = int(minutes * 60 / SAMPLE_SECONDS)
    path = directory / f"long-{minutes:g}min.wav"
    with open(path, "wb") as out:
        out.write(wav_bytes(np.tile(audio, repeats), rate))
    return path, repeats


def child(mode: str, path: Path, repeats: int) -> dict:
    env = {**os.environ, "PYANNOTE_METRICS_ENABLED": "false", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "scripts.bench_stt_pipeline", "--child", mode, str(path), str(repeats)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"{mode} on {path.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long-minutes", type=float, default=None, help="also run on N minutes of tiled audio")
    parser.add_argument("--pipeline-only", action="store_true", help="skip the diarizer-alone run (DER)")
    parser.add_argument("--sequential", action="store_true", help="diarize after transcribing, not alongside")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "AUDIO", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, audio, repeats = args.child[0], Path(args.child[1]), int(args.child[2])
        if mode == "diarizer":
            print(json.dumps(run_diarizer_alone(audio, repeats)))
        else:
            print(json.dumps(run_case(audio, repeats, concurrent=mode != "pipeline-sequential")))
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in [None, args.long_minutes] if args.long_minutes else [None]:
            path, repeats = build_input(minutes, Path(tmp))
            result = {}
            modes = ["pipeline-sequential" if args.sequential else "pipeline"]
            if not args.pipeline_only:
                modes.append("diarizer")
            for mode in modes:  # separate processes: each peak RSS is its own
                result.update(child(mode, path, repeats))  # the diarizer run's speaker count wins
            print(f"{path.name}: {json.dumps(result)}", file=sys.stderr, flush=True)
            rows.append((path.name, result))

    print(
        "| input | audio s | WER | DER diarizer | DER words | speakers | RTF total | RTF transcribe |"
        " RTF diarize | diarize share | peak RSS MB (models loaded) | progress steps / max gap s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(
            f"| {name} | {r['duration_s']:.0f} | {r['wer']:.1%} | {_pct(r.get('der_diarizer'))} |"
            f" {r['der_words']:.1%} | {r.get('speakers_found', '-')} | {r['rtf_total']:.3f} |"
            f" {r['rtf'].get('transcribe', 0):.3f} |"
            f" {r['rtf'].get('diarize', 0):.3f} | {r['diarization_share']:.0%} |"
            f" {r['peak_rss_mb']:.0f} ({r['rss_models_loaded_mb']:.0f}) |"
            f" {r['progress_steps']} / {r['largest_progress_gap_s']:.1f} |"
        )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    main()
