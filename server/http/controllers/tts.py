"""/v1/tts: synthesise a script to audio, poll, download (with Range support)."""

from __future__ import annotations

from anyio import to_thread
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from server.auth.caller import Caller
from server.domain.tasks import TaskKind
from server.domain.tts_artifacts import AUDIO_FORMATS, audio_artifact
from server.domain.tts_options import TtsRequest
from server.http.identity import COUNTS, IdempotencyKey
from server.http.ranges import file_response
from server.http.schemas import TaskResponse
from server.services.submissions import SubmissionService
from server.services.task_output import follow_audio
from server.services.tasks import TaskService
from server.services.tts_requests import cue_vocabulary


class TtsController(Controller):
    path = "/tts"
    tags = ["tts"]

    @post("/", status_code=202, opt={COUNTS: True}, summary="Synthesise a script (speakers, emotion cues) to audio")
    async def submit(
        self,
        data: JSONBody[TtsRequest],
        caller: NamedDependency[Caller],
        submissions: NamedDependency[SubmissionService],
        idempotency_key: IdempotencyKey = None,
    ) -> TaskResponse:
        return TaskResponse.of(await submissions.submit_tts(caller, data, idempotency_key=idempotency_key))

    @get("/cues", sync_to_thread=False, summary="The emotion and event cues a script may use (no authentication)")
    def cues(self) -> dict[str, list[dict]]:
        # Public like /health: the vocabulary is the same for everyone and editors need it before a key.
        return cue_vocabulary()

    @delete(
        "/{task_id:str}",
        status_code=200,
        summary="Cancel the synthesis (quota refunded, files removed), or forget a finished one",
    )
    async def cancel(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], submissions: NamedDependency[SubmissionService]
    ) -> TaskResponse:
        return TaskResponse.of(await submissions.cancel(caller, task_id, TaskKind.TTS), include_result=False)

    @get("/{task_id:str}", summary="Task status, progress and result summary")
    async def status(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], tasks: NamedDependency[TaskService]
    ) -> TaskResponse:
        return TaskResponse.of(await tasks.aget(task_id, caller.owner, TaskKind.TTS))

    @get(
        "/{task_id:str}/audio",
        summary="The synthesised audio: streamed while the task runs; when finished, the file (with Range)",
    )
    async def audio(
        self,
        request: Request,
        task_id: FromPath[str],
        caller: NamedDependency[Caller],
        tasks: NamedDependency[TaskService],
    ) -> Response | Stream:
        task = await to_thread.run_sync(tasks.get, task_id, caller.owner, TaskKind.TTS)
        if not task.status.terminal:  # what is ready now, then the rest as it is made
            fmt = AUDIO_FORMATS[task.params.get("format", "mp3")]
            return Stream(follow_audio(tasks, task.id, caller.owner), media_type=fmt.media_type)
        return await to_thread.run_sync(_finished_audio, tasks, task_id, caller.owner, request.headers.get("range"))


def _finished_audio(tasks: TaskService, task_id: str, owner: str, range_header: str | None) -> Response:
    task = tasks.finished(task_id, owner, TaskKind.TTS)  # 409 when it failed
    fmt = AUDIO_FORMATS[(task.result or {})["format"]]  # a succeeded TTS task records its format
    path = tasks.artifacts.path(task.id, audio_artifact(fmt.name))
    return file_response(path, fmt.media_type, f"{task.id}.{fmt.extension}", range_header)
