"""Puts diarization and transcription together: who said each segment, and each word.

Rules (engine-agnostic, shared by every STT and diarization engine):
  * a word gets the speaker whose turns overlap it most; a word that overlaps no turn takes the
    nearest turn's speaker (diarization VAD and Whisper's word times rarely agree to the ms);
  * with words, a segment is split where the speaker changes, so each segment has one speaker;
  * without words, a segment gets the speaker that overlaps it most;
  * with an overlap-aware diarizer (`Diarization`), speakers come from its exclusive view (one
    speaker per instant), and a word or segment with more than half of its time inside overlapped
    speech (two or more of the diarizer's own turns at once) is marked `overlap`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

from engines.types import Diarization, Segment, SpeakerTurn, Transcript, Word


class _Turns:
    def __init__(self, turns: list[SpeakerTurn]) -> None:
        self.turns = sorted(turns, key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]
        # longest turn bounds how far back an overlapping turn can start: keeps lookups O(log n + k)
        self.longest = max((t.end - t.start for t in self.turns), default=0.0)

    def speaker_for(self, start: float, end: float) -> str | None:
        if not self.turns:
            return None
        overlap: dict[str, float] = defaultdict(float)
        lo = bisect.bisect_left(self.starts, start - self.longest)
        hi = bisect.bisect_right(self.starts, end)
        for turn in self.turns[lo:hi]:
            shared = min(end, turn.end) - max(start, turn.start)
            if shared > 0:
                overlap[turn.speaker] += shared
        if overlap:
            return max(overlap.items(), key=lambda item: item[1])[0]
        return self._nearest(start, end)

    def _nearest(self, start: float, end: float) -> str:
        middle = (start + end) / 2
        index = bisect.bisect_left(self.starts, middle)
        candidates = self.turns[max(0, index - 2) : index + 2]
        return min(candidates, key=lambda t: max(t.start - middle, middle - t.end, 0.0)).speaker


def overlapped_regions(turns: list[SpeakerTurn]) -> list[tuple[float, float]]:
    """Sorted, disjoint spans where two or more turns are active (sweep over turn boundaries)."""
    events = sorted([(t.start, 1) for t in turns] + [(t.end, -1) for t in turns])
    regions: list[tuple[float, float]] = []
    active, opened = 0, 0.0
    for time, delta in events:
        if active >= 2 and active + delta < 2 and time > opened:
            regions.append((opened, time))
        elif active < 2 and active + delta >= 2:
            opened = time
        active += delta
    return regions


class _Overlap:
    def __init__(self, regions: list[tuple[float, float]]) -> None:
        self.regions = regions
        self.starts = [a for a, _ in regions]

    def share(self, start: float, end: float) -> float:
        """Fraction of [start, end] inside overlapped speech (a zero-length span: its instant)."""
        if not self.regions:
            return 0.0
        if end <= start:
            i = bisect.bisect_right(self.starts, start) - 1
            return float(i >= 0 and self.regions[i][1] >= start)
        covered = 0.0
        for a, b in self.regions[max(0, bisect.bisect_right(self.starts, start) - 1) :]:
            if a >= end:
                break
            covered += max(0.0, min(b, end) - max(a, start))
        return covered / (end - start)

    def mostly(self, start: float, end: float) -> bool:
        return self.share(start, end) > 0.5


def assign_speakers(transcript: Transcript, turns: list[SpeakerTurn] | Diarization) -> Transcript:
    """Return the transcript with speakers on segments (and words), split at speaker changes."""
    overlap = _Overlap(overlapped_regions(turns.turns) if isinstance(turns, Diarization) else [])
    index = _Turns(turns.exclusive if isinstance(turns, Diarization) else turns)
    if not index.turns:
        return transcript
    segments: list[Segment] = []
    for segment in transcript.segments:
        if not segment.words:
            segment.speaker = index.speaker_for(segment.start, segment.end)
            segments.append(segment)
            continue
        for word in segment.words:
            word.speaker = index.speaker_for(word.start, word.end)
            word.overlap = overlap.mostly(word.start, word.end)
        segments.extend(_split_by_speaker(segment))
    for position, segment in enumerate(segments):
        segment.id = position
        segment.overlap = overlap.mostly(segment.start, segment.end)
    transcript.segments = segments
    return transcript


def _split_by_speaker(segment: Segment) -> list[Segment]:
    runs: list[list[Word]] = []
    for word in segment.words:
        if runs and runs[-1][-1].speaker == word.speaker:
            runs[-1].append(word)
        else:
            runs.append([word])
    if len(runs) == 1:
        segment.speaker = runs[0][0].speaker
        return [segment]
    return [
        Segment(
            id=segment.id,
            start=round(run[0].start, 3),
            end=round(run[-1].end, 3),
            text="".join(w.word for w in run).strip(),
            avg_logprob=segment.avg_logprob,
            no_speech_prob=segment.no_speech_prob,
            compression_ratio=segment.compression_ratio,
            words=run,
            speaker=run[0].speaker,
        )
        for run in runs
    ]


def number_speakers(transcript: Transcript, turns: list[SpeakerTurn]) -> tuple[Transcript, list[SpeakerTurn]]:
    """Rename speakers SPEAKER_00, 01, ... in order of first appearance in the transcript (then in the
    turns, for speakers who say no transcribed word), on segments, words and turns alike. Diarizers
    number by their own turns, which may start with speech that Whisper does not transcribe."""
    names: dict[str, str] = {}
    for segment in transcript.segments:
        if segment.speaker is not None:
            names.setdefault(segment.speaker, f"SPEAKER_{len(names):02d}")
    for turn in sorted(turns, key=lambda t: (t.start, t.end)):
        names.setdefault(turn.speaker, f"SPEAKER_{len(names):02d}")
    for segment in transcript.segments:
        segment.speaker = names.get(segment.speaker, segment.speaker) if segment.speaker else None
        for word in segment.words:
            word.speaker = names.get(word.speaker, word.speaker) if word.speaker else None
    return transcript, [SpeakerTurn(t.start, t.end, names[t.speaker]) for t in turns]
