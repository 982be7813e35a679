"""/v1/stt: upload audio for transcription, poll, fetch the transcript."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from anyio import to_thread
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from server.domain.stt_options import SttOptions
from server.domain.subtitles import to_srt, to_vtt
from server.domain.tasks import TaskKind, new_task_id
from server.domain.transcripts import TRANSCRIPT_ARTIFACT
from server.http.dependencies import Services
from server.http.identity import COUNTS, Caller
from server.http.openapi_docs import AUDIO_FILE, multipart_operation, schema_fields
from server.http.schemas import SttResult, TaskResponse
from server.http.uploads import stage_audio
from server.services.quota import charged
from server.services.stt_requests import check_servable

SttUpload = multipart_operation({"file": AUDIO_FILE, **schema_fields(SttOptions)}, required=["file"])

TEXT_FORMATS = {"srt": (to_srt, "application/x-subrip"), "vtt": (to_vtt, "text/vtt")}


class SttController(Controller):
    path = "/stt"
    tags = ["stt"]

    @post(
        "/",
        status_code=202,
        operation_class=SttUpload,
        request_max_body_size=None,
        opt={COUNTS: True},
        summary="Submit audio for transcription (with speakers, by default)",
    )
    async def submit(
        self, request: Request, caller: NamedDependency[Caller], services: NamedDependency[Services]
    ) -> TaskResponse:
        task_id = new_task_id()
        with services.tasks.staging(task_id):
            upload, info = await stage_audio(request, services, caller.plan, task_id)
            options = SttOptions.parse(upload.fields)
            check_servable(options, await to_thread.run_sync(services.dispatcher.capabilities))
            params = options.model_dump(exclude_defaults=True)
            seconds = math.ceil(info.duration or 0)
            with charged(services.quotas, caller.owner, caller.plan, "stt_seconds", seconds):
                task = await to_thread.run_sync(
                    lambda: services.tasks.submit(TaskKind.STT, caller.owner, params, task_id, caller.plan)
                )
        return TaskResponse.of(task)

    @get("/{task_id:str}", summary="Task status and progress")
    async def status(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], services: NamedDependency[Services]
    ) -> TaskResponse:
        # The listing: for STT, `result` is always null here; the transcript has its own route.
        return TaskResponse.of(await services.tasks.aget(task_id, caller.owner, TaskKind.STT), include_result=False)

    @get("/{task_id:str}/result", sync_to_thread=True, summary="The transcript of a finished task")
    def result(
        self,
        task_id: FromPath[str],
        caller: NamedDependency[Caller],
        services: NamedDependency[Services],
        plain_text: Annotated[bool, QueryParameter(description="Only the merged transcript, as text/plain")] = False,
        format: Annotated[
            Literal["json", "text", "srt", "vtt"],
            QueryParameter(description="json (default): segments with timestamps and speakers; text; srt; vtt"),
        ] = "json",
    ) -> SttResult | Response[str]:
        task = services.tasks.finished(task_id, caller.owner, TaskKind.STT)
        document = services.tasks.artifacts.read_json(task.id, TRANSCRIPT_ARTIFACT)
        if plain_text or format == "text":
            return Response(document["text"], media_type=MediaType.TEXT)
        if format in TEXT_FORMATS:
            render, media_type = TEXT_FORMATS[format]
            return Response(
                render(document),
                media_type=media_type,
                headers={"Content-Disposition": f'inline; filename="{task.id}.{format}"'},
            )
        return document
