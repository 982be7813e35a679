"""Diarization on the shared dev set (12 recordings with reference RTTM) plus pyannote's sample.wav.

    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.bench_dev_diarization [--engine neural|builtin]
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.bench_dev_diarization --set overlap_bias=0 --monologues
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.bench_dev_diarization --sweep --ratios 0.1,0.2 \
        --biases 0,1,2,3 --overlap-biases=-0.5,0,0.5,1 --exclude 0,1 --thresholds 0.7,0.8,0.9 --out sweep.json

Scoring: pyannote.metrics DiarizationErrorRate(collar=0.25, skip_overlap=False) on the diarizer's
own turns (overlapping ones included); "pooled" sums errors and reference time over files. Timing:
wall seconds and process CPU seconds (the 2 cores are shared with other developers, so wall time
is noisy; CPU seconds are steadier but inflate too when cores are oversubscribed). `--set` changes
one NeuralDiarizerConfig field; `--monologues` also counts speakers on one-reader recordings.

--sweep (neural engine, the engine's own NeuralPipeline): the segmentation network runs once per
file and step (its logits kept), each (speech bias, overlap bias) binarises them, embeddings are
computed once per (step, biases, overlap exclusion), then every clustering threshold,
min_cluster_size and min_duration_off is scored from them. Files in HELD_OUT are left out of the
choice and reported apart, as a check. `--out` keeps every setting's per-file errors (JSON) for
`--summarise`. Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
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


def sweep(
    files,
    steps,
    biases,
    overlap_biases,
    exclude,
    thresholds,
    sizes,
    offs,
    ratios=(0.2,),
    outliers=(math.inf,),
    outlier_tracks=(2,),
    outlier_conflict: bool = False,
    splits=(math.inf,),
    split_after: bool = False,
    split_min_s: float = 1.0,
    recluster: bool = False,
    count_biases=(...,),
    out: str | None = None,
    linkage: str = "centroid",
) -> None:
    """Every setting scored from one segmentation forward per file and step (logits cached, each
    speech bias binarised from them) and one set of embeddings per (step, bias, exclusion).
    `count_biases`: PipelineParams.count_bias values (None: pyannote's rint; ...: the engine's);
    `linkage`: the clustering's method, whose scale the thresholds are on."""
    import dataclasses
    import json

    import torch

    from engines.diarization.ahc import AhcParams

    torch.set_num_threads(1)  # as the engine runs (see NeuralDiarizerConfig.torch_threads)
    results = {}
    for step in steps:
        pipeline = neural_diarizer(segmentation_step=step).pipeline()
        model = pipeline.segmentation
        base = pipeline.params
        count_values = [base.count_bias if cb is ... else cb for cb in count_biases]
        c0 = time.process_time()
        with torch.inference_mode():
            pipeline._infer = lambda chunks, model=model: model.logits(chunks[:, None]).numpy()
            logits = {name: pipeline.segment(torch.from_numpy(a), lambda *a, **k: None) for name, a, _ in files}
        print(f"step {step}: segmentation {time.process_time() - c0:.0f} CPU s", flush=True)
        for bias, obias, excl in itertools.product(biases, overlap_biases, exclude):
            c0 = time.process_time()
            pipeline.params = dataclasses.replace(
                base, speech_bias=bias, overlap_bias=obias, embedding_exclude_overlap=excl
            )
            cached = {}
            halves = any(math.isfinite(v) for v in splits)
            for name, a, _ in files:
                with torch.inference_mode():
                    seg = model.binarize(torch.from_numpy(logits[name]), bias, obias).numpy()
                    emb = pipeline.embed(torch.from_numpy(a), seg, lambda *a, **k: None, halves=halves)
                count = {}
                for cb in count_values:
                    pipeline.params = dataclasses.replace(pipeline.params, count_bias=cb)
                    count[cb] = pipeline.speaker_count(seg)
                for split in splits:
                    if not halves:
                        cached[name, split] = (seg, count, emb, None)
                    elif not math.isfinite(split):
                        cached[name, split] = (seg, count, emb[0], None)
                    elif split_after:  # cut after the clustering: the halves go along
                        cached[name, split] = (seg, count, emb[0], emb[1])
                    else:
                        pipeline.params = dataclasses.replace(
                            pipeline.params, split_distance=split, split_min_s=split_min_s
                        )
                        split_seg, split_emb = pipeline.split_tracks(seg, *emb)
                        cached[name, split] = (split_seg, count, split_emb, None)
            print(f"  bias {bias}/{obias} exclude {excl}: embeddings {time.process_time() - c0:.0f} CPU s", flush=True)
            settings = itertools.product(
                thresholds, sizes, offs, ratios, outliers, outlier_tracks, splits, count_values
            )
            for threshold, size, off, ratio, outlier, tracks, split, cb in settings:
                if not math.isfinite(outlier) and tracks != outlier_tracks[0]:
                    continue  # the rule is off: its track count changes nothing
                clustering = AhcParams(
                    threshold,
                    linkage,
                    size,
                    min_active_ratio=ratio,
                    outlier_distance=outlier,
                    outlier_min_tracks=tracks,
                    outlier_conflict=outlier_conflict,
                )
                pipeline.params = dataclasses.replace(
                    base,
                    min_duration_off=off,
                    clustering=clustering,
                    embedding_exclude_overlap=excl,
                    split_distance=split,
                    split_min_s=split_min_s,
                    split_recluster=recluster,
                    count_bias=cb,
                )
                per = {}
                for name, a, ref in files:
                    seg, count, emb, split_halves = cached[name, split]
                    turns = cached_turns(pipeline, seg, count[cb], emb, split_halves, a.size / SR)
                    per[name] = file_errors(ref, turns)
                ratio_key = "" if ratio == 0.2 else f" r{ratio}"
                ratio_key += f" o{outlier}/{tracks}{'x' if outlier_conflict else ''}" if math.isfinite(outlier) else ""
                ratio_key += (
                    f" s{split}{'a' if split_after else ''}{'r' if recluster else ''}" if math.isfinite(split) else ""
                )
                ratio_key += "" if cb is None else f" c{cb}"
                results[f"{step} {bias}/{obias} {int(excl)} {threshold} {size} {off}{ratio_key}"] = per
    if out:
        with open(out, "w") as f:
            json.dump(results, f)
    summarise(results)


