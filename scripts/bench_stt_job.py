"""The whole STT job on a ~5-minute meeting: transcription alone beside transcription + diarization.

Input: the shared dev set's real recordings of several people (the seven AMI meeting excerpts, both
pyAudioAnalysis files and the Picovoice one: 293 s) joined in that order, read from
`shared/data/dev/diarization` (never copied here). Each case runs the real worker path
(`execute_task`, warm models) in a fresh process:

  transcribe      diarize=false, sequential decoding (stt.batch_size=0)
  transcribe-b4   diarize=false, faster-whisper's batched pipeline, batch 4 (the default for >= 60 s)
  job             diarize=true (the default): batched decoding, diarization on its own thread alongside
  job-sequential  diarize=true, diarization after transcription (diarization.concurrent=false)
  words           diarize=false + word_timestamps (the text must equal `transcribe`'s)

Figures: wall time, CPU time, peak RSS, and the word error rate of each case's text against the
`transcribe` text (0 means the same words).

    .venv/bin/python -m scripts.bench_stt_job [--cases transcribe,job]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from scripts.dev_data import dev_data_dir
from tests.support.audio import read_wav, wav_bytes
from tests.support.wer import word_error_rate

FILES = (
    "ami_en2002a_184s",
    "ami_pyannote_trn01",
    "ami_pyannote_trn02",
    "ami_pyannote_trn07",
    "ami_pyannote_trn08",
    "ami_pyannote_tst00",
    "ami_pyannote_tst01",
    "pyaa_diarization_example",
    "pyaa_diarization_example2",
    "picovoice_falcon_3spk",
)
CASES = {
    "transcribe": ({"diarize": False}, {"stt": {"batch_size": 0}}),
    "transcribe-b4": ({"diarize": False}, {"stt": {"batch_size": 4}}),
    "job": ({}, {}),
    "job-sequential": ({}, {"diarization": {"concurrent": False}}),
    "words": ({"diarize": False, "word_timestamps": True}, {"stt": {"batch_size": 0}}),
}


def meeting(directory: Path) -> Path:
    root = dev_data_dir()
    if root is None:
        sys.exit("shared dev recordings not found (set VOICE_API_DEV_DATA)")
    parts = [read_wav(root / "diarization" / f"{name}.wav")[0] for name in FILES]
    path = directory / "meeting-5min.wav"
    path.write_bytes(wav_bytes(np.concatenate(parts), 16_000))
    return path


def run_case(name: str, audio_path: Path) -> dict:
    """Child process: one task through the real worker path, models loaded first."""
    from engines.types import DiarizationRequest
    from server.domain.tasks import Task, TaskKind
    from server.settings import Settings
    from server.worker.context import WorkerContext
    from server.worker.runner import execute_task

    params, overrides = CASES[name]
    data_dir = tempfile.TemporaryDirectory(prefix="voice-bench-")
    ctx = WorkerContext.build(Settings(storage={"data_dir": Path(data_dir.name)}, **overrides))
    with ctx.engines.stt().model():
        pass
    if params.get("diarize", True):
        noise = (0.05 * np.random.default_rng(0).standard_normal(16_000 * 12)).astype(np.float32)
        ctx.engines.diarizer().diarize(DiarizationRequest(audio=noise))
    task = Task.new(TaskKind.STT, "bench", params)
    ctx.artifacts.write_bytes(task.id, ctx.artifacts.INPUT, audio_path.read_bytes())
    ctx.store.create(task)
    cpu, wall = time.process_time(), time.perf_counter()
    execute_task(ctx, task.id)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = ctx.store.get(task.id)
    if done.error:
        raise SystemExit(f"task failed: {done.error}")
    document = ctx.artifacts.read_json(task.id, "transcript.json")
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "duration_s": document["duration"],
        "timings": done.result["timings"],
        "speakers": len(document["speakers"]),
        "segments": len(document["segments"]),
        "text": document["text"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, from: " + ", ".join(CASES))
    parser.add_argument("--child", nargs=2, metavar=("CASE", "AUDIO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child[0], Path(args.child[1]))))
        return
    results = {}
    env = {**os.environ, "PYANNOTE_METRICS_ENABLED": "false", "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        path = meeting(Path(tmp))
        for name in args.cases.split(","):
            out = subprocess.run(
                [sys.executable, "-m", "scripts.bench_stt_job", "--child", name, str(path)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if out.returncode != 0:
                sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{name}: {json.dumps({k: v for k, v in results[name].items() if k != 'text'})}", file=sys.stderr)
    base = results.get("transcribe", next(iter(results.values())))["text"]
    print(
        "| case | audio s | wall s | RTF | CPU s | transcribe s | diarize s | speakers | WER vs transcribe |"
        " peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        t = r["timings"]
        print(
            f"| {name} | {r['duration_s']:.0f} | {r['wall_s']:.1f} | {r['wall_s'] / r['duration_s']:.3f} |"
            f" {r['cpu_s']:.1f} | {t.get('transcribe', 0):.1f} | {t.get('diarize', 0):.1f} | {r['speakers']} |"
            f" {word_error_rate(base, r['text']):.3f} | {r['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
