"""/v1/stt: upload audio for transcription, poll, fetch the transcript."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from server.auth.caller import Caller
from server.domain.stt_options import SttOptions
from server.domain.tasks import TaskKind
from server.domain.transcript_formats import V1_TEXT_FORMATS
from server.domain.transcripts import TRANSCRIPT_ARTIFACT, SttResult
from server.http.identity import COUNTS, IdempotencyKey
from server.http.multipart import MultipartUpload
from server.http.openapi_docs import AUDIO_FILE, multipart_operation, schema_fields
from server.http.schemas import TaskResponse
from server.services.speakers import SpeakerService
from server.services.submissions import SubmissionService
from server.services.tasks import TaskService

SttUpload = multipart_operation({"file": AUDIO_FILE, **schema_fields(SttOptions)}, required=["file"])


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
        self,
        request: Request,
        caller: NamedDependency[Caller],
        submissions: NamedDependency[SubmissionService],
        idempotency_key: IdempotencyKey = None,
    ) -> TaskResponse:
        upload = MultipartUpload(request)
        options = lambda: SttOptions.parse(upload.fields)  # noqa: E731 - the fields arrive with the body
        task = await submissions.submit_stt(caller, upload, options, idempotency_key=idempotency_key)
        return TaskResponse.of(task)

    @delete(
        "/{task_id:str}",
        status_code=200,
        summary="Cancel the transcription (quota refunded, files removed), or forget a finished one",
    )
    async def cancel(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], submissions: NamedDependency[SubmissionService]
    ) -> TaskResponse:
        return TaskResponse.of(await submissions.cancel(caller, task_id, TaskKind.STT), include_result=False)

    @get("/{task_id:str}", summary="Task status and progress")
    async def status(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], tasks: NamedDependency[TaskService]
    ) -> TaskResponse:
        # The listing: for STT, `result` is always null here; the transcript has its own route.
        return TaskResponse.of(await tasks.aget(task_id, caller.owner, TaskKind.STT), include_result=False)

    @post(
        "/{task_id:str}/speakers",
        status_code=200,
        summary='Name speakers of a finished transcript ({"SPEAKER_01": speaker_id}); optionally learn from them',
        description="Relabels each cluster with the enrolled speaker's name (one speaker, one cluster). With "
        "add_samples=true, each cluster's speech, kept by transcriptions submitted with `speakers` or "
        "`keep_speaker_audio`, is also added to that speaker's samples (409 `speaker_audio_unavailable` "
        "when it was not kept).",
    )
    async def label_speakers(
        self,
        task_id: FromPath[str],
        data: JSONBody[dict[str, str]],
        caller: NamedDependency[Caller],
        speakers: NamedDependency[SpeakerService],
        add_samples: Annotated[
            bool, QueryParameter(description="Also add each named cluster's audio to its speaker's samples")
        ] = False,
    ) -> dict[str, Any]:
        return await speakers.label(caller, task_id, data, add_samples)

    @get("/{task_id:str}/result", sync_to_thread=True, summary="The transcript of a finished task")
    def result(
        self,
        task_id: FromPath[str],
        caller: NamedDependency[Caller],
        tasks: NamedDependency[TaskService],
        plain_text: Annotated[bool, QueryParameter(description="Only the merged transcript, as text/plain")] = False,
        format: Annotated[
            Literal["json", "text", "srt", "vtt"],
            QueryParameter(description="json (default): segments with timestamps and speakers; text; srt; vtt"),
        ] = "json",
    ) -> SttResult | Response[str]:
        task = tasks.finished(task_id, caller.owner, TaskKind.STT)
        document = tasks.artifacts.read_json(task.id, TRANSCRIPT_ARTIFACT)
        if plain_text:
            format = "text"
        if format == "json":
            return document  # the stored document is the /v1 JSON (SttResult.to_json) as it was written
        render, media_type = V1_TEXT_FORMATS[format]
        # text/plain as before: no Content-Disposition; the subtitle formats name their file
        headers = {} if format == "text" else {"Content-Disposition": f'inline; filename="{task.id}.{format}"'}
        return Response(render(SttResult.from_json(document)), media_type=media_type, headers=headers)
