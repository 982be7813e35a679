"""Probes of the neural diarizer's limits on the shared dev set (issue 11, round 8): ideas measured
and not adopted, kept so that their figures can be reproduced. docs/benchmarks.md has the results.

    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes solo
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes windows --windows 10:0.2,5:0.2
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes eigengap
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes separate-halves
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes count-bias
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes linkage
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes concatenated
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes min-duration-on
    PYANNOTE_METRICS_ENABLED=false .venv/bin/python -m scripts.diarization_probes read-conversations

  solo             per file: each reference speaker's seconds of speech nobody else speaks over,
                   and the count the engine finds (what an embedding-based count can see at all)
  windows          segmentation windows shorter than segmentation-3.0's 10 s (WINDOW:STEP, the
                   step a fraction of the window), clustering thresholds 0.7-0.9
  eigengap         a spectral speaker count (NME-SC-style p-pruned cosine affinity, the normalised
                   Laplacian's largest eigengap) imposed on the clustering, or used as a minimum
  separate-halves  the track cut with each half embedded by a CAM++ pass of its own (the default
                   pools both halves from the whole track's one forward), cut before or after
                   the clustering
  count-bias       the per-frame speaker count (the windows' summed activity averaged where they
                   overlap, then rounded) with an offset before the rounding: a speaker found in
                   fewer than half the windows that cover a frame is kept (> 0) or dropped (< 0)
  linkage          scipy's other linkage methods in place of pyannote's centroid linkage (average
                   and complete on cosine distances, ward on unit vectors), each at its own range
                   of thresholds, with pyannote's unconstrained or constrained assignment
  concatenated     the 13 files joined into one recording of ~7 minutes (1 s of silence between
                   them; each file's speakers taken as different people), centroid and average
                   linkage at their calibrated thresholds, and the outlier rules: does a setting
                   chosen on 30 s files hold when clusters hold many more windows
  min-duration-on  turns shorter than a minimum dropped (pyannote's Binarize min_duration_on),
                   and how many turns of that length each file has
  read-conversations  the outlier rules on recordings the diarizer was never calibrated on: the
                   15 read conversations of scripts.bench_speaker_id (~3 s turns of several readers,
                   pieces of the dev set's STT clips, exact references), speaker count and DER

Every probe runs the engine's own NeuralPipeline at its default setting except the one thing it
varies, and scores as scripts.bench_dev_diarization does (DER with collar 0.25 s, overlap scored,
the diarizer's own turns, pooled over files; the same held-out files).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from collections.abc import Callable

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

import numpy as np

from engines.types import SAMPLE_RATE as SR
from scripts.bench_dev_diarization import (
    annotation,
    cached_turns,
    file_errors,
    inputs,
    neural_diarizer,
    parts,
    pooled,
)

NO_HOOK = lambda *args, **kwargs: None  # noqa: E731


@dataclasses.dataclass
class Cached:
    audio: np.ndarray
    ref: list
    seg: np.ndarray
    count: np.ndarray
    emb: np.ndarray
    halves: np.ndarray


def prepare(pipeline, files) -> dict[str, Cached]:
    """Segmentation and CAM++ embeddings (with the halves) of every file, at the pipeline's setting."""
    import torch

    out = {}
    for name, audio, ref in files:
        waveform = torch.from_numpy(audio)
        with torch.inference_mode():
            seg = pipeline.segment(waveform, NO_HOOK)
            emb, halves = pipeline.embed(waveform, seg, NO_HOOK, halves=True)
        out[name] = Cached(audio, ref, seg, pipeline.speaker_count(seg), emb, halves)
    return out


