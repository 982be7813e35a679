"""/v1/tts: synthesise a script to audio, poll, download (with Range support)."""

from __future__ import annotations

from anyio import to_thread
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from engines.audio_encode import FORMATS
from server.domain.tasks import TaskKind, new_task_id
from server.domain.tts_options import TtsRequest
from server.http.dependencies import Services
from server.http.identity import COUNTS, Caller
from server.http.ranges import file_response
from server.http.schemas import TaskResponse
from server.services.quota import charged
from server.services.tts_requests import check_script, resolve_voices
from server.worker.jobs.tts import SCRIPT_ARTIFACT, audio_artifact


class TtsController(Controller):
    path = "/tts"
    tags = ["tts"]

    @post("/", status_code=202, opt={COUNTS: True}, summary="Synthesise a script (speakers, emotion cues) to audio")
    async def submit(
        self, data: JSONBody[TtsRequest], caller: NamedDependency[Caller], services: NamedDependency[Services]
    ) -> TaskResponse:
        settings = services.settings.tts
        voices = resolve_voices(data, settings)
        script = check_script(data, voices, settings)
        await to_thread.run_sync(services.catalog.check_usable, caller.owner, voices)
        task_id = new_task_id()
        params = data.model_dump(exclude={"text"}, exclude_defaults=True)
        with (
            services.tasks.staging(task_id),
            charged(services.quotas, caller.owner, caller.plan, "tts_characters", script.spoken_chars),
        ):
            services.tasks.artifacts.write_bytes(task_id, SCRIPT_ARTIFACT, data.text.encode("utf-8"))
            task = await to_thread.run_sync(
                lambda: services.tasks.submit(TaskKind.TTS, caller.owner, params, task_id, caller.plan)
            )
        return TaskResponse.of(task)

    @get("/{task_id:str}", summary="Task status, progress and result summary")
    async def status(
        self, task_id: FromPath[str], caller: NamedDependency[Caller], services: NamedDependency[Services]
    ) -> TaskResponse:
        return TaskResponse.of(await services.tasks.aget(task_id, caller.owner, TaskKind.TTS))

    @get("/{task_id:str}/audio", sync_to_thread=True, summary="The synthesised audio (supports Range requests)")
    def audio(
        self,
        request: Request,
        task_id: FromPath[str],
        caller: NamedDependency[Caller],
        services: NamedDependency[Services],
    ) -> Response:
        task = services.tasks.finished(task_id, caller.owner, TaskKind.TTS)
        fmt = FORMATS[task.result["format"]]
        path = services.tasks.artifacts.path(task.id, audio_artifact(fmt.name))
        return file_response(path, fmt.media_type, f"{task.id}.{fmt.extension}", request.headers.get("range"))
