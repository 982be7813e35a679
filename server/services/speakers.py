"""Known speakers for the HTTP layer: the registry (list, get, delete), enrolment, labelling.

Nothing here loads a model: gating and embedding a sample is a speaker task that a worker runs
(server/worker/jobs/speaker.py); this service submits it and waits for its end, up to
`speakers.enrol_wait_s`, so a client usually gets the speaker (or the gate's error) in one call.
Owner isolation: every lookup is in the caller's own folder of the store, so someone else's id
is simply not found (404, never 403).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anyio import to_thread

from model_store.speakers import Speaker, SpeakerStore, is_valid_id
from server.auth.caller import Caller
from server.domain.errors import Conflict, InvalidRequest, NotFound, ServiceError
from server.domain.speaker_options import SpeakerOptions
from server.domain.tasks import Task, TaskKind, TaskStatus
from server.domain.transcripts import TRANSCRIPT_ARTIFACT, SttResult, SttSpeaker, cluster_artifact
from server.services.audio_source import AudioSource
from server.services.submissions import OptionsFrom, SubmissionService, _resolve
from server.services.tasks import TaskService
from server.settings import Settings

# A failed speaker task's code -> the HTTP status its synchronous answer gets.
_FAILURE_STATUS = {
    "audio_too_long": 413,
    "unsupported_audio": 415,
    "empty_audio": 415,
    "speaker_not_found": 404,
    "too_many_samples": 409,
    "speaker_audio_unavailable": 409,
    "conflict": 409,
    "engine_unavailable": 503,
    "internal_error": 500,
    "interrupted": 500,
    "timeout": 504,
}


def speaker_json(speaker: Speaker) -> dict[str, Any]:
    return {
        "speaker_id": speaker.id,
        "name": speaker.name,
        "description": speaker.description,
        "samples": [
            {"sample_id": s.id, "seconds": s.seconds, "added_at": s.added_at.isoformat()} for s in speaker.samples
        ],
        "encoder": speaker.encoder,
        "created_at": speaker.created_at.isoformat(),
        "updated_at": speaker.updated_at.isoformat(),
    }


def owned_speaker(store: SpeakerStore, owner: str, speaker_id: str) -> Speaker:
    speaker = store.get(owner, speaker_id) if is_valid_id(speaker_id) else None
    if speaker is None:
        raise NotFound(f"no speaker {speaker_id!r}; GET /v1/speakers lists yours", code="speaker_not_found")
    return speaker


def check_known(store: SpeakerStore, owner: str, speaker_ids: list[str]) -> None:
    """For STT submissions: every id (unless `all`) must be one of the owner's speakers."""
    for speaker_id in speaker_ids:
        if speaker_id != "all":
            owned_speaker(store, owner, speaker_id)


