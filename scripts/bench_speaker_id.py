"""Known-speaker identification on the shared dev set: enrol from one recording, name in others.

    .venv/bin/python -m scripts.bench_speaker_id            # the sweep, then the chosen setting in detail

The product path, minus HTTP: the neural diarizer (diarize_full) -> each cluster's clean speech
(engines/speaker_id/encoder.py: overlap removed) -> CAM++ centroid -> match_clusters against the
registry's voiceprints (engines/speaker_id/matching.py). Enrolment samples are embedded whole by
the same encoder (the API's gate also trims long silences first; these clips have none to speak of).

Speakers (docs/benchmarks.md has the table and the figures):
  read speech, several recordings of one person: librivox-reader-1 (enrolled from 0920, 0930, 0880;
    tested on 0870, 0890) and the LJ Speech reader (enrolled from LJ001-0001, -0003, -0005; tested on
    -0007, cut in two turns). n = 1, 2, 3 enrolment samples are the first n of those lists.
  read speech, one recording: ls_2412, ls_1995, pv_leopard_test_es: enrolled from the first 60 %
    of the clip (one sample whatever n), tested on the rest.
  far-field meetings (AMI EN2002a and ES/IS excerpts): FEO070, MEE073, FEO072 enrolled from their
    solo speech in ami_en2002a_184s (FEO072's three solo spans are its 1-3 samples), FEE087 from
    ami_pyannote_trn07; tested on ami_pyannote_tst00, tst01 and trn08 (other excerpts of the same
    meetings).
  not enrolled: every other speaker of those files, and 10 read-speech clips of other people
    (other languages, CMU, LibriSpeech 1272), plus sample.wav, pyaa x2, picovoice_falcon_3spk,
    nemo_an4, ami trn01/trn02 as they are.
Read-speech test clips are cut into ~3 s turns and joined into 5 conversations (the pieces dealt
round robin, shuffled, 0.3-1.0 s gaps) per seed; --seeds 3 (default) deals them three times.

Scoring, per reference turn of >= 1.0 s: the name of the hypothesis cluster covering most of it
(exclusive view). An enrolled speaker's turn is right / wrong (another name) / unnamed; a stranger's
turn is a false accept if it gets any name. Centroids are computed once per test recording, so every
(threshold, margin) in the sweep is scored on the same diarization.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

import numpy as np

from engines.speaker_id.matching import MatchConfig, Voiceprint, match_clusters
from engines.types import SAMPLE_RATE as SR
from engines.types import DiarizationRequest
from scripts.bench_diarization import read_rttm, read_wav, solo_spans
from scripts.dev_data import dev_data_dir

MIN_TURN_S = 1.0
TURN_S = 3.0  # read-speech test clips are cut into turns of about this length
MULTI = {
    "librivox-1": (
        ["ps_librivox_0920", "ps_librivox_0930", "ps_librivox_0880"],
        ["ps_librivox_0870", "ps_librivox_0890"],
    ),
    "ljspeech": (["lj_LJ001-0001", "lj_LJ001-0003", "lj_LJ001-0005"], ["lj_LJ001-0007"]),
}
SINGLE = ["ls_2412-153948-0000", "ls_1995-1837-0001", "pv_leopard_test_es"]
STRANGER_CLIPS = [
    "pv_leopard_test",
    "ps_goforward",
    "pv_leopard_test_de",
    "pv_leopard_test_fr",
    "pv_leopard_test_it",
    "pv_leopard_test_ja",
    "pv_leopard_test_ko",
    "pv_leopard_test_pt",
    "aishell_BAC009S0724W0121",
    "ps_cards_005",
]
AMI_ENROL = {"ami_en2002a_184s": ("FEO070", "MEE073", "FEO072"), "ami_pyannote_trn07": ("FEE087",)}
AMI_TESTS = ["ami_pyannote_tst00", "ami_pyannote_tst01", "ami_pyannote_trn08"]
STRANGER_FILES = [
    "pyaa_diarization_example",
    "pyaa_diarization_example2",
    "picovoice_falcon_3spk",
    "nemo_an4_diarize_test",
    "ami_pyannote_trn01",
    "ami_pyannote_trn02",
]


@dataclass
class Recording:
    name: str
    audio: np.ndarray
    turns: list[tuple[float, float, str]]  # reference
    kind: str  # read | meeting | stranger
    hyp: list[tuple[float, float, str]] = field(default_factory=list)  # exclusive diarization
    centroids: dict[str, np.ndarray] = field(default_factory=dict)


def clip(root, name: str) -> np.ndarray:
    return read_wav(root / "stt" / f"{name}.wav")


def turns_of(x: np.ndarray, turn_s: float = TURN_S) -> list[np.ndarray]:
    """A clip as conversation turns of about `turn_s` (a shorter tail joins the last turn)."""
    n = max(1, round(x.size / (turn_s * SR)))
    return [part for part in np.array_split(x, n) if part.size]


def enrolment_and_tests(root, seeds: int = 1):
    """({speaker: [sample audio, …]}, [Recording, …])."""
    samples: dict[str, list[np.ndarray]] = {}
    read_pieces: list[tuple[np.ndarray, str]] = []
    for speaker, (enrol, test) in MULTI.items():
        samples[speaker] = [clip(root, n) for n in enrol]
        for n in test:
            read_pieces += [(piece, speaker) for piece in turns_of(clip(root, n))]
    for n in SINGLE:
        x = clip(root, n)
        cut = int(0.6 * x.size)
        samples[n] = [x[:cut]]
        read_pieces += [(piece, n) for piece in turns_of(x[cut:])]
    strangers = [(piece, n) for n in STRANGER_CLIPS for piece in turns_of(clip(root, n))]

    recordings = []
    for seed in range(seeds):  # each seed: the same pieces in 5 other conversations
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(read_pieces))
        stranger_order = rng.permutation(len(strangers))
        for i in range(5):
            mine = [read_pieces[j] for j in order[i::5]] + [strangers[j] for j in stranger_order[i::5]]
            pieces = [mine[j] for j in rng.permutation(len(mine))]
            chunks, turns, t = [np.zeros(SR // 2, np.float32)], [], 0.5
            for audio, speaker in pieces:
                turns.append((t, t + audio.size / SR, speaker))
                gap = np.zeros(int(rng.uniform(0.3, 1.0) * SR), np.float32)
                chunks += [audio, gap]
                t += (audio.size + gap.size) / SR
            recordings.append(Recording(f"read-{seed}-{i}", np.concatenate(chunks), turns, "read"))

    diar = root / "diarization"
    for name, speakers in AMI_ENROL.items():
        audio, ref = read_wav(diar / f"{name}.wav"), read_rttm(diar / f"{name}.rttm")
        for speaker in speakers:
            spans = sorted((e - s, s, e) for s, e, k in solo_spans(ref) if k == speaker and e - s >= 1.5)[::-1]
            samples[speaker] = [audio[int(s * SR) : int(e * SR)] for _, s, e in spans[:3]]
    for name in AMI_TESTS:
        recordings.append(Recording(name, read_wav(diar / f"{name}.wav"), read_rttm(diar / f"{name}.rttm"), "meeting"))
    for name in STRANGER_FILES:
        recordings.append(Recording(name, read_wav(diar / f"{name}.wav"), read_rttm(diar / f"{name}.rttm"), "stranger"))
    from tests.support.audio import sample_wav

    recordings.append(
        Recording("sample.wav", read_wav(sample_wav()), read_rttm(sample_wav().with_suffix(".rttm")), "stranger")
    )
    return samples, recordings


def build():
    from engines.diarization.neural import NeuralDiarizer, NeuralDiarizerConfig
    from engines.speaker_id.encoder import SpeakerEncoder, SpeakerEncoderConfig
    from model_store import neural_diarization

    models = neural_diarization.package_models()
    diarizer = NeuralDiarizer(NeuralDiarizerConfig(segmentation=models.segmentation, embedding=models.embedding))
    encoder = SpeakerEncoder(SpeakerEncoderConfig(models.embedding, neural_diarization.CAMPPLUS.sha256))
    return diarizer, encoder


def prepare(recordings: list[Recording], diarizer, encoder) -> float:
    started = time.perf_counter()
    for rec in recordings:
        d = diarizer.diarize_full(DiarizationRequest(rec.audio))
        rec.hyp = [(t.start, t.end, t.speaker) for t in d.exclusive]
        rec.centroids = encoder.cluster_centroids(encoder.cluster_speech(rec.audio, d))
    return time.perf_counter() - started


def name_of(rec: Recording, start: float, end: float, names: dict[str, str]) -> str | None:
    cover: Counter[str] = Counter()
    for s, e, label in rec.hyp:
        shared = min(e, end) - max(s, start)
        if shared > 0:
            cover[label] += shared
    return names.get(cover.most_common(1)[0][0]) if cover else None


def score(recordings, prints, version, config) -> dict[str, Counter]:
    """Counters per recording kind: right, wrong, unnamed (enrolled turns), named, anonymous (strangers)."""
    enrolled = {p.speaker_id for p in prints}
    out: dict[str, Counter] = {}
    for rec in recordings:
        matches = match_clusters(rec.centroids, prints, version, config)
        names = {label: m.speaker_id for label, m in matches.items()}
        c = out.setdefault(rec.kind, Counter())
        for start, end, speaker in rec.turns:
            if end - start < MIN_TURN_S:
                continue
            got = name_of(rec, start, end, names)
            if speaker in enrolled:
                c["right" if got == speaker else "unnamed" if got is None else "wrong"] += 1
            else:
                c["named" if got is not None else "anonymous"] += 1
    return out


def explain(recordings, prints) -> None:
    from engines.speaker_id.matching import score_matrix

    print("\nper cluster (n=1): true majority speaker, best two voiceprints with scores")
    for rec in recordings:
        labels = list(rec.centroids)
        scores = score_matrix([rec.centroids[k] for k in labels], prints)
        for label, row in zip(labels, scores, strict=True):
            truth = cluster_truth(rec, label) or "?"
            best = np.argsort(row)[::-1][:2]
            tops = ", ".join(f"{prints[i].speaker_id} {row[i]:.2f}" for i in best)
            print(f"  {rec.name:26s} {label:12s} true {truth:22s} | {tops}")


def cluster_truth(rec: Recording, label: str) -> str | None:
    cover: Counter[str] = Counter()
    for s, e, hyp_label in rec.hyp:
        if hyp_label == label:
            for rs, re_, speaker in rec.turns:
                cover[speaker] += max(0.0, min(e, re_) - max(s, rs))
    return cover.most_common(1)[0][0] if cover else None


def score_spread(recordings, prints) -> tuple[list[float], list[float]]:
    """(each enrolled-majority cluster's score with its own voiceprint, each cluster's best score
    with someone else's): how far apart the two populations lie, whatever the threshold."""
    from engines.speaker_id.matching import score_matrix

    ids = [p.speaker_id for p in prints]
    own, impostor = [], []
    for rec in recordings:
        labels = list(rec.centroids)
        for label, row in zip(labels, score_matrix([rec.centroids[k] for k in labels], prints), strict=True):
            truth = cluster_truth(rec, label)
            if truth in ids:
                own.append(float(row[ids.index(truth)]))
            others = [float(s) for i, s in zip(ids, row, strict=True) if i != truth]
            impostor.append(max(others))
    return own, impostor


def score_clusters(recordings, prints, version, config) -> Counter:
    """The matching alone, diarization errors aside: each cluster judged by its majority speaker."""
    enrolled = {p.speaker_id for p in prints}
    c: Counter[str] = Counter()
    for rec in recordings:
        matches = match_clusters(rec.centroids, prints, version, config)
        for label in rec.centroids:
            truth, got = cluster_truth(rec, label), matches.get(label)
            name = got.speaker_id if got else None
            if truth in enrolled:
                c["right" if name == truth else "unnamed" if name is None else "wrong"] += 1
            else:
                c["named" if name is not None else "anonymous"] += 1
    return c


def registry(samples, embeddings, n: int, version: str) -> list[Voiceprint]:
    return [Voiceprint(s, s, np.stack(embeddings[s][:n]), version) for s in samples]


def pooled(counts: dict[str, Counter]) -> tuple[float, float, Counter]:
    total = sum(counts.values(), Counter())
    enrolled = total["right"] + total["wrong"] + total["unnamed"]
    strangers = total["named"] + total["anonymous"]
    return total["right"] / max(enrolled, 1), total["named"] / max(strangers, 1), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=MatchConfig().threshold)
    parser.add_argument("--margin", type=float, default=MatchConfig().margin)
    parser.add_argument("--seeds", type=int, default=3, help="read-speech conversation sets (5 conversations each)")
    parser.add_argument("--verbose", action="store_true", help="each cluster's best two scores and true speaker")
    args = parser.parse_args()
    root = dev_data_dir()
    if root is None:
        raise SystemExit("dev set not found: set VOICE_API_DEV_DATA or put shared/data/dev beside the repo")
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    diarizer, encoder = build()
    samples, recordings = enrolment_and_tests(root, args.seeds)
    started = time.perf_counter()
    embeddings = {s: [encoder.embed(x) for x in xs] for s, xs in samples.items()}
    print(
        f"enrolment: {sum(len(v) for v in samples.values())} samples of {len(samples)} speakers embedded in "
        f"{time.perf_counter() - started:.1f} s"
    )
    for s, xs in samples.items():
        print(f"  {s:24s} samples (s): {', '.join(f'{x.size / SR:.1f}' for x in xs)}")
    seconds = prepare(recordings, diarizer, encoder)
    audio_s = sum(r.audio.size for r in recordings) / SR
    print(f"diarized + centroids: {len(recordings)} recordings, {audio_s:.0f} s of audio in {seconds:.1f} s")

    print("\nsweep (pooled over all recordings): right% of enrolled turns / named% of strangers' turns")
    header = "thr   margin " + " ".join(f"   n={n} right/FA   " for n in (1, 2, 3))
    print(header)
    for threshold in np.arange(0.30, 0.71, 0.05):
        for margin in (0.0, 0.05, 0.08, 0.12):
            cells = []
            for n in (1, 2, 3):
                right, fa, _ = pooled(
                    score(
                        recordings,
                        registry(samples, embeddings, n, encoder.version),
                        encoder.version,
                        MatchConfig(float(threshold), margin),
                    )
                )
                cells.append(f"{100 * right:6.1f} / {100 * fa:4.1f}  ")
            print(f"{threshold:.2f}  {margin:.2f}   " + " ".join(cells))

    if args.verbose:
        explain(recordings, registry(samples, embeddings, 1, encoder.version))
    config = MatchConfig(args.threshold, args.margin)
    print(f"\nchosen: threshold {config.threshold}, margin {config.margin}")
    for n in (1, 2, 3):
        counts = score(recordings, registry(samples, embeddings, n, encoder.version), encoder.version, config)
        right, fa, total = pooled(counts)
        print(
            f"n={n}: enrolled turns right {total['right']}, wrong {total['wrong']}, unnamed {total['unnamed']} "
            f"({100 * right:.1f}% right); strangers' turns named {total['named']} of "
            f"{total['named'] + total['anonymous']} ({100 * fa:.1f}%)"
        )
        own, impostor = score_spread(recordings, registry(samples, embeddings, n, encoder.version))
        print(
            f"    scores: own voiceprint mean {np.mean(own):.3f} min {min(own):.3f} (n={len(own)}); "
            f"best other voiceprint mean {np.mean(impostor):.3f} max {max(impostor):.3f} (n={len(impostor)})"
        )
        k = score_clusters(recordings, registry(samples, embeddings, n, encoder.version), encoder.version, config)
        print(
            f"    clusters (by majority speaker): enrolled right {k['right']} wrong {k['wrong']} unnamed "
            f"{k['unnamed']}; strangers' clusters named {k['named']} of {k['named'] + k['anonymous']}"
        )
        for kind, c in sorted(counts.items()):
            print(
                f"    {kind:9s} right {c['right']:3d} wrong {c['wrong']:3d} unnamed {c['unnamed']:3d} | "
                f"strangers named {c['named']:3d} of {c['named'] + c['anonymous']:3d}"
            )
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
