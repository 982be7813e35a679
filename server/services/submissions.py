"""Task submissions for every front-end: one sequence from the first staged byte to the queued task.

stage the input -> probe it -> duration and size policy (the server's, or the plan's if lower) ->
capability checks -> quota charge -> record and enqueue. If any step fails, or the client goes away,
the staged files are removed and the quota charge is refunded: nothing is half-accepted.

Nothing here knows the wire protocol: the HTTP multipart parser and a Wyoming audio stream are both
just `AudioSource`s, and options arrive already parsed (or, for multipart forms whose text fields may
follow the file, as a function read once the source is consumed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from anyio import to_thread

from engines.audio_io import AudioInfo
from server.auth.caller import Caller
from server.domain.clone_options import CloneOptions
from server.domain.errors import PayloadTooLarge
from server.domain.stt_options import SttOptions
from server.domain.tasks import Task, TaskKind, TaskLane, new_task_id
from server.domain.tts_artifacts import SCRIPT_ARTIFACT
from server.domain.tts_options import TtsRequest
from server.services.audio_check import check_audio
from server.services.audio_source import AudioSource, stage_audio_source
from server.services.catalog import CatalogService
from server.services.lanes import choose_lane
from server.services.quota import audio_limit_seconds, charged, upload_limit_bytes
from server.services.stt_requests import check_servable
from server.services.tasks import TaskService
from server.services.tts_requests import check_engine, check_script, resolve_voices
from server.settings import Settings

Options = TypeVar("Options")
OptionsFrom = Options | Callable[[], Options]


class SubmissionService:
    def __init__(
        self,
        settings: Settings,
        tasks: TaskService,
        catalog: CatalogService,
        quotas,
        capabilities: Callable[[], dict],
    ) -> None:
        self._settings = settings
        self._tasks = tasks
        self._catalog = catalog
        self._quotas = quotas
        self._capabilities = capabilities

    async def submit_stt(
        self,
        caller: Caller,
        source: AudioSource,
        options: OptionsFrom[SttOptions],
        *,
        interactive: bool | None = None,
        origin: dict | None = None,
    ) -> Task:
        task_id = new_task_id()
        with self._tasks.staging(task_id):
            info = await self._stage(caller, source, task_id)
            opts = _resolve(options)
            check_servable(opts, await to_thread.run_sync(self._capabilities))
            seconds = math.ceil(info.duration or 0)
            lane = choose_lane(self._settings.worker, TaskKind.STT, info.duration, interactive)
            params = opts.model_dump(exclude_defaults=True)
            with charged(self._quotas, caller.owner, caller.plan, "stt_seconds", seconds):
                return await self._record(TaskKind.STT, caller, params, task_id, lane, origin)

    async def submit_tts(
        self,
        caller: Caller,
        request: TtsRequest,
        *,
        interactive: bool | None = None,
        origin: dict | None = None,
        engine: str | None = None,
    ) -> Task:
        """`engine`: the client named one (piper, xtts); refused unless the workers have it."""
        settings = self._settings.tts
        if engine is not None:
            check_engine(engine, await to_thread.run_sync(self._capabilities))
        voices = resolve_voices(request, settings)
        script = check_script(request, voices, settings)
        await to_thread.run_sync(self._catalog.check_usable, caller.owner, voices)
        task_id = new_task_id()
        params = request.model_dump(exclude={"text"}, exclude_defaults=True)
        lane = choose_lane(self._settings.worker, TaskKind.TTS, script.spoken_chars, interactive)
        with (
            self._tasks.staging(task_id),
            charged(self._quotas, caller.owner, caller.plan, "tts_characters", script.spoken_chars),
        ):
            self._tasks.artifacts.write_bytes(task_id, SCRIPT_ARTIFACT, request.text.encode("utf-8"))
            return await self._record(TaskKind.TTS, caller, params, task_id, lane, origin)

    async def submit_clone(self, caller: Caller, source: AudioSource, options: OptionsFrom[CloneOptions]) -> Task:
        limits = self._settings.clone
        task_id = new_task_id()
        with self._tasks.staging(task_id):
            info = await self._stage(caller, source, task_id)
            opts = _resolve(options)
            if info.duration is not None and info.duration > limits.max_audio_s:
                # from the container's header: nothing long is decoded in vain
                raise PayloadTooLarge(
                    f"the reference lasts {info.duration:.0f} s; at most {limits.max_audio_s:.0f} s is accepted "
                    "(10-90 s of one speaker is best)",
                    code="audio_too_long",
                )
            params = opts.model_dump(exclude_defaults=True)
            with charged(self._quotas, caller.owner, caller.plan, "clones", 1):
                return await self._record(TaskKind.CLONE, caller, params, task_id, TaskLane.BATCH)

    async def _stage(self, caller: Caller, source: AudioSource, task_id: str) -> AudioInfo:
        """The input on disk within the caller's upload limit, and from its container's headers
        (nothing decoded yet) audio within the caller's duration limit."""
        max_bytes = upload_limit_bytes(self._settings.max_upload_bytes, caller.plan)
        staged = await stage_audio_source(source, self._tasks.artifacts, task_id, max_bytes)
        max_seconds = audio_limit_seconds(self._settings.stt.max_duration_s, caller.plan)
        return await to_thread.run_sync(check_audio, staged.path, max_seconds)

    async def _record(
        self, kind: TaskKind, caller: Caller, params: dict, task_id: str, lane: TaskLane, origin: dict | None = None
    ) -> Task:
        return await to_thread.run_sync(
            lambda: self._tasks.submit(kind, caller.owner, params, task_id, caller.plan, lane=lane, origin=origin)
        )


def _resolve(options):
    return options() if callable(options) else options