def cluster(pipeline, c: Cached, params=None, num=None, low=1, high=math.inf, seg=None, emb=None, halves=...):
    """cached_turns on a Cached file: the pipeline's setting (or `params`), its cut's halves
    unless `halves` says otherwise; `seg` / `emb` replace the cached ones."""
    pipeline.params = params or pipeline.params
    if halves is ...:
        halves = c.halves if math.isfinite(pipeline.params.split_distance) else None
    if num is not None:
        low = high = num
    seg = c.seg if seg is None else seg
    emb = c.emb if emb is None else emb
    return cached_turns(pipeline, seg, c.count, emb, halves, c.audio.size / SR, num, low, high)


def score(cache: dict[str, Cached], diarize: Callable[[str], list]) -> str:
    per = {name: file_errors(c.ref, diarize(name)) for name, c in cache.items()}
    dev, cal, held = parts(per)
    exact = sum(per[n][0] == per[n][1] for n in dev)
    sample = per["sample.wav"][0] if "sample.wav" in per else 0
    counts = " ".join(f"{n[-6:]}:{per[n][0]}/{per[n][1]}" for n in dev)
    return (
        f"12 files {pooled(per, dev):5.1f}%  cal {pooled(per, cal):5.1f}%  held {pooled(per, held):5.1f}%  "
        f"exact {exact}/12  sample.wav {sample} spk {pooled(per, ['sample.wav']):4.1f}%  | {counts}"
    )


def with_params(pipeline, cache: dict[str, Cached], params) -> Callable[[str], list]:
    def diarize(name: str) -> list:
        return cluster(pipeline, cache[name], params)

    return diarize


def solo(pipeline, cache) -> None:
    for name, c in cache.items():
        ref = annotation(c.ref)
        seconds = []
        for label in ref.labels():
            own = ref.label_timeline(label).support()
            others = ref.subset([x for x in ref.labels() if x != label]).get_timeline().support()
            seconds.append(round(own.extrude(others).duration() if len(others) else own.duration(), 1))
        found = len({k for *_, k in cluster(pipeline, c)})
        print(f"{name:28s} reference {len(seconds)} found {found}  solo s per speaker {sorted(seconds)}")


def windows(pipeline, files, specs: list[tuple[float, float]]) -> None:
    base = pipeline.params
    model_window = pipeline.segmentation.duration
    try:
        for window, step in specs:
            # every duration the pipeline reads (windows, steps, aggregation, masks) is this one
            pipeline.segmentation.duration = window
            pipeline.params = dataclasses.replace(base, step=step)
            c0 = time.process_time()
            cache = prepare(pipeline, files)
            cpu = time.process_time() - c0
            for threshold in (0.7, 0.8, 0.9):
                params = dataclasses.replace(
                    base, step=step, clustering=dataclasses.replace(base.clustering, threshold=threshold)
                )
                line = score(cache, with_params(pipeline, cache, params))
                print(f"window {window} s step {step} threshold {threshold} ({cpu:.0f} CPU s): {line}", flush=True)
    finally:
        pipeline.segmentation.duration = model_window
        pipeline.params = base


def spectral_count(embeddings: np.ndarray, p: float, max_count: int = 8) -> int:
    """NME-SC's count (Park et al. 2019) without its p search: keep each row's top p share of
    cosine affinities, symmetrise, and take the normalised Laplacian's largest eigengap."""
    n = len(embeddings)
    if n < 3:
        return 1
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    affinity = unit @ unit.T
    keep = np.argsort(-affinity, axis=1)[:, : max(1, int(p * n))]
    pruned = np.zeros_like(affinity)
    np.put_along_axis(pruned, keep, np.take_along_axis(affinity, keep, axis=1), axis=1)
    pruned = np.maximum(0.5 * (pruned + pruned.T), 0.0)
    degree = pruned.sum(axis=1)
    scale = 1.0 / np.sqrt(np.maximum(degree, 1e-9))
    laplacian = np.eye(n) - scale[:, None] * pruned * scale[None, :]
    eigenvalues = np.sort(np.linalg.eigvalsh(laplacian))
    return int(np.argmax(np.diff(eigenvalues[: max_count + 1])) + 1)


