"""The three kinds of job: a transcription, a synthesis, a clone. Each says how to submit its task
and what to fetch once it has succeeded."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.client.api import VoiceApiClient
from server.client.display import Row
from server.client.jobs import Job, TransferCounter, write_atomically


@dataclass
class TranscribeJob(Job):
    path: Path
    fields: dict[str, str | list[str]]
    fmt: str  # srt | vtt | txt | json
    output: Path | None  # None: the transcript goes to stdout
    kind: str = "stt"

    @property
    def label(self) -> str:  # type: ignore[override]
        return self.path.name

    def submit(self, client: VoiceApiClient, row: Row, stopped: Callable[[], bool], key: str) -> dict[str, Any]:
        counter = TransferCounter(row, self.path.stat().st_size)
        return client.submit_upload("stt", self.path, self.fields, counter, stopped, key)

    def collect(self, client: VoiceApiClient, task: dict[str, Any], row: Row, stopped: Callable[[], bool]):
        transcript = client.transcript(task["task_id"], self.fmt)
        if self.output is None:
            return None, transcript
        text = (
            json.dumps(transcript, ensure_ascii=False, indent=2) + "\n" if isinstance(transcript, dict) else transcript
        )
        write_atomically(self.output, [text.encode("utf-8")])
        return str(self.output), None


@dataclass
class SpeechJob(Job):
    body: dict[str, Any]  # the POST /v1/tts body
    output: Path | None  # None: the audio goes to stdout
    label: str = "speech"
    kind: str = "tts"

    def submit(self, client: VoiceApiClient, row: Row, stopped: Callable[[], bool], key: str) -> dict[str, Any]:
        return client.submit_tts(self.body, key)

    def collect(self, client: VoiceApiClient, task: dict[str, Any], row: Row, stopped: Callable[[], bool]):
        chunks = client.download_audio(
            task["task_id"], lambda done, total: row.transfer("downloading", done, total), stopped
        )
        if self.output is None:
            return None, b"".join(chunks)
        write_atomically(self.output, chunks)
        return str(self.output), None


@dataclass
class CloneJob(Job):
    path: Path
    fields: dict[str, str | list[str]]
    kind: str = "clone"

    @property
    def label(self) -> str:  # type: ignore[override]
        return self.path.name

    def submit(self, client: VoiceApiClient, row: Row, stopped: Callable[[], bool], key: str) -> dict[str, Any]:
        counter = TransferCounter(row, self.path.stat().st_size)
        return client.submit_upload("clone", self.path, self.fields, counter, stopped, key)

    def collect(self, client: VoiceApiClient, task: dict[str, Any], row: Row, stopped: Callable[[], bool]):
        return None, task["result"]["model_id"]
