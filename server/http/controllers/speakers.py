"""/v1/speakers: enrol known speakers (voiceprints) that transcripts then name."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from server.auth.caller import Caller
from server.domain.speaker_options import SpeakerOptions
from server.domain.tasks import Task
from server.http.identity import COUNTS, IdempotencyKey
from server.http.multipart import MultipartUpload
from server.http.openapi_docs import AUDIO_FILE, multipart_operation, schema_fields
from server.http.schemas import TaskResponse
from server.services.speakers import SpeakerService

SpeakerUpload = multipart_operation({"file": AUDIO_FILE, **schema_fields(SpeakerOptions)}, required=["file", "name"])
SampleUpload = multipart_operation({"file": AUDIO_FILE}, required=["file"])


def _answer(task: Task, speaker: dict[str, Any] | None, created: bool) -> Response[Any]:
    # The worker usually finishes within the wait: the speaker itself. Otherwise the task to poll.
    if speaker is None:
        return Response(TaskResponse.of(task), status_code=202)
    return Response(speaker, status_code=201 if created else 200)


class SpeakersController(Controller):
    path = "/speakers"
    tags = ["speakers"]

    @post(
        "/",
        operation_class=SpeakerUpload,
        request_max_body_size=None,
        opt={COUNTS: True},
        summary="Enrol a speaker from a sample of their speech (one speaker, ≥ 3 s of speech)",
        description="201 with the speaker once the worker has checked and embedded the sample; 202 with a "
        "task (GET /v1/speakers/tasks/{task_id}) if that takes longer than the server waits. The sample is "
        "refused like a clone's reference: `multiple_speakers`, `audio_too_short`, `no_speech`, `poor_quality`.",
    )
    async def enrol(
        self,
        request: Request,
        caller: NamedDependency[Caller],
        speakers: NamedDependency[SpeakerService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        upload = MultipartUpload(request)
        options = lambda: SpeakerOptions.parse(upload.fields)  # noqa: E731 - the fields arrive with the body
        task, speaker = await speakers.enrol(caller, upload, options, idempotency_key=idempotency_key)
        return _answer(task, speaker, created=True)

    @get("/", sync_to_thread=True, summary="Your enrolled speakers")
    def list_speakers(
        self, caller: NamedDependency[Caller], speakers: NamedDependency[SpeakerService]
    ) -> dict[str, Any]:
        return {"items": speakers.list(caller.owner)}

    @get("/tasks/{task_id:str}", summary="An enrolment or sample task that outlasted the wait")
    async def task_status(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], speakers: NamedDependency[SpeakerService]
    ) -> dict[str, Any]:
        task, speaker = await speakers.status(caller, task_id)
        return {"task": TaskResponse.of(task), "speaker": speaker}

    @get("/{speaker_id:str}", sync_to_thread=True, summary="One enrolled speaker")
    def get_speaker(
        self, speaker_id: FromPath[str], caller: NamedDependency[Caller], speakers: NamedDependency[SpeakerService]
    ) -> dict[str, Any]:
        from server.services.speakers import speaker_json

        return speaker_json(speakers.speaker(caller.owner, speaker_id))

    @delete("/{speaker_id:str}", sync_to_thread=True, summary="Delete a speaker with its samples and voiceprint")
    def delete_speaker(
        self, speaker_id: FromPath[str], caller: NamedDependency[Caller], speakers: NamedDependency[SpeakerService]
    ) -> None:
        speakers.delete(caller.owner, speaker_id)

    @post(
        "/{speaker_id:str}/samples",
        operation_class=SampleUpload,
        request_max_body_size=None,
        opt={COUNTS: True},
        summary="Add a sample of the speaker's speech (more samples, steadier recognition)",
    )
    async def add_sample(
        self,
        speaker_id: FromPath[str],
        request: Request,
        caller: NamedDependency[Caller],
        speakers: NamedDependency[SpeakerService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        upload = MultipartUpload(request)
        task, speaker = await speakers.add_sample(caller, speaker_id, upload, idempotency_key=idempotency_key)
        return _answer(task, speaker, created=False)
