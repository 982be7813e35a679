"""/v1/clone: upload a reference clip, get a voice model id usable in /v1/tts."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from server.auth.caller import Caller
from server.domain.clone_options import CloneOptions
from server.domain.tasks import TaskKind
from server.http.identity import COUNTS, IdempotencyKey
from server.http.multipart import MultipartUpload
from server.http.openapi_docs import AUDIO_FILE, multipart_operation, schema_fields
from server.http.schemas import TaskResponse
from server.services.submissions import SubmissionService
from server.services.tasks import TaskService
from server.settings import Settings

CloneUpload = multipart_operation({"file": AUDIO_FILE, **schema_fields(CloneOptions)}, required=["file", "title"])


class CloneController(Controller):
    path = "/clone"
    tags = ["clone"]

    @post(
        "/",
        status_code=202,
        operation_class=CloneUpload,
        request_max_body_size=None,
        opt={COUNTS: True},
        summary="Create a voice from a reference clip (≥ 10 s of one speaker's speech)",
    )
    async def submit(
        self,
        request: Request,
        caller: NamedDependency[Caller],
        submissions: NamedDependency[SubmissionService],
        idempotency_key: IdempotencyKey = None,
    ) -> TaskResponse:
        upload = MultipartUpload(request)
        options = lambda: CloneOptions.parse(upload.fields)  # noqa: E731 - the fields arrive with the body
        task = await submissions.submit_clone(caller, upload, options, idempotency_key=idempotency_key)
        return TaskResponse.of(task)

    @get("/limits", sync_to_thread=False, summary="Reference clip limits: least speech, longest clip (public)")
    def limits(self, settings: NamedDependency[Settings]) -> dict[str, float]:
        limits = settings.clone
        return {"min_speech_s": limits.min_speech_s, "max_audio_s": limits.max_audio_s}

    @delete(
        "/{task_id:str}",
        status_code=200,
        summary="Cancel the clone (quota refunded, files removed), or forget a finished one",
    )
    async def cancel(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], submissions: NamedDependency[SubmissionService]
    ) -> TaskResponse:
        return TaskResponse.of(await submissions.cancel(caller, task_id, TaskKind.CLONE), include_result=False)

    @get("/{task_id:str}", summary="Clone status; on success result.model_id")
    async def status(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], tasks: NamedDependency[TaskService]
    ) -> TaskResponse:
        return TaskResponse.of(await tasks.aget(task_id, caller.owner, TaskKind.CLONE))