class SpeakerService:
    def __init__(
        self, settings: Settings, store: SpeakerStore, submissions: SubmissionService, tasks: TaskService
    ) -> None:
        self._settings = settings
        self._store = store
        self._submissions = submissions
        self._tasks = tasks

    # --- the registry ---------------------------------------------------------------------

    def list(self, owner: str) -> list[dict[str, Any]]:
        return [speaker_json(s) for s in self._store.of_owner(owner)]

    def speaker(self, owner: str, speaker_id: str) -> Speaker:
        return owned_speaker(self._store, owner, speaker_id)

    def sweep(self) -> int:
        return self._store.sweep()

    def delete(self, owner: str, speaker_id: str) -> None:
        self.speaker(owner, speaker_id)
        self._store.delete(owner, speaker_id)

    # --- samples (worker tasks) -----------------------------------------------------------

    async def enrol(
        self,
        caller: Caller,
        source: AudioSource,
        options: OptionsFrom[SpeakerOptions],
        idempotency_key: str | None = None,
    ) -> tuple[Task, dict[str, Any] | None]:
        """(the task, the new speaker once it is enrolled; None while the worker is still at it)."""

        def params() -> dict[str, Any]:
            opts = _resolve(options)
            return {"op": "enrol", "name": opts.name, "description": opts.description}

        task = await self._submissions.submit_speaker(caller, params, source, idempotency_key=idempotency_key)
        return await self._finish(caller, task)

    async def add_sample(
        self, caller: Caller, speaker_id: str, source: AudioSource, idempotency_key: str | None = None
    ) -> tuple[Task, dict[str, Any] | None]:
        await to_thread.run_sync(self.speaker, caller.owner, speaker_id)
        params = {"op": "add_sample", "speaker_id": speaker_id}
        task = await self._submissions.submit_speaker(caller, params, source, idempotency_key=idempotency_key)
        return await self._finish(caller, task)

    async def status(self, caller: Caller, task_id: str) -> tuple[Task, dict[str, Any] | None]:
        task = await self._tasks.aget(task_id, caller.owner, TaskKind.SPEAKER)
        return task, await self._outcome(caller, task)

    async def _finish(self, caller: Caller, task: Task) -> tuple[Task, dict[str, Any] | None]:
        task = await self._tasks.wait(task.id, caller.owner, TaskKind.SPEAKER, self._settings.speakers.enrol_wait_s)
        return task, await self._outcome(caller, task)

    async def _outcome(self, caller: Caller, task: Task) -> dict[str, Any] | None:
        if task.status is TaskStatus.FAILED:
            code = task.error.code if task.error else "internal_error"
            error = ServiceError(task.error.message if task.error else "the task failed", code=code)
            error.status = _FAILURE_STATUS.get(code, 422)  # the gate's refusals: a valid request, bad audio
            raise error
        if task.status is not TaskStatus.SUCCEEDED:
            return None
        speaker_id = (task.result or {}).get("speaker_id", "")
        return speaker_json(await to_thread.run_sync(self.speaker, caller.owner, speaker_id))

    # --- labelling a transcript after the fact ---------------------------------------------

    async def label(
        self, caller: Caller, task_id: str, assignments: Mapping[str, Any], add_samples: bool
    ) -> dict[str, Any]:
        """Name clusters of a finished transcription ({"SPEAKER_01": speaker_id}); with `add_samples`,
        each cluster's kept audio also becomes a sample of its speaker (gated like any sample)."""
        task = await to_thread.run_sync(self._tasks.finished, task_id, caller.owner, TaskKind.STT)
        transcript = await to_thread.run_sync(self._transcript, task.id)
        speakers = await to_thread.run_sync(self._check_assignments, caller.owner, transcript, assignments)
        added: list[dict[str, Any]] = []
        if add_samples:
            missing = [k for k in speakers if not self._tasks.artifacts.exists(task.id, cluster_artifact(k))]
            if missing:
                raise Conflict(
                    f"the audio of {', '.join(missing)} is not kept with this task: only transcriptions "
                    "submitted with speakers=… or keep_speaker_audio=true keep it (until the task expires)",
                    code="speaker_audio_unavailable",
                )
            for label, speaker in speakers.items():
                params = {"op": "learn", "speaker_id": speaker.id, "source_task": task.id, "label": label}
                sample_task = await self._submissions.submit_speaker(caller, params)
                sample_task, result = await self._finish(caller, sample_task)
                if result is None:
                    raise ServiceError(
                        f"the sample of {label} is still being added (task {sample_task.id})", code="timeout"
                    )
                sample_id = (sample_task.result or {}).get("sample_id")
                added.append({"label": label, "speaker_id": speaker.id, "sample_id": sample_id})

        def relabel() -> dict[str, Any]:
            current = self._transcript(task.id)
            # the enrolled speakers named so far (by identification or an earlier labelling)
            identities = {s.label: s for s in current.recognised() if s.speaker_id}
            for label, speaker in speakers.items():
                # one enrolled speaker names at most one cluster: drop their earlier cluster
                identities = {k: v for k, v in identities.items() if v.speaker_id != speaker.id}
                identities[label] = SttSpeaker(label, speaker.name, speaker.id, match_score=None)
            document = current.named(identities.values()).to_json()
            self._tasks.artifacts.write_json(task.id, TRANSCRIPT_ARTIFACT, document)
            return document

        updated = await to_thread.run_sync(relabel)
        return {"speakers": updated["speakers"], "samples_added": added}

    def _transcript(self, task_id: str) -> SttResult:
        return SttResult.from_json(self._tasks.artifacts.read_json(task_id, TRANSCRIPT_ARTIFACT))

    def _check_assignments(
        self, owner: str, transcript: SttResult, assignments: Mapping[str, Any]
    ) -> dict[str, Speaker]:
        if not assignments:
            raise InvalidRequest('send {"SPEAKER_NN": "<speaker_id>", …}', code="invalid_request")
        labels = transcript.cluster_labels()
        chosen: dict[str, Speaker] = {}
        for label, speaker_id in assignments.items():
            if label not in labels:
                raise InvalidRequest(
                    f"{label!r} is not a speaker of this transcript (it has {', '.join(labels) or 'none'})",
                    code="unknown_speaker_label",
                )
            if not isinstance(speaker_id, str):
                raise InvalidRequest(f"{label}: the value must be a speaker id", code="invalid_request")
            chosen[label] = self.speaker(owner, speaker_id)
        if len({s.id for s in chosen.values()}) < len(chosen):
            raise InvalidRequest("one speaker can name one cluster of a transcript only", code="invalid_request")
        return chosen