def cached_turns(pipeline, seg, count, emb, halves, duration: float, num=None, low=1, high=math.inf) -> list:
    """The pipeline's steps 4-6 (clustering on) on a file's cached segmentation and embeddings,
    with the speaker-count hints of NeuralPipeline.__call__; turns clipped to the audio."""
    from engines.diarization.neural import turns_from

    if np.nanmax(count) == 0:
        return []
    result = pipeline.cluster_and_reconstruct(seg, count, emb, num, low, high, None, halves)
    return turns_from(result.turns, duration)


def file_errors(ref, hyp) -> tuple[int, int, float, float, float, float]:
    """(speakers found, reference speakers, missed, false alarm, confusion, total) seconds."""
    d = metric()(annotation(ref), annotation(hyp), detailed=True)
    n_hyp, n_ref = len({k for *_, k in hyp}), len({k for *_, k in ref})
    return n_hyp, n_ref, d["missed detection"], d["false alarm"], d["confusion"], d["total"]


def pooled(per: dict, names) -> float:
    """DER in % over `names`, from file_errors rows: errors and reference time summed over files."""
    err = sum(per[n][2] + per[n][3] + per[n][4] for n in names)
    return 100 * err / max(sum(per[n][5] for n in names), 1e-9)


def parts(per: dict) -> tuple[list[str], list[str], list[str]]:
    """The 12 dev files (sample.wav aside), the calibration ones and the held-out ones."""
    dev = [n for n in per if n != "sample.wav"]
    return dev, [n for n in dev if n not in HELD_OUT], [n for n in dev if n in HELD_OUT]


def summarise(results: dict) -> None:
    rows = []
    for key, per in results.items():
        dev, cal, held = parts(per)
        exact = sum(per[n][0] == per[n][1] for n in dev)
        rows.append((pooled(per, cal), pooled(per, held), pooled(per, dev), exact, key, per))
    header = "step bias excl thr mcs off [ratio outliers split]"
    print(f"\n{header:44s} {'cal':>5s} {'held':>5s} {'all12':>5s} {'exact':>5s} sample")
    for cal, held, dev, exact, key, per in sorted(rows)[:60]:
        s = per["sample.wav"]
        print(
            f"{key:44s} {cal:5.1f} {held:5.1f} {dev:5.1f} {exact:3d}/12 {s[0]} {pooled(per, ['sample.wav']):4.1f}% "
            + " ".join(f"{n[-6:]}:{per[n][0]}/{pooled(per, [n]):.0f}" for n in per if n != "sample.wav")
        )


# One reader each (the dev set's README: "Each STT clip has one speaker"; the groups are its
# speaker groups), joined with 0.4 s of silence: the diarizer must find one speaker in each.
MONOLOGUES = {
    "lj (4 clips)": ("lj_LJ001-0001", "lj_LJ001-0003", "lj_LJ001-0005", "lj_LJ001-0007"),
    "librivox reader 1 (5 clips)": tuple(f"ps_librivox_0{n}" for n in (870, 880, 890, 920, 930)),
    "ls_2412-153948-0000": ("ls_2412-153948-0000",),
    "ls_1995-1837-0001": ("ls_1995-1837-0001",),
    "pv_leopard_test": ("pv_leopard_test",),
}


def monologues(diarizer) -> None:
    from scripts.dev_data import dev_data_dir

    root = dev_data_dir()
    if root is None:
        raise SystemExit("dev set not found: set VOICE_API_DEV_DATA or put shared/data/dev beside the repo")
    gap = np.zeros(int(0.4 * SR), np.float32)
    for label, names in MONOLOGUES.items():
        clips = [read_wav(root / "stt" / f"{n}.wav") for n in names]
        audio = np.concatenate([part for clip in clips for part in (clip, gap)])
        turns = diarizer.diarize(DiarizationRequest(audio=audio))
        print(f"monologue {label:28s} {audio.size / SR:5.1f} s: {len({t.speaker for t in turns})} speaker(s)")


