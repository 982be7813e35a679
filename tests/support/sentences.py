"""Sentences held out from every reference text and from voice_match.BASE_SENTENCES: what cloned and
matched voices are asked to say when their similarity and intelligibility are measured (by the
clone tests, on the first eight, and by scripts/bench_clone.py, on all of them)."""

HELD_OUT_SENTENCES = (
    "The weather report promised sunshine, but the clouds rolled in by noon.",
    "Please send the invoice to the accounting department before Friday.",
    "He found an old map hidden inside the cover of a library book.",
    "Our neighbours are planning a small party for the end of the summer.",
    "The bridge was closed for repairs, so we took the long way home.",
    "Nobody expected the quiet student to win the chess tournament.",
    "A cup of tea and a warm blanket are all I need this evening.",
    "She painted the kitchen a bright shade of yellow last weekend.",
    "The engineers tested the new engine on a cold and windy morning.",
    "Turn left at the bakery and the post office is on your right.",
)
