"""What the user sees on stderr: progress bars on a terminal, nothing on a pipe; notes and errors always.

Progress goes to stderr so stdout stays the command's output (a transcript, audio, JSON) for pipes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, Task, TaskID, TextColumn
from rich.table import Table
from rich.text import Text


class Row:
    """One input's line in the progress display (a no-op when progress is off)."""

    def __init__(self, progress: Progress | None, label: str) -> None:
        self._progress = progress
        self._id: TaskID | None = progress.add_task(label, total=None, phase="waiting") if progress else None

    def _update(self, **fields: Any) -> None:
        if self._progress is not None and self._id is not None:
            self._progress.update(self._id, **fields)

    def transfer(self, phase: str, done: int, total: int | None) -> None:
        self._update(completed=done, total=total, phase=phase)

    def task(self, status: str, percent: int) -> None:
        self._update(completed=percent, total=100, phase=status)

    def waiting(self, why: str) -> None:
        self._update(completed=0, total=None, phase=why)

    def finish(self, status: str) -> None:
        self._update(phase=status)


class _Amount(DownloadColumn):
    """Bytes while uploading or downloading, a percentage while the server works."""

    def render(self, task: Task) -> Text:
        if task.fields.get("phase") in ("uploading", "downloading"):
            return super().render(task)
        return Text(f"{task.percentage:>3.0f}%" if task.total else "", style="progress.percentage")


class Display:
    def __init__(self, show_progress: bool | None = None) -> None:
        self.console = Console(stderr=True, highlight=False)
        # isatty, not rich's is_terminal: FORCE_COLOR (set by many CI runners) would make rich draw bars
        # into a pipe or a log file.
        self.show_progress = _is_a_terminal(sys.stderr) if show_progress is None else show_progress
        self._progress: Progress | None = None
        if self.show_progress:
            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                _Amount(),
                TextColumn("{task.fields[phase]}"),
                console=self.console,
            )

    def __enter__(self) -> Display:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def row(self, label: str) -> Row:
        return Row(self._progress, label)

    def note(self, message: str) -> None:
        """A line for the user on stderr, whether or not progress is shown (above the bars if it is)."""
        self.console.print(escape(message), soft_wrap=True)

    def error(self, message: str) -> None:
        self.console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def _is_a_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> None:
    """A table on a terminal; tab-separated lines with a header on a pipe, for cut and awk."""
    out = Console(highlight=False)
    if not _is_a_terminal(sys.stdout):
        lines = ["\t".join(columns), *("\t".join(cell.replace("\t", " ") for cell in row) for row in rows)]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    if not rows:
        out.print(empty)
        return
    table = Table(*columns, box=None, header_style="bold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    out.print(table)