def eigengap(pipeline, cache) -> None:
    from engines.diarization.ahc import filter_embeddings

    ratio = pipeline.params.clustering.min_active_ratio
    for p in (0.1, 0.2, 0.3, 0.5):
        counts = {n: spectral_count(filter_embeddings(c.emb, c.seg, ratio)[0], p) for n, c in cache.items()}
        print(f"p {p}: counts " + " ".join(f"{n[-6:]}:{counts[n]}" for n in cache))

        def imposed(name: str, counts: dict[str, int] = counts) -> list:
            return cluster(pipeline, cache[name], num=counts[name])

        def as_minimum(name: str, counts: dict[str, int] = counts) -> list:
            return cluster(pipeline, cache[name], low=counts[name])

        print(f"  imposed     {score(cache, imposed)}")
        print(f"  as minimum  {score(cache, as_minimum)}", flush=True)


def separate_halves(pipeline, cache) -> None:
    import torch

    base = pipeline.params
    window, step = pipeline.window_samples, pipeline.step_samples
    c0, speech = time.process_time(), 0.0
    separate = {}
    for name, c in cache.items():
        masks = pipeline.embedding_masks(c.seg)
        frames_per_s = c.seg.shape[1] / pipeline.segmentation.duration
        # the cut's own length rule (NeuralPipeline._cuttable without its distance gate) and its
        # own cut at the middle of the embedded speech (NeuralPipeline._cut)
        long_enough = np.sum(masks, axis=1) >= 2 * base.split_min_s * frames_per_s
        cut_seg, num_speakers = pipeline._cut(c.seg, long_enough), c.seg.shape[2]
        out = np.full(c.halves.shape, np.nan, np.float32)
        items = []
        waveform = torch.from_numpy(c.audio)
        for chunk, k in zip(*np.nonzero(long_enough), strict=True):
            piece = waveform[chunk * step : chunk * step + window]
            piece = torch.nn.functional.pad(piece, (0, window - piece.shape[0]))
            first = masks[chunk, :, k] * (cut_seg[chunk, :, k] > 0)
            second = masks[chunk, :, k] * (cut_seg[chunk, :, num_speakers + k] > 0)
            items.append((chunk, k, piece, first, second))
        speech += float(np.sum(masks.sum(axis=1)[long_enough])) / frames_per_s
        for i in range(0, len(items), 16):
            batch = items[i : i + 16]
            waveforms = torch.stack([item[2] for item in batch])[:, None]
            for half in (0, 1):
                half_masks = torch.from_numpy(np.stack([item[3 + half] for item in batch]))
                vectors = pipeline.embedding(waveforms, masks=half_masks)
                for j, item in enumerate(batch):
                    out[item[0], item[1], half] = vectors[j]
        separate[name] = out
    print(f"separate passes: {time.process_time() - c0:.0f} CPU s for {speech:.0f} s of speech re-embedded")
    one_forward = {name: c.halves for name, c in cache.items()}
    for label, halves_of in (("one forward", one_forward), ("separate passes", separate)):
        for recluster in (True, False):
            params = dataclasses.replace(base, split_recluster=recluster)

            def after(name: str, params=params, halves_of=halves_of) -> list:
                return cluster(pipeline, cache[name], params, halves=halves_of[name])

            print(f"{label}, cut after clustering, recluster {recluster}: {score(cache, after)}")
        for distance in (0.3, 0.4, 0.5, 0.6):
            params = dataclasses.replace(base, split_after_clustering=False, split_distance=distance)

            def before(name: str, params=params, halves_of=halves_of) -> list:
                pipeline.params = params
                c = cache[name]
                seg, emb = pipeline.split_tracks(c.seg, c.emb, halves_of[name])
                return cluster(pipeline, c, params, seg=seg, emb=emb, halves=None)

            print(f"{label}, cut before clustering, split_distance {distance}: {score(cache, before)}", flush=True)
    pipeline.params = base


