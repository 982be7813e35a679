"""Diarization on the shared dev set (12 recordings with reference RTTM) plus pyannote's sample.wav.

    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.bench_dev_diarization [--engine neural|builtin]
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.bench_dev_diarization --sweep --steps 0.1,0.2

Scoring: pyannote.metrics DiarizationErrorRate(collar=0.25, skip_overlap=False) on the diarizer's
own turns (overlapping ones included); "pooled" sums errors and reference time over files. Timing:
wall seconds and process CPU seconds (the 2 cores are shared with other developers, so wall time
is noisy; CPU seconds are steadier but inflate too when cores are oversubscribed).

--sweep (neural engine): segmentation + embeddings are computed once per file and step (pyannote's
training-mode cache), then every clustering setting is scored from them. Files in HELD_OUT are
left out of the choice and reported apart, as a check. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

import numpy as np

from engines.types import SAMPLE_RATE as SR
from engines.types import DiarizationRequest
from scripts.bench_diarization import read_rttm, read_wav, sample_paths
from scripts.dev_data import diarization_files

HELD_OUT = ("ami_pyannote_tst00", "ami_pyannote_tst01", "picovoice_falcon_3spk")


def inputs() -> list[tuple[str, np.ndarray, list]]:
    wav, rttm = sample_paths()
    out = [("sample.wav", read_wav(wav), read_rttm(rttm))]
    for name, wav, rttm in diarization_files():
        out.append((name, read_wav(wav), read_rttm(rttm)))
    if len(out) == 1:
        raise SystemExit("dev set not found: set VOICE_API_DEV_DATA or put shared/data/dev beside the repo")
    return out


def annotation(turns):
    from pyannote.core import Annotation, Segment

    a = Annotation()
    for i, (s, e, k) in enumerate(turns):
        a[Segment(s, e), i] = k
    return a


def metric():
    from pyannote.metrics.diarization import DiarizationErrorRate

    return DiarizationErrorRate(collar=0.25, skip_overlap=False)


def neural_diarizer(**overrides):
    from engines.diarization.neural import NeuralDiarizer, NeuralDiarizerConfig
    from model_store.neural_diarization import package_models

    models = package_models()
    return NeuralDiarizer(
        NeuralDiarizerConfig(segmentation=models.segmentation, embedding=models.embedding, **overrides)
    )


def builtin_diarizer():
    from engines.diarization.builtin import BuiltinDiarizer

    return BuiltinDiarizer()


def evaluate(diarizer, files, hinted: bool = False) -> None:
    pooled, dev_pooled, exact = metric(), metric(), 0
    total_wall = total_cpu = total_audio = 0.0
    print(
        f"{'file':28s} {'dur':>5s} {'ref':>3s} {'hyp':>3s} {'DER%':>6s} {'miss':>5s} {'FA':>5s} {'conf':>5s} "
        f"{'RTF':>6s} {'CPU/s':>6s}"
    )
    for name, audio, ref in files:
        n_ref = len({k for *_, k in ref})
        t0, c0 = time.perf_counter(), time.process_time()
        turns = diarizer.diarize(DiarizationRequest(audio=audio, num_speakers=n_ref if hinted else None))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        hyp = [(t.start, t.end, t.speaker) for t in turns]
        r, h = annotation(ref), annotation(hyp)
        d = pooled(r, h, detailed=True)
        n_hyp = len({k for *_, k in hyp})
        if name != "sample.wav":
            dev_pooled(r, h)
            exact += n_hyp == n_ref
            total_wall, total_cpu, total_audio = total_wall + wall, total_cpu + cpu, total_audio + audio.size / SR
        tot = d["total"] or 1.0
        dur = audio.size / SR
        print(
            f"{name:28s} {dur:5.1f} {n_ref:3d} {n_hyp:3d} {100 * d['diarization error rate']:6.1f} "
            f"{100 * d['missed detection'] / tot:5.1f} {100 * d['false alarm'] / tot:5.1f} "
            f"{100 * d['confusion'] / tot:5.1f} {wall / dur:6.3f} {cpu / dur:6.3f}"
        )
    print(
        f"12 dev files pooled DER {100 * abs(dev_pooled):.1f}%, count exact {exact}/12, "
        f"RTF wall {total_wall / total_audio:.3f}, CPU s per audio s {total_cpu / total_audio:.3f}"
    )


def sweep(files, steps: list[float], thresholds: list[float], sizes: list[int]) -> None:
    import torch

    torch.set_num_threads(1)  # as the engine runs (see NeuralDiarizerConfig.torch_threads)
    results = {}
    for step in steps:
        diarizer = neural_diarizer(segmentation_step=step)
        pipeline = diarizer.pipeline()
        pipeline.training = True  # caches segmentation + embeddings in each file dict
        cache = {name: {"waveform": torch.from_numpy(a)[None], "sample_rate": SR, "uri": name} for name, a, _ in files}
        c0 = time.process_time()
        for threshold, size in itertools.product(thresholds, sizes):
            pipeline.instantiate(
                {
                    "segmentation": {"min_duration_off": 0.0},
                    "clustering": {"method": "centroid", "threshold": threshold, "min_cluster_size": size},
                }
            )
            cal, held, exact, per = metric(), metric(), 0, {}
            for name, _, ref in files:
                out = pipeline(cache[name])
                hyp = [(s.start, s.end, k) for s, _, k in out.speaker_diarization.itertracks(yield_label=True)]
                r, h = annotation(ref), annotation(hyp)
                n_ref, n_hyp = len({k for *_, k in ref}), len({k for *_, k in hyp})
                per[name] = (n_hyp, 100 * metric()(r, h))
                if name == "sample.wav":
                    continue
                (held if name in HELD_OUT else cal)(r, h)
                exact += n_hyp == n_ref
            results[(step, threshold, size)] = (abs(cal), abs(held), exact, per)
        print(f"step {step}: embeddings for all files in {time.process_time() - c0:.0f} CPU s (incl. all settings)")
    print(f"\n{'step':>5s} {'thr':>5s} {'mcs':>4s} {'cal DER':>8s} {'held DER':>8s} {'exact':>6s} {'sample':>12s}")
    for (step, threshold, size), (cal, held, exact, per) in sorted(results.items(), key=lambda kv: kv[1][0]):
        print(
            f"{step:5.2f} {threshold:5.2f} {size:4d} {100 * cal:8.1f} {100 * held:8.1f} {exact:4d}/12 "
            f"{per['sample.wav'][0]:3d} {per['sample.wav'][1]:5.1f}%  "
            + " ".join(f"{n[:10]}:{c}/{d:.0f}" for n, (c, d) in per.items() if n != "sample.wav")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("neural", "builtin"), default="neural")
    parser.add_argument("--hinted", action="store_true", help="give each file its reference speaker count")
    parser.add_argument("--sweep", action="store_true", help="calibrate the neural engine's clustering")
    parser.add_argument("--steps", default="0.2", help="segmentation steps for --sweep (fractions of 10 s)")
    parser.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.9")
    parser.add_argument("--sizes", default="1,3,6,12")
    args = parser.parse_args()
    files = inputs()
    if args.sweep:
        sweep(
            files,
            [float(s) for s in args.steps.split(",")],
            [float(t) for t in args.thresholds.split(",")],
            [int(s) for s in args.sizes.split(",")],
        )
        return
    diarizer = neural_diarizer() if args.engine == "neural" else builtin_diarizer()
    t0 = time.perf_counter()
    diarizer.diarize(DiarizationRequest(audio=files[0][1][: 5 * SR]))
    print(f"{args.engine}: model load + first call {time.perf_counter() - t0:.1f} s")
    evaluate(diarizer, files, hinted=args.hinted)


if __name__ == "__main__":
    main()
