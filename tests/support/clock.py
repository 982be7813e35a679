"""A clock tests set by hand (`clock.now = …`), for code that takes a `clock` callable."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now