def main() -> None:
    from engines.diarization.neural import NeuralDiarizerConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=("neural", "builtin"), default="neural")
    parser.add_argument("--hinted", action="store_true", help="give each file its reference speaker count")
    parser.add_argument("--sweep", action="store_true", help="calibrate the neural engine's clustering")
    parser.add_argument("--steps", default="0.2", help="segmentation steps for --sweep (fractions of 10 s)")
    parser.add_argument("--biases", default="0,1,2", help="speech biases for --sweep")
    parser.add_argument("--overlap-biases", default="0", help="overlap biases for --sweep")
    parser.add_argument("--exclude", default="0,1", help="embedding_exclude_overlap values for --sweep")
    parser.add_argument(
        "--linkage", default=NeuralDiarizerConfig.linkage, help="--sweep: the clustering's linkage method"
    )
    parser.add_argument(
        "--thresholds",
        help="--sweep: clustering thresholds, on the linkage's scale (default 0.3-0.42 for average, 0.6-0.9 else)",
    )
    parser.add_argument("--sizes", default="1,3")
    parser.add_argument("--offs", default="0.0", help="min_duration_off values for --sweep")
    parser.add_argument("--ratios", default="0.2", help="clustering min_active_ratio values for --sweep")
    parser.add_argument(
        "--outliers",
        default=str(NeuralDiarizerConfig.outlier_distance),
        help="--sweep: outlier_distance values (cosine distance; inf: pyannote's rule; default: the engine's)",
    )
    parser.add_argument(
        "--outlier-tracks",
        default=str(NeuralDiarizerConfig.outlier_min_tracks),
        help="--sweep: outlier_min_tracks values",
    )
    parser.add_argument(
        "--outlier-conflict",
        type=int,
        choices=(0, 1),
        default=int(NeuralDiarizerConfig.outlier_conflict),
        help="--sweep: outlier_conflict (1: an outlier must share its cluster with a local speaker of its window)",
    )
    parser.add_argument("--splits", default="inf", help="--sweep: split_distance values (inf: no track split)")
    parser.add_argument("--split-after", action="store_true", help="--sweep: split_after_clustering")
    parser.add_argument("--split-min-s", type=float, default=1.0, help="--sweep: split_min_s")
    parser.add_argument("--recluster", action="store_true", help="--sweep: split_recluster (with --split-after)")
    parser.add_argument(
        "--count-biases", help="--sweep: count_bias values, 'rint' for pyannote's rounding (default: the engine's)"
    )
    parser.add_argument("--out", help="--sweep: write every setting's per-file errors to this JSON file")
    parser.add_argument("--summarise", help="print the table of a --out JSON file and stop")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="NeuralDiarizerConfig field, e.g. speech_bias=0 (repeatable)",
    )
    parser.add_argument("--monologues", action="store_true", help="also count speakers on one-reader recordings")
    args = parser.parse_args()
    if args.summarise:
        import json

        with open(args.summarise) as f:
            summarise(json.load(f))
        return
    files = inputs()
    if args.sweep:

        def floats(text: str) -> list[float]:
            return [float(v) for v in text.split(",")]

        sweep(
            files,
            floats(args.steps),
            floats(args.biases),
            floats(args.overlap_biases),
            [bool(int(v)) for v in args.exclude.split(",")],
            floats(args.thresholds or ("0.3,0.33,0.36,0.39,0.42" if args.linkage == "average" else "0.6,0.7,0.8,0.9")),
            [int(v) for v in args.sizes.split(",")],
            floats(args.offs),
            floats(args.ratios),
            floats(args.outliers),
            [int(v) for v in args.outlier_tracks.split(",")],
            bool(args.outlier_conflict),
            floats(args.splits),
            args.split_after,
            args.split_min_s,
            args.recluster,
            [None if v == "rint" else float(v) for v in args.count_biases.split(",")] if args.count_biases else [...],
            args.out,
            args.linkage,
        )
        return
    overrides = {k: type_of(k)(v) for k, v in (item.split("=", 1) for item in args.set)}
    diarizer = neural_diarizer(**overrides) if args.engine == "neural" else builtin_diarizer()
    t0 = time.perf_counter()
    diarizer.diarize(DiarizationRequest(audio=files[0][1][: 5 * SR]))
    print(f"{args.engine}: model load + first call {time.perf_counter() - t0:.1f} s")
    evaluate(diarizer, files, hinted=args.hinted)
    if args.monologues:
        monologues(diarizer)


def type_of(field: str):
    import dataclasses

    from engines.diarization.neural import NeuralDiarizerConfig

    kind = {f.name: f.type for f in dataclasses.fields(NeuralDiarizerConfig)}[field]
    optional = lambda v: None if v.lower() in ("none", "rint") else float(v)  # noqa: E731
    parsers = {"float": float, "int": int, "bool": lambda v: v.lower() in ("1", "true"), "float | None": optional}
    return parsers.get(str(kind), str)


if __name__ == "__main__":
    main()
