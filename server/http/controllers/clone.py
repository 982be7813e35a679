"""/v1/clone: upload a reference clip, get a voice model id usable in /v1/tts."""

from __future__ import annotations

from anyio import to_thread
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from server.domain.clone_options import CloneOptions
from server.domain.errors import PayloadTooLarge
from server.domain.tasks import TaskKind, new_task_id
from server.http.dependencies import Services
from server.http.identity import COUNTS, Caller
from server.http.openapi_docs import AUDIO_FILE, multipart_operation, schema_fields
from server.http.schemas import TaskResponse
from server.http.uploads import stage_audio
from server.services.quota import charged

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
        self, request: Request, caller: NamedDependency[Caller], services: NamedDependency[Services]
    ) -> TaskResponse:
        limits = services.settings.clone
        task_id = new_task_id()
        with services.tasks.staging(task_id):
            upload, info = await stage_audio(request, services, caller.plan, task_id)
            options = CloneOptions.parse(upload.fields)
            if info.duration is not None and info.duration > limits.max_audio_s:
                # from the container's header: nothing long is decoded in vain
                raise PayloadTooLarge(
                    f"the reference lasts {info.duration:.0f} s; at most {limits.max_audio_s:.0f} s is accepted "
                    "(10-90 s of one speaker is best)",
                    code="audio_too_long",
                )
            params = options.model_dump(exclude_defaults=True)
            with charged(services.quotas, caller.owner, caller.plan, "clones", 1):
                task = await to_thread.run_sync(
                    lambda: services.tasks.submit(TaskKind.CLONE, caller.owner, params, task_id, caller.plan)
                )
        return TaskResponse.of(task)

    @get("/{task_id:str}", summary="Clone status; on success result.model_id")
    async def status(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], services: NamedDependency[Services]
    ) -> TaskResponse:
        return TaskResponse.of(await services.tasks.aget(task_id, caller.owner, TaskKind.CLONE))
