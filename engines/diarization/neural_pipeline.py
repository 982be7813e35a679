"""pyannote.audio 4.0.7's `SpeakerDiarization.apply`, for inference, without importing pyannote.audio.

The steps and their arithmetic are pyannote's (MIT, (c) CNRS / pyannoteAI), so the turns are the
same as its pipeline's with the same models and settings (tests/engines/test_diarization_neural.py
compares both on real speech):

  1. segmentation: 10 s windows every `step` x 10 s, each (frames, 3 local speakers) 0/1 activity
     (the argmax powerset class; here optionally after the detection biases of
     SegmentationModel.binarize, which pyannote does not have: 0 gives pyannote's result);
  2. speaker count per output frame: the windows' summed activity, averaged where they overlap,
     rounded (PipelineParams.count_bias, not pyannote's, moves the rounding; None gives its rint);
  3. one CAM++ embedding per (window, local speaker), from the frames that speaker is active in
     (without the frames of overlapped speech with embedding_exclude_overlap, as pyannote does);
  4. agglomerative clustering of those embeddings into global speakers (ahc.py); then, not in
     pyannote (PipelineParams.split_*), a local speaker whose two halves' CAM++ embeddings are
     nearest to different clusters is cut in two, each half keeping its own cluster:
     segmentation-3.0 can keep two consecutive talkers on one local track of a 10 s window
     (split_distance inf gives pyannote's result);
  5. reconstruction: per frame, the `count` global speakers with the most activity; the exclusive
     view keeps one speaker per instant (count capped at 1);
  6. runs of active frames become turns.

Why a copy: any pyannote.audio import loads `lightning` and its dependencies, ~390 MB resident in
the worker (segmentation_model.py). Memory over long audio, one hour at step 0.2 (1,800 windows):
the audio is read in place (windows are views), the segmentation is 13 MB, the embeddings 4 MB,
the per-window cluster activity 8.5 MB per speaker, the clustering's distance matrix ~130 MB;
the track cut adds the halves' embeddings (8 MB) and a segmentation with twice the local speakers
(26 MB).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engines.diarization.ahc import AhcParams, agglomerative_clustering
from engines.diarization.segmentation_model import Frames, SegmentationModel

Hook = Callable[..., Any]


@dataclass(frozen=True)
class PipelineParams:
    step: float = 0.2  # window step as a fraction of the window
    segmentation_batch_size: int = 32
    embedding_batch_size: int = 32
    min_duration_off: float = 0.0
    # pyannote's Binarize min_duration_on (its 2.x pipelines had it; 3.x and 4 keep 0): turns
    # shorter than this, after min_duration_off's gap filling, are dropped.
    min_duration_on: float = 0.0
    clustering: AhcParams = AhcParams()
    # Not pyannote's (0.0 is its plain argmax): added to the segmentation's non-silent powerset
    # logits before the argmax (SegmentationModel.binarize), a detection threshold.
    speech_bias: float = 0.0
    overlap_bias: float = 0.0  # added to the classes of two speakers on top of speech_bias
    # Not pyannote's (None: its np.rint, which rounds exact halves to even): the per-frame speaker
    # count is floor(mean + 0.5 + count_bias), the mean being the windows' summed activity averaged
    # where they overlap. 0 rounds halves up; 0.1-0.3 keep a speaker that 2 of the 5 windows over a
    # frame found (step 0.2).
    count_bias: float | None = None
    # pyannote's embedding_exclude_overlap: embed each local speaker from its frames without a
    # second speaker, unless that leaves too little speech for the encoder.
    embedding_exclude_overlap: bool = False
    # Not pyannote's (inf: off): a local speaker whose two halves of embedded speech (in time) have
    # CAM++ embeddings further apart than this cosine distance is cut in two there (split_tracks):
    # segmentation-3.0 can keep two consecutive talkers on one local track of a window.
    split_distance: float = math.inf
    split_min_s: float = 1.0  # speech each half needs
    # When the cut is decided: before the clustering (the halves are clustered as local speakers of
    # their own), or after it (split_after_clustering: the clustering sees the whole tracks, as
    # pyannote's, and a track is cut only where its halves' nearest centroids differ).
    split_after_clustering: bool = False
    # With split_after_clustering: once tracks are cut, cluster again with each cut track's
    # halves as two local speakers of their own (their embeddings, no longer the mixture's).
    split_recluster: bool = False


@dataclass
class DiarizationResult:
    turns: list[tuple[float, float, int]]  # (start, end, speaker index); overlapping where people overlap
    exclusive: list[tuple[float, float, int]]  # one speaker per instant
    centroids: np.ndarray


class NeuralPipeline:
    def __init__(self, segmentation: SegmentationModel, embedding: Any, params: PipelineParams) -> None:
        self.segmentation = segmentation
        self.embedding = embedding  # CamPlusEmbedding: (B, 1, T) waveforms + (B, F) masks -> (B, D)
        self.params = params
        self.sample_rate = embedding.sample_rate

    @property
    def device(self) -> torch.device:
        return next(self.segmentation.parameters()).device

    def __call__(
        self,
        audio: np.ndarray,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        hook: Hook | None = None,
    ) -> DiarizationResult:
        hook = hook or (lambda *args, **kwargs: None)
        waveform = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32).reshape(-1))
        min_speakers = num_speakers or min_speakers or 1
        max_speakers = num_speakers or max_speakers or math.inf
        if min_speakers > max_speakers:
            raise ValueError(f"min_speakers ({min_speakers}) must not exceed max_speakers ({max_speakers})")
        if min_speakers == max_speakers:
            num_speakers = min_speakers

        segmentations = self.segment(waveform, hook)  # (chunks, frames, local speakers), 0/1
        hook("segmentation", segmentations)
        count = self.speaker_count(segmentations)
        hook("speaker_counting", count)
        if np.nanmax(count) == 0:
            return DiarizationResult([], [], np.zeros((0, self.embedding.dimension)))

        halves = None
        if math.isfinite(self.params.split_distance):
            embeddings, halves = self.embed(waveform, segmentations, hook, halves=True)
            if not self.params.split_after_clustering:
                segmentations, embeddings = self.split_tracks(segmentations, embeddings, halves)
                halves = None
        else:
            embeddings = self.embed(waveform, segmentations, hook)
        hook("embeddings", embeddings)
        return self.cluster_and_reconstruct(
            segmentations, count, embeddings, num_speakers, min_speakers, max_speakers, hook, halves
        )

    def speaker_count(self, segmentations: np.ndarray) -> np.ndarray:
        frames = self.segmentation.frames
        mean = self.aggregate(np.sum(segmentations, axis=-1, keepdims=True), frames)
        if self.params.count_bias is None:
            return np.rint(mean).astype(np.uint8)
        return np.floor(mean + 0.5 + self.params.count_bias).clip(0).astype(np.uint8)

    def cluster_and_reconstruct(
        self,
        segmentations: np.ndarray,
        count: np.ndarray,
        embeddings: np.ndarray,
        num_speakers: int | None,
        min_speakers: int,
        max_speakers: float,
        hook: Hook | None = None,
        halves: np.ndarray | None = None,
    ) -> DiarizationResult:
        """Steps 4-6 (pyannote's apply from its clustering on), on the counts already checked;
        with halves (split_after_clustering), tracks whose halves belong to different clusters
        are cut before the reconstruction."""
        hook = hook or (lambda *args, **kwargs: None)
        frames = self.segmentation.frames
        hard_clusters, centroids = agglomerative_clustering(
            embeddings,
            segmentations,
            self.params.clustering,
            num_clusters=num_speakers,
            min_clusters=min_speakers,
            max_clusters=max_speakers,
        )
        if halves is not None:
            cut_seg, hard_clusters = self.cut_between_clusters(segmentations, hard_clusters, centroids, halves)
            if self.params.split_recluster:
                # the cut tracks' halves are purer than the mixtures the first clustering saw
                cut = np.sum(cut_seg[:, :, segmentations.shape[2] :], axis=1) > 0
                hard_clusters, centroids = agglomerative_clustering(
                    _half_embeddings(embeddings, halves, cut),
                    cut_seg,
                    self.params.clustering,
                    num_clusters=num_speakers,
                    min_clusters=min_speakers,
                    max_clusters=max_speakers,
                )
            segmentations = cut_seg
        hard_clusters = hard_clusters.astype(np.int8)
        hard_clusters[np.sum(segmentations, axis=1) == 0] = -2  # inactive local speakers
        count = np.minimum(count, max_speakers).astype(np.int8)
        binary = self.reconstruct(segmentations, hard_clusters, count, frames)
        hook("discrete_diarization", binary)
        # a count asked for (num_speakers, min_speakers) is kept even where a speaker has only short turns
        asked = num_speakers is not None or min_speakers > 1
        turns = self.to_turns(binary, frames, asked)
        exclusive_binary = self.reconstruct(segmentations, hard_clusters, np.minimum(count, 1), frames)
        exclusive = self.to_turns(exclusive_binary, frames, asked)
        return DiarizationResult(turns, exclusive, centroids)

    # -- 1. segmentation -------------------------------------------------------------------------

    @property
    def window_samples(self) -> int:
        return round(self.segmentation.duration * self.sample_rate)

    @property
    def step_samples(self) -> int:
        return round(self.params.step * self.segmentation.duration * self.sample_rate)

    def segment(self, waveform: torch.Tensor, hook: Hook) -> np.ndarray:
        window, step = self.window_samples, self.step_samples
        num_samples = waveform.shape[0]
        chunks = waveform.unfold(0, window, step) if num_samples >= window else waveform[:0].reshape(0, window)
        num_chunks = chunks.shape[0]
        has_last = num_samples < window or (num_samples - window) % step > 0
        total = num_chunks + has_last
        batch = self.params.segmentation_batch_size
        outputs = []
        hook("segmentation", None, total=total, completed=0)
        with torch.inference_mode():
            for c in range(0, num_chunks, batch):
                outputs.append(self._infer(chunks[c : c + batch]))
                hook("segmentation", None, total=total, completed=min(c + batch, total))
            if has_last:
                last = waveform[num_chunks * step :]
                outputs.append(self._infer(torch.nn.functional.pad(last, (0, window - last.shape[0]))[None]))
                hook("segmentation", None, total=total, completed=total)
        return np.vstack(outputs)

    def _infer(self, chunks: torch.Tensor) -> np.ndarray:
        params = self.params
        binary = self.segmentation(chunks[:, None].to(self.device), params.speech_bias, params.overlap_bias)
        return binary.cpu().numpy()

    # -- 2./5. aggregation over overlapping windows ----------------------------------------------

    def aggregate(self, scores: np.ndarray, frames: Frames, skip_average: bool = False) -> np.ndarray:
        """pyannote's Inference.aggregate (no Hamming window, no warm-up, missing -> 0): per output
        frame, the sum (skip_average) or the mean of the windows' scores that cover it."""
        num_chunks, frames_per_chunk, num_classes = scores.shape
        chunk_step = self.params.step * self.segmentation.duration
        total_frames = (
            _closest_frame(self.segmentation.duration + (num_chunks - 1) * chunk_step + 0.5 * frames.duration, frames)
            + 1
        )
        output = np.zeros((total_frames, num_classes), dtype=np.float32)
        overlap = np.zeros((total_frames, num_classes), dtype=np.float32)
        seen = np.zeros((total_frames, num_classes), dtype=np.float32)
        for c in range(num_chunks):
            score = scores[c]
            mask = 1 - np.isnan(score)
            score = np.nan_to_num(score, nan=0.0)
            start = _closest_frame(c * chunk_step + 0.5 * frames.duration, frames)
            output[start : start + frames_per_chunk] += score * mask
            overlap[start : start + frames_per_chunk] += mask
            seen[start : start + frames_per_chunk] = np.maximum(seen[start : start + frames_per_chunk], mask)
        average = output if skip_average else output / np.maximum(overlap, 1e-12)
        average[seen == 0.0] = 0.0
        return average

    # -- 3. embeddings ---------------------------------------------------------------------------

    def embedding_masks(self, segmentations: np.ndarray) -> np.ndarray:
        """(chunks, frames, speakers) 0/1: the frames each local speaker is embedded from."""
        masks = np.nan_to_num(segmentations, nan=0.0).astype(np.float32)
        if not self.params.embedding_exclude_overlap:
            return masks
        # pyannote's: frames with two speakers zeroed, unless fewer than the encoder's minimum remain
        min_num_frames = math.ceil(masks.shape[1] * self.embedding.min_num_samples / self.window_samples)
        clean = masks * (np.sum(masks, axis=2, keepdims=True) < 2)
        return np.where(np.sum(clean, axis=1, keepdims=True) > min_num_frames, clean, masks)

    def embed(self, waveform: torch.Tensor, segmentations: np.ndarray, hook: Hook, halves: bool = False) -> Any:
        """(chunks, speakers, D) embeddings; with halves, also (chunks, speakers, 2, D) of the two
        halves of each one's speech (CamPlusEmbedding's halves)."""
        num_chunks, _, num_speakers = segmentations.shape
        duration = self.segmentation.duration
        chunk_step = self.params.step * duration
        batch_size = self.params.embedding_batch_size
        total = math.ceil(num_chunks * num_speakers / batch_size)
        out = np.empty((num_chunks * num_speakers, self.embedding.dimension), dtype=np.float32)
        half_out = np.empty((num_chunks * num_speakers if halves else 0, 2, self.embedding.dimension), np.float32)
        hook("embeddings", None, total=total, completed=0)
        pending: list[tuple[torch.Tensor, np.ndarray]] = []
        done = 0

        def flush() -> None:
            nonlocal done
            waveforms = torch.stack([w for w, _ in pending])[:, None]
            masks = torch.from_numpy(np.stack([m for _, m in pending]))

            def partial(items: int) -> None:  # within the batch, after each CAM++ forward
                hook("embeddings", None, total=total, completed=(done + items) / batch_size)

            if halves:
                whole, half = self.embedding(waveforms, masks=masks, progress=partial, halves=True)
                out[done : done + len(pending)], half_out[done : done + len(pending)] = whole, half
            else:
                out[done : done + len(pending)] = self.embedding(waveforms, masks=masks, progress=partial)
            done += len(pending)
            pending.clear()
            hook("embeddings", None, total=total, completed=math.ceil(done / batch_size))

        all_masks = self.embedding_masks(segmentations)
        for c in range(num_chunks):
            # pyannote's Audio.crop(mode="pad") of Segment(c * step, c * step + duration)
            start = round(c * chunk_step * self.sample_rate)
            end = round((c * chunk_step + duration) * self.sample_rate)
            piece = waveform[start : min(end, waveform.shape[0])]
            if piece.shape[0] < end - start:
                piece = torch.nn.functional.pad(piece, (0, end - start - piece.shape[0]))
            for k in range(num_speakers):
                pending.append((piece, np.ascontiguousarray(all_masks[c, :, k])))
                if len(pending) == batch_size:
                    flush()
        if pending:
            flush()
        embeddings = out.reshape(num_chunks, num_speakers, -1)
        return (embeddings, half_out.reshape(num_chunks, num_speakers, 2, -1)) if halves else embeddings

    def split_tracks(
        self, segmentations: np.ndarray, embeddings: np.ndarray, halves: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Local speakers whose halves disagree (PipelineParams.split_distance) cut in two.

        Returns (chunks, frames, 2 x speakers) segmentations and (chunks, 2 x speakers, D)
        embeddings: local speaker S + k holds the second half of local speaker k where k was cut
        (from the frame where half its embedded speech is behind it), embedded by that half, and
        k keeps the first half with the first half's embedding; elsewhere S + k is silent (NaN
        embedding). The per-frame speaker count does not change."""
        cut = self._cuttable(segmentations, halves)
        return self._cut(segmentations, cut), _half_embeddings(embeddings, halves, cut)

    def cut_between_clusters(
        self, segmentations: np.ndarray, hard_clusters: np.ndarray, centroids: np.ndarray, halves: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """split_after_clustering: each half of a cuttable track goes to its nearest centroid; a
        track whose halves go to different clusters is cut (as split_tracks), each part keeping
        its half's cluster. Returns (chunks, frames, 2 x speakers) segmentations and the
        (chunks, 2 x speakers) hard clusters."""
        from scipy.spatial.distance import cdist

        num_chunks, _, num_speakers = segmentations.shape
        nearest = np.zeros(halves.shape[:3], dtype=np.int64)
        finite = np.all(np.isfinite(halves), axis=-1)
        distance = cdist(halves[finite], centroids, metric=self.params.clustering.metric)
        nearest[finite] = np.argmin(distance, axis=1)
        cut = self._cuttable(segmentations, halves) & (nearest[:, :, 0] != nearest[:, :, 1])
        out_hard = np.concatenate([hard_clusters, np.full_like(hard_clusters, -2)], axis=1).astype(np.int64)
        out_hard[:, :num_speakers][cut] = nearest[:, :, 0][cut]
        out_hard[:, num_speakers:][cut] = nearest[:, :, 1][cut]
        return self._cut(segmentations, cut), out_hard

    def _cuttable(self, segmentations: np.ndarray, halves: np.ndarray) -> np.ndarray:
        """(chunks, speakers): tracks with split_min_s of embedded speech in each half, whose
        halves are further apart than split_distance."""
        first, second = halves[:, :, 0], halves[:, :, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            cosine = np.sum(first * second, axis=-1) / (
                np.linalg.norm(first, axis=-1) * np.linalg.norm(second, axis=-1)
            )
        min_frames = self.params.split_min_s * segmentations.shape[1] / self.segmentation.duration
        cut = np.nan_to_num(1.0 - cosine, nan=0.0) > self.params.split_distance
        return cut & (np.sum(self.embedding_masks(segmentations), axis=1) >= 2 * min_frames)

    def _cut(self, segmentations: np.ndarray, cut: np.ndarray) -> np.ndarray:
        """Local speaker k of each `cut` (chunk, speaker) keeps its frames up to where half its
        embedded speech is behind it; S + k takes the rest."""
        num_speakers = segmentations.shape[2]
        out = np.concatenate([segmentations, np.zeros_like(segmentations)], axis=2)
        masks = self.embedding_masks(segmentations)
        for c, k in zip(*np.nonzero(cut), strict=True):
            middle = int(np.searchsorted(np.cumsum(masks[c, :, k]), np.sum(masks[c, :, k]) / 2, side="right"))
            out[c, middle:, num_speakers + k] = segmentations[c, middle:, k]
            out[c, middle:, k] = 0
        return out

    # -- 5. reconstruction -----------------------------------------------------------------------

    def reconstruct(
        self, segmentations: np.ndarray, hard_clusters: np.ndarray, count: np.ndarray, frames: Frames
    ) -> np.ndarray:
        num_chunks, num_frames, _ = segmentations.shape
        num_clusters = int(np.max(hard_clusters)) + 1
        # 0/1/NaN only, so float32 holds them exactly (pyannote uses float64: twice the memory)
        clustered = np.full((num_chunks, num_frames, num_clusters), np.nan, dtype=np.float32)
        for c in range(num_chunks):
            cluster = hard_clusters[c]
            for k in np.unique(cluster):
                if k == -2:
                    continue
                clustered[c, :, k] = np.max(segmentations[c][:, cluster == k], axis=1)
        activations = self.aggregate(clustered, frames, skip_average=True)
        del clustered
        max_per_frame = int(np.max(count))
        if activations.shape[1] < max_per_frame:
            activations = np.pad(activations, ((0, 0), (0, max_per_frame - activations.shape[1])))
        length = min(activations.shape[0], count.shape[0])
        activations, count = activations[:length], count[:length]
        # the `count` most active speakers of each frame (pyannote loops over frames; same result)
        order = np.argsort(-activations, axis=-1)
        chosen = np.arange(activations.shape[1])[None] < count.reshape(-1, 1)
        binary = np.zeros_like(activations)
        np.put_along_axis(binary, order, chosen.astype(binary.dtype), axis=-1)
        return binary

    # -- 6. turns --------------------------------------------------------------------------------

    def to_turns(
        self, binary: np.ndarray, frames: Frames, keep_every_speaker: bool = False
    ) -> list[tuple[float, float, int]]:
        """pyannote's Binarize(onset=offset=0.5) on 0/1 frames: a run of active frames from frame
        s to the first inactive frame e spans [middle(s), middle(e)] (to the last frame's middle
        at the end); then same-speaker turns closer than min_duration_off are merged, and turns
        shorter than min_duration_on dropped, except, with keep_every_speaker (a speaker count
        was asked for), a speaker's longest turn when it would otherwise have none."""
        n = binary.shape[0]
        # the aggregated frames start with the first window (pyannote's aggregate), not at frames.start
        middles = np.arange(n) * frames.step + 0.5 * frames.duration
        turns: list[tuple[float, float, int]] = []
        for k in range(binary.shape[1]):
            active = binary[:, k] > 0.5
            edges = np.diff(active.astype(np.int8))
            starts = list(np.nonzero(edges == 1)[0] + 1)
            ends = list(np.nonzero(edges == -1)[0] + 1)
            if n and active[0]:
                starts.insert(0, 0)
            if n and active[-1]:
                ends.append(n - 1)
            spans = [(float(middles[s]), float(middles[e])) for s, e in zip(starts, ends, strict=True)]
            spans = _merge_gaps(spans, self.params.min_duration_off)
            kept = [(s, e) for s, e in spans if e - s >= self.params.min_duration_on]
            if not kept and spans and keep_every_speaker:
                kept = [max(spans, key=lambda span: span[1] - span[0])]
            turns += [(s, e, k) for s, e in kept]
        turns.sort(key=lambda t: (t[0], t[1], t[2]))
        return turns


def _half_embeddings(embeddings: np.ndarray, halves: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """(chunks, 2 x speakers, D): each cut track's halves' embeddings on k and S + k (NaN on S + k
    of the tracks left whole), for the segmentation NeuralPipeline._cut returns."""
    num_speakers = embeddings.shape[1]
    out = np.concatenate([embeddings, np.full_like(embeddings, np.nan)], axis=1)
    out[:, :num_speakers][cut] = halves[:, :, 0][cut]
    out[:, num_speakers:][cut] = halves[:, :, 1][cut]
    return out


def _closest_frame(t: float, frames: Frames) -> int:
    # pyannote.core's SlidingWindow.closest_frame, for the frames aligned on the first window (start 0)
    return int(np.rint((t - 0.5 * frames.duration) / frames.step))


def _merge_gaps(spans: list[tuple[float, float]], collar: float) -> list[tuple[float, float]]:
    """pyannote's Timeline.support(collar): spans that touch, overlap, or leave a gap < collar merge."""
    if collar <= 0:
        return [s for s in spans if s[1] > s[0]]
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and s - merged[-1][1] < collar:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged if e > s]
