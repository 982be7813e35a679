"""Choosing a task's lane: interactive for short work, batch for the rest."""

from __future__ import annotations

from server.domain.tasks import TaskKind, TaskLane
from server.settings import WorkerSettings


def choose_lane(settings: WorkerSettings, kind: TaskKind, size: float | None, interactive: bool | None) -> TaskLane:
    """`size` is seconds of audio (STT) or spoken characters (TTS); `interactive`, when the
    front-end knows (a voice assistant, an explicit flag), decides on its own."""
    if interactive is not None:
        return TaskLane.INTERACTIVE if interactive else TaskLane.BATCH
    limit = {TaskKind.STT: settings.interactive_max_audio_s, TaskKind.TTS: settings.interactive_max_characters}.get(
        kind
    )
    # Unknown duration (a stream without a header) is treated as long: guessing short could let a
    # long recording take the lane.
    if limit and size is not None and size <= limit:
        return TaskLane.INTERACTIVE
    return TaskLane.BATCH