def count_bias(pipeline, cache) -> None:
    """The speaker count of the engine's pipeline (PipelineParams.count_bias) at each offset, None
    being pyannote's np.rint; clustering is unchanged (it does not use the count), only the
    reconstruction."""
    base = pipeline.params
    for bias in (None, -0.2, -0.1, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
        pipeline.params = dataclasses.replace(base, count_bias=bias)
        counts = {n: pipeline.speaker_count(c.seg) for n, c in cache.items()}

        def diarize(name: str, counts=counts) -> list:
            return cluster(pipeline, dataclasses.replace(cache[name], count=counts[name]))

        label = "rint (pyannote)" if bias is None else f"{bias:+.2f}"
        print(f"count bias {label:>15s}: {score(cache, diarize)}", flush=True)
    pipeline.params = base


# each method's distances have their own scale: centroid and ward are euclidean distances between
# unit vectors (0.8 = a cosine distance of 0.32 between two of them), average and complete cosine
# distances (a first pass at 0.4-0.9 and 0.7-1.2 found their best at the bottom of those ranges)
LINKAGE_THRESHOLDS = {
    "centroid": (0.7, 0.75, 0.8, 0.85, 0.9),
    "average": (0.25, 0.3, 0.35, 0.4, 0.45),
    "complete": (0.4, 0.5, 0.6, 0.7),
    "ward": (0.6, 0.8, 1.0, 1.2, 1.4),
}


def with_clustering(params, **changes):
    """PipelineParams `params` with those AhcParams fields changed."""
    return dataclasses.replace(params, clustering=dataclasses.replace(params.clustering, **changes))


def linkage(pipeline, cache, methods: dict[str, tuple[float, ...]], constrained_too: bool = True) -> None:
    base = pipeline.params
    for method, thresholds in methods.items():
        for constrained in (False, True) if constrained_too else (False,):
            for threshold in thresholds:
                params = with_clustering(base, method=method, threshold=threshold, constrained_assignment=constrained)
                line = score(cache, with_params(pipeline, cache, params))
                print(f"{method:8s} constrained {constrained!s:5s} threshold {threshold:4.2f}: {line}", flush=True)
    pipeline.params = base


def concatenated(pipeline, files, settings: dict[str, dict]) -> None:
    """`settings`: label -> AhcParams fields that differ from the engine's."""
    gap = np.zeros(SR, np.float32)
    pieces, ref, offset = [], [], 0.0
    for name, audio, turns in files:
        pieces += [audio, gap]
        ref += [(offset + s, offset + e, f"{name}:{k}") for s, e, k in turns]
        offset += (audio.size + gap.size) / SR
    audio = np.concatenate(pieces)
    cache = prepare(pipeline, [("concatenated", audio, ref)])
    base = pipeline.params
    for label, changes in settings.items():
        hyp = cluster(pipeline, cache["concatenated"], with_clustering(base, **changes))
        found, n_ref, miss, fa, conf, total = file_errors(ref, hyp)
        print(
            f"{label:22s} {audio.size / SR:.0f} s: DER {100 * (miss + fa + conf) / total:5.1f}% "
            f"(miss {100 * miss / total:.1f} / FA {100 * fa / total:.1f} / conf {100 * conf / total:.1f}), "
            f"{found} speakers found of {n_ref}",
            flush=True,
        )
    pipeline.params = base


OUTLIER_SETTINGS: dict[str, dict] = {
    "rule off": {"outlier_distance": math.inf},
    "distance only 0.7 / 1": {"outlier_distance": 0.7, "outlier_min_tracks": 1, "outlier_conflict": False},
    "distance only 0.75 / 1": {"outlier_distance": 0.75, "outlier_min_tracks": 1, "outlier_conflict": False},
    "conflict 0.6 / 1": {"outlier_distance": 0.6, "outlier_min_tracks": 1, "outlier_conflict": True},
    "conflict 0.7 / 1": {"outlier_distance": 0.7, "outlier_min_tracks": 1, "outlier_conflict": True},
    "conflict 0.7 / 2": {"outlier_distance": 0.7, "outlier_min_tracks": 2, "outlier_conflict": True},
}


def read_conversations(pipeline) -> None:
    from scripts.bench_speaker_id import enrolment_and_tests
    from scripts.dev_data import dev_data_dir

    _, recordings = enrolment_and_tests(dev_data_dir(), seeds=3)
    cache = prepare(pipeline, [(r.name, r.audio, r.turns) for r in recordings if r.kind == "read"])
    base = pipeline.params
    for label, changes in OUTLIER_SETTINGS.items():
        params = with_clustering(base, **changes)
        per = {name: file_errors(c.ref, cluster(pipeline, c, params)) for name, c in cache.items()}
        off_by = [found - n_ref for found, n_ref, *_ in per.values()]
        print(
            f"{label:24s} DER {pooled(per, list(per)):5.1f}%  count exact {off_by.count(0)}/{len(per)}  "
            f"found - reference: {off_by}",
            flush=True,
        )
    pipeline.params = base


def min_duration_on(pipeline, cache) -> None:
    base = pipeline.params
    every_turn = dataclasses.replace(base, min_duration_on=0.0)
    lengths = [e - s for c in cache.values() for s, e, _ in cluster(pipeline, c, every_turn)]
    for shortest in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5):
        short = sum(1 for length in lengths if 0 < length < shortest)
        line = score(cache, with_params(pipeline, cache, dataclasses.replace(base, min_duration_on=shortest)))
        print(f"min_duration_on {shortest:4.2f} ({short:3d} turns shorter): {line}", flush=True)
    pipeline.params = base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "probe",
        choices=(
            "solo",
            "windows",
            "eigengap",
            "separate-halves",
            "count-bias",
            "linkage",
            "concatenated",
            "min-duration-on",
            "read-conversations",
        ),
    )
    parser.add_argument("--windows", default="10:0.2,7.5:0.2667,5:0.2,5:0.4", help="WINDOW:STEP,... for `windows`")
    parser.add_argument(
        "--linkage",
        help="METHOD:T1/T2/...;... for `linkage` (default: LINKAGE_THRESHOLDS, with and without the "
        "constrained assignment; given, the unconstrained one only)",
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as the engine runs (NeuralDiarizerConfig.torch_threads)
    files = inputs()
    pipeline = neural_diarizer().pipeline()
    if args.probe == "windows":
        specs = [tuple(float(v) for v in spec.split(":")) for spec in args.windows.split(",")]
        windows(pipeline, files, specs)  # type: ignore[arg-type]
        return
    if args.probe == "read-conversations":
        read_conversations(pipeline)
        return
    if args.probe == "concatenated":
        no_outliers = {"outlier_distance": math.inf}
        settings = {
            "centroid 0.8": {"method": "centroid", "threshold": 0.8, **no_outliers},
            "average 0.34": {"threshold": 0.34, **no_outliers},
            "average 0.36": {"threshold": 0.36, **no_outliers},
            "average 0.38": {"threshold": 0.38, **no_outliers},
            **{k: v for k, v in OUTLIER_SETTINGS.items() if k != "rule off"},
        }
        concatenated(pipeline, files, settings)
        return
    cache = prepare(pipeline, files)
    probes = {
        "solo": solo,
        "eigengap": eigengap,
        "separate-halves": separate_halves,
        "count-bias": count_bias,
        "min-duration-on": min_duration_on,
    }
    if args.probe == "linkage":
        methods = LINKAGE_THRESHOLDS
        if args.linkage:
            methods = {
                spec.split(":")[0]: tuple(float(t) for t in spec.split(":")[1].split("/"))
                for spec in args.linkage.split(";")
            }
        linkage(pipeline, cache, methods, constrained_too=not args.linkage)
        return
    probes[args.probe](pipeline, cache)


if __name__ == "__main__":
    main()
