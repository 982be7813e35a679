"""Neural diarizer: pyannote segmentation-3.0 + CAM++ + agglomerative clustering, pyannote's algorithm.

The work is pyannote.audio 4's `SpeakerDiarization` (sliding-window powerset segmentation with
overlap, per-chunk local speakers embedded, AHC on the embeddings, reconstruction with the
instantaneous speaker count), run from neural_pipeline.py / ahc.py / segmentation_model.py: the
same steps and arithmetic, and the same turns (tested against pyannote's pipeline), without
importing pyannote.audio, whose `lightning` import alone held ~390 MB of the worker's memory
(docs/benchmarks.md, issue 11). Models come from local files only.

Both diarizations pyannote computes are returned: the turns (overlapping where two people talk at
once) and the exclusive one (one speaker per instant), which transcripts use for words/segments.

The setting (segmentation step, detection biases, overlap excluded from embeddings, clustering
threshold, min_cluster_size, the cut of local tracks whose halves belong to different clusters)
was calibrated on the dev set with three files held out; see
`python -m scripts.bench_dev_diarization --sweep` and docs/benchmarks.md (issue 11).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.torch_thread import TorchThread
from engines.types import (
    SAMPLE_RATE,
    Diarization,
    DiarizationRequest,
    EngineUnavailable,
    ProgressCallback,
    SpeakerTurn,
)

# Same guards as the pyannote engine: too short to hold a turn, or digital silence.
MIN_SAMPLES = SAMPLE_RATE // 10
SILENCE_PEAK = 1e-4


@dataclass(frozen=True)
class NeuralDiarizerConfig:
    segmentation: Path  # segmentation-3.0 pytorch_model.bin
    embedding: Path  # CAM++ campplus_cn_en_common.pt
    device: str = "cpu"  # cpu, cuda, cuda:N, auto
    # Calibrated on the dev set (scripts/bench_dev_diarization.py --sweep; docs/benchmarks.md).
    # Segmentation window step as a fraction of its 10 s window. pyannote's default 0.1 scored
    # 2 points better on the calibration files but costs twice the CPU (RTF ~0.15 on one core
    # against ~0.08); 0.2 keeps diarization under RTF 0.10.
    segmentation_step: float = 0.2
    # AgglomerativeClustering's linkage and threshold. pyannote's centroid linkage (on unit vectors:
    # the threshold a euclidean distance, 0.8 = cosine distance 0.32 between two of them) scored best
    # at 0.8 (calibration files 18.2%, held-out 34.3%; 0.75 19.5%, 0.85 21.6%). Average linkage
    # (the threshold a mean cosine distance between the two clusters' members) is flat at 17.1-17.6%
    # from 0.34 to 0.38 with the held-out files unchanged (34.3% from 0.33 to 0.39; 0.32 splits
    # one): pyaa_diarization_example2 gets a fifth speaker of six. 0.36 is the middle of both
    # stretches (docs/benchmarks.md, issue 11 round 11).
    linkage: str = "average"
    threshold: float = 0.36
    # pyannote's heuristic already lowers it on short files; larger values (3-12) merged real
    # speakers of the short meetings (calibration DER 28% against 22%).
    min_cluster_size: int = 1
    # pyannote's same-speaker gap filling. 0.5 s scored 0.7 points better on the calibration files
    # (19.5% against 20.2%), all of it on references that count pauses as speech (pyAudioAnalysis'),
    # but worse on the held-out files (36.7% against 36.1%) and on sample.wav (7.2% against 2.3%).
    min_duration_off: float = 0.0
    # Turns shorter than this are dropped (pyannote's Binarize min_duration_on; its 3.x pipelines
    # keep 0). The reconstruction leaves 1-6 frame turns (17-100 ms) where a cluster wins a frame or
    # two at a window's edge: 23 of them on the 13 files, and on a three-voice conversation of read
    # speech one was a fourth "speaker" of 20 ms. 0.1 s is shorter than a word; DER is flat from 0
    # to 0.3 s (calibration 17.2-17.4%, held-out 34.3-34.6%), worse at 0.5 (a speaker lost).
    # A speaker count asked for is kept (a speaker's longest turn stays if it is all it has).
    min_duration_on: float = 0.1
    # Detection biases on the powerset segmentation's logits (SegmentationModel.binarize), not in
    # pyannote. speech_bias (every speaking class against silence): 1-3 found more of the AMI
    # far-field speech but as much false alarm and confusion elsewhere (calibration DER 20.5% at 0,
    # 21.8% at 1, 24.5% at 2, 29.7% at 3; held-out 40.2 / 46.0 / 46.4 / 46.7%), so 0.
    speech_bias: float = 0.0
    # overlap_bias (two-speaker classes against one speaker): 0.5 took the calibration files from
    # 20.5% to 20.2% and the held-out ones from 40.2% to 36.1% (missed overlap found); 1.0 scored
    # 23.3% / 35.8%, -0.5 22.4% / 42.2%. (All at threshold 0.8, overlap excluded from embeddings.)
    overlap_bias: float = 0.5
    # PipelineParams.count_bias (None: pyannote's np.rint of the frame's mean count over the
    # windows). 0.2 keeps a speaker that 2 of the 5 windows over a frame found: calibration files
    # 18.8% -> 18.2%, held-out 35.0% -> 34.3%, sample.wav 2.3% -> 2.9%, counts unchanged; flat from
    # 0.1 to 0.25 (18.3-18.2%), worse below 0 and at 0.3 (docs/benchmarks.md, issue 11 round 10).
    count_bias: float | None = 0.2
    # pyannote's embedding_exclude_overlap (its speaker-diarization-3.1 setting): each local
    # speaker's CAM++ embedding from its frames without a second speaker. Confusion 10.2% -> 8.0%
    # of the 12 files' speech; calibration DER 22.2% -> 20.5%, held-out 43.8% -> 40.2%.
    embedding_exclude_overlap: bool = True
    # AhcParams.outlier_distance / outlier_min_tracks / outlier_conflict (not pyannote's; distance
    # inf: its rule): a local speaker too short to be clustered becomes a speaker of its own when it
    # is this far (cosine distance) from every cluster, in at least that many windows, and (with
    # outlier_conflict) its nearest cluster is the one another local speaker of its own window
    # went to: two voices of one window would otherwise be made one speaker. The distance rule
    # alone was a knife-edge (round 6: 0.7 / 2 gave trn08 its fourth speaker, 0.65 split a
    # held-out file). With the conflict it finds the fourth speaker of en2002a and trn08 at
    # 0.65-0.70 / 1 window (8/12 exact; 7/12 from 0.6 to 0.75), and no distance from 0.6 to 0.85
    # splits a held-out file or a monologue (docs/benchmarks.md, issue 11 round 12). 0.7: the
    # middle of the 7-8/12 stretch, the value rounds 5-6 measured the distance rule at.
    outlier_distance: float = 0.7
    outlier_min_tracks: int = 1
    outlier_conflict: bool = True
    # Cutting a window's local speaker in two where segmentation-3.0 kept two consecutive talkers
    # on it (PipelineParams.split_*, not pyannote's; split_distance inf: off). After the clustering,
    # each half of a track with split_min_s of embedded speech per half (CAM++, pooled from the
    # one forward) goes to its nearest centroid, and the track is cut where they differ. Calibration
    # DER 20.2% -> 19.0%, held-out 36.1% -> 35.0% (constructed_5spk_read 7% -> 3%), the count
    # unchanged; flat for split_distance 0-0.45 and split_min_s 1.0-2.0 (0.75 s: 19.3% / 37.4%).
    # Cutting before the clustering (the halves clustered as tracks of their own) found a fifth
    # speaker in pyaa_diarization_example2 (33% -> 24%) but made the held-out files worse (38.4%).
    split_distance: float = 0.0
    split_min_s: float = 1.5
    split_after_clustering: bool = True
    # Then the clustering runs again with each cut track's halves as tracks of their own
    # (PipelineParams.split_recluster): 12 files 22.9% -> 22.7% (ami_en2002a_184s 24% -> 23%),
    # held-out unchanged; 0.0-0.2 points better at split_min_s 1.0-2.0 and thresholds 0.75-0.85.
    split_recluster: bool = True
    embedding_batch_size: int = 32  # (chunk, speaker) pairs handed to CAM++ per call (it re-batches by length)
    # Windows per segmentation forward. SincNet's first layer holds 80 x 16,000 floats per 10 s window
    # (5 MB, twice with its abs): 32 windows took +344 MB of peak RSS, 4 windows +75 MB, at the same
    # CPU time (2.0-2.7 s for 2 minutes of audio, 1 thread). docs/benchmarks.md, issue 11.
    segmentation_batch_size: int = 4
    # CAM++ frames per forward (CamPlusEmbedding.max_batch_frames): 4,000 took +400 MB of peak RSS,
    # 1,000 +80-150 MB, at the same CPU time (11-13 s for 2 minutes of audio).
    embedding_batch_frames: int = 1000
    # torch threads for the run, on the diarizer's own worker thread (with OpenMP builds of torch the
    # setting stays with that thread). Measured on the 2 shared cores, sample.wav at step 0.2: one
    # thread 2.6 CPU s / 11 s wall; two threads 46 CPU s / 204 s wall: OpenMP's spinning workers
    # collapse when other processes hold the cores. 0: the calling thread, torch's own setting.
    torch_threads: int = 1


def _build_pipeline(config: NeuralDiarizerConfig):
    import torch

    from engines.diarization.ahc import AhcParams
    from engines.diarization.campplus_embedding import CamPlusEmbedding, load_campplus
    from engines.diarization.neural_pipeline import NeuralPipeline, PipelineParams
    from engines.diarization.segmentation_model import load_segmentation

    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device
    )
    params = PipelineParams(
        step=config.segmentation_step,
        segmentation_batch_size=config.segmentation_batch_size,
        embedding_batch_size=config.embedding_batch_size,
        min_duration_off=config.min_duration_off,
        min_duration_on=config.min_duration_on,
        speech_bias=config.speech_bias,
        overlap_bias=config.overlap_bias,
        count_bias=config.count_bias,
        embedding_exclude_overlap=config.embedding_exclude_overlap,
        split_distance=config.split_distance,
        split_min_s=config.split_min_s,
        split_after_clustering=config.split_after_clustering,
        split_recluster=config.split_recluster,
        clustering=AhcParams(
            threshold=config.threshold,
            method=config.linkage,
            min_cluster_size=config.min_cluster_size,
            outlier_distance=config.outlier_distance,
            outlier_min_tracks=config.outlier_min_tracks,
            outlier_conflict=config.outlier_conflict,
        ),
    )
    return NeuralPipeline(
        load_segmentation(config.segmentation, device),
        CamPlusEmbedding(load_campplus(config.embedding, device), max_batch_frames=config.embedding_batch_frames),
        params,
    )


def turns_from(tracks_in: list[tuple[float, float, Any]], duration: float) -> list[tuple[float, float, Any]]:
    # windows are zero-padded past the end of the audio, so turns may spill over it
    tracks = []
    for start, end, label in tracks_in:
        start, end = round(max(start, 0.0), 3), round(min(end, duration), 3)
        if end > start:
            tracks.append((start, end, label))
    tracks.sort(key=lambda t: (t[0], t[1]))
    return tracks


def name_speakers(overlapping, exclusive) -> Diarization:
    # Names in order of first appearance in the exclusive view, which words and segments are
    # labelled from (so a transcript's first speaker is SPEAKER_00); the overlapping view reuses them.
    names: dict[Any, str] = {}
    for _, _, label in sorted(exclusive, key=lambda t: (t[0], t[1])):
        names.setdefault(label, f"SPEAKER_{len(names):02d}")
    for _, _, label in overlapping:
        names.setdefault(label, f"SPEAKER_{len(names):02d}")
    return Diarization(
        turns=[SpeakerTurn(s, e, names[k]) for s, e, k in overlapping],
        exclusive=[SpeakerTurn(s, e, names[k]) for s, e, k in exclusive],
    )


class NeuralDiarizer:
    name = "neural"

    def __init__(self, config: NeuralDiarizerConfig) -> None:
        self._config = config
        self._pipeline: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one run at a time: two CPU-bound runs only slow each other
        self._torch = TorchThread(config.torch_threads, "neural-diarizer")

    def pipeline(self) -> Any:
        if self._pipeline is None:
            with self._load_lock:
                if self._pipeline is None:
                    self._pipeline = self._load()
        return self._pipeline

    def _load(self) -> Any:
        for path in (self._config.segmentation, self._config.embedding):
            if not Path(path).is_file():
                raise EngineUnavailable(f"neural diarizer: {path} not found")
        try:
            return _build_pipeline(self._config)
        except ImportError as exc:
            raise EngineUnavailable(f"neural diarizer needs torch, torchaudio and asteroid-filterbanks: {exc}") from exc
        except Exception as exc:  # truncated/corrupt checkpoints surface as many exception types
            raise EngineUnavailable(f"neural diarizer: cannot load its models: {exc}") from exc

    def diarize(self, request: DiarizationRequest, progress: ProgressCallback | None = None) -> list[SpeakerTurn]:
        return self.diarize_full(request, progress).turns

    def diarize_full(self, request: DiarizationRequest, progress: ProgressCallback | None = None) -> Diarization:
        from engines.diarization.pyannote_engine import _Progress

        request.check_counts()
        audio = np.ascontiguousarray(request.audio, dtype=np.float32).reshape(-1)
        # No whole-length temporaries: an hour of float32 is 230 MB, and np.abs(audio) or
        # np.isfinite(audio) would add 230 / 58 MB to the job's peak. NaN and inf survive a sum.
        if audio.size and not np.isfinite(np.add.reduce(audio, dtype=np.float64)):
            audio = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
        duration = audio.size / SAMPLE_RATE
        tracker = _Progress(progress, duration)
        if audio.size < MIN_SAMPLES or max(float(audio.max()), -float(audio.min())) < SILENCE_PEAK:
            tracker.report(1.0)
            return Diarization([], [])
        pipeline = self.pipeline()
        import torch

        def run():
            return pipeline(
                audio,
                num_speakers=request.num_speakers,
                min_speakers=request.min_speakers,
                max_speakers=request.max_speakers,
                hook=tracker.hook,
            )

        with self._run_lock:
            output = self._torch.run(run)
        turns = turns_from(output.turns, duration)
        exclusive = turns_from(output.exclusive, duration)
        wanted = request.num_speakers or request.min_speakers
        if wanted and len({k for *_, k in turns}) < wanted:
            from engines.diarization.count import split_to_count

            embedding = pipeline.embedding

            def embed(start: float, end: float) -> np.ndarray:
                piece = torch.from_numpy(audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)].copy())
                return embedding(piece[None, None])[0]

            turns, exclusive = self._torch.run(split_to_count, turns, exclusive, wanted, embed)
        tracker.report(1.0)
        return name_speakers(turns, exclusive)
