"""Task submissions for every front-end: one sequence from the first staged byte to the queued task.

stage the input -> probe it -> duration and size policy (the server's, or the plan's if lower) ->
capability checks -> quota charge -> record and enqueue. If any step fails, or the client goes away,
the staged files are removed and the quota charge is refunded: nothing is half-accepted.

Nothing here knows the wire protocol: the HTTP multipart parser and a Wyoming audio stream are both
just `AudioSource`s, and options arrive already parsed (or, for multipart forms whose text fields may
follow the file, as a function read once the source is consumed).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from anyio import to_thread

from engines.audio_io import AudioInfo
from server.auth.caller import LOCAL_OWNER, Caller
from server.auth.quotas import QuotaStore
from server.auth.webhook_secrets import WebhookSecrets
from server.domain.clone_options import CloneOptions
from server.domain.errors import InvalidRequest, PayloadTooLarge
from server.domain.idempotency import Claim
from server.domain.stt_options import SttOptions
from server.domain.tasks import Task, TaskKind, TaskLane, new_task_id
from server.domain.transcripts import reference_artifact
from server.domain.tts_artifacts import SCRIPT_ARTIFACT
from server.domain.tts_options import TtsRequest
from server.services.audio_check import check_audio
from server.services.audio_source import AudioSource, StagedAudio, stage_audio_source
from server.services.callbacks import check_callback_url
from server.services.catalog import CatalogService
from server.services.idempotency import Idempotency, fingerprint
from server.services.lanes import choose_lane
from server.services.quota import audio_limit_seconds, charged, refund, upload_limit_bytes
from server.services.stt_requests import check_servable
from server.services.tasks import TaskService
from server.services.tts_requests import check_engine, check_script, resolve_voices
from server.settings import Settings

# Options as parsed, or a function that parses them once the source is consumed (multipart forms
# may send their text fields after the file).
T = TypeVar("T")
OptionsFrom: TypeAlias = T | Callable[[], T]


class SubmissionService:
    def __init__(
        self,
        settings: Settings,
        tasks: TaskService,
        catalog: CatalogService,
        quotas: QuotaStore,
        capabilities: Callable[[], dict[str, Any]],
        idempotency: Idempotency,
        webhook_secrets: WebhookSecrets,
        known_speakers: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        """`known_speakers(owner, ids)` raises NotFound for an id the owner has not enrolled."""
        self._settings = settings
        self._tasks = tasks
        self._catalog = catalog
        self._quotas = quotas
        self._capabilities = capabilities
        self._idempotency = idempotency
        self._secrets = webhook_secrets
        self._known_speakers = known_speakers

    async def submit_stt(
        self,
        caller: Caller,
        source: AudioSource,
        options: OptionsFrom[SttOptions],
        *,
        interactive: bool | None = None,
        idempotency_key: str | None = None,
        origin: dict[str, Any] | None = None,
        references: Callable[[], list[bytes]] | None = None,
    ) -> Task:
        """`references`: the request's own reference clips, one per `options.known_speakers` name,
        read once the source is consumed (the OpenAI form's data URLs); staged beside the input."""
        task_id = new_task_id()
        with self._tasks.staging(task_id):
            staged, info = await self._stage(caller, source, task_id)
            opts = _resolve(options)
            clips = references() if references is not None else []
            if len(clips) != len(opts.known_speakers or ()):
                raise InvalidRequest(
                    "known_speakers need as many reference clips (known_speaker_references[] of the OpenAI route)",
                    code="invalid_request",
                )
            for index, clip in enumerate(clips):
                self._tasks.artifacts.write_bytes(task_id, reference_artifact(index), clip)
            check_servable(opts, await to_thread.run_sync(self._capabilities))
            if opts.speakers and self._known_speakers is not None:
                await to_thread.run_sync(self._known_speakers, caller.owner, opts.speakers)
            seconds = math.ceil(info.duration or 0)
            lane = choose_lane(self._settings.worker, TaskKind.STT, info.duration, interactive)
            params = opts.model_dump(exclude_defaults=True)
            content = staged.sha256 + "".join(hashlib.sha256(clip).hexdigest() for clip in clips)
            claim = Claim(fingerprint(TaskKind.STT, params, content), task_id)
            async with self._idempotency.claimed(caller.owner, idempotency_key, claim) as earlier:
                if earlier is not None:
                    return self._discard(task_id, earlier)
                with charged(self._quotas, caller.owner, caller.plan, "stt_seconds", seconds) as charge:
                    return await self._record(TaskKind.STT, caller, params, task_id, lane, charge, origin)

    async def submit_tts(
        self,
        caller: Caller,
        request: TtsRequest,
        *,
        interactive: bool | None = None,
        idempotency_key: str | None = None,
        origin: dict[str, Any] | None = None,
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
        text_sha256 = hashlib.sha256(request.text.encode("utf-8")).hexdigest()
        claim = Claim(fingerprint(TaskKind.TTS, params, text_sha256), task_id)
        async with self._idempotency.claimed(caller.owner, idempotency_key, claim) as earlier:
            if earlier is not None:
                return earlier
            with (
                self._tasks.staging(task_id),
                charged(self._quotas, caller.owner, caller.plan, "tts_characters", script.spoken_chars) as charge,
            ):
                self._tasks.artifacts.write_bytes(task_id, SCRIPT_ARTIFACT, request.text.encode("utf-8"))
                return await self._record(TaskKind.TTS, caller, params, task_id, lane, charge, origin)

    async def submit_clone(
        self,
        caller: Caller,
        source: AudioSource,
        options: OptionsFrom[CloneOptions],
        *,
        idempotency_key: str | None = None,
    ) -> Task:
        limits = self._settings.clone
        task_id = new_task_id()
        with self._tasks.staging(task_id):
            staged, info = await self._stage(caller, source, task_id)
            opts = _resolve(options)
            if info.duration is not None and info.duration > limits.max_audio_s:
                # from the container's header: nothing long is decoded in vain
                raise PayloadTooLarge(
                    f"the reference lasts {info.duration:.0f} s; at most {limits.max_audio_s:.0f} s is accepted "
                    "(10-90 s of one speaker is best)",
                    code="audio_too_long",
                )
            params = opts.model_dump(exclude_defaults=True)
            claim = Claim(fingerprint(TaskKind.CLONE, params, staged.sha256), task_id)
            async with self._idempotency.claimed(caller.owner, idempotency_key, claim) as earlier:
                if earlier is not None:
                    return self._discard(task_id, earlier)
                with charged(self._quotas, caller.owner, caller.plan, "clones", 1) as charge:
                    return await self._record(TaskKind.CLONE, caller, params, task_id, TaskLane.BATCH, charge)

    async def submit_speaker(
        self,
        caller: Caller,
        params: OptionsFrom[dict[str, Any]],
        source: AudioSource | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Task:
        """A speaker task (model_store/speakers.py): `source` is the reference sample to enrol or
        add; a `learn` task has none (it reads an STT task's cluster audio)."""
        limits = self._settings.speakers
        task_id = new_task_id()
        with self._tasks.staging(task_id):
            digest = ""
            if source is not None:
                staged, info = await self._stage(caller, source, task_id)
                if info.duration is not None and info.duration > limits.max_audio_s:
                    raise PayloadTooLarge(
                        f"the sample lasts {info.duration:.0f} s; at most {limits.max_audio_s:.0f} s is accepted",
                        code="audio_too_long",
                    )
                digest = staged.sha256
            fields = _resolve(params)
            claim = Claim(fingerprint(TaskKind.SPEAKER, fields, digest), task_id)
            async with self._idempotency.claimed(caller.owner, idempotency_key, claim) as earlier:
                if earlier is not None:
                    return self._discard(task_id, earlier)
                return await self._record(TaskKind.SPEAKER, caller, fields, task_id, TaskLane.INTERACTIVE, {})

    def _discard(self, task_id: str, earlier: Task) -> Task:
        """A retry of an accepted submission: its own upload goes, the earlier task is the answer."""
        self._tasks.artifacts.remove_task(task_id)
        return earlier

    async def _stage(self, caller: Caller, source: AudioSource, task_id: str) -> tuple[StagedAudio, AudioInfo]:
        """The input on disk within the caller's upload limit, and from its container's headers
        (nothing decoded yet) audio within the caller's duration limit."""
        max_bytes = upload_limit_bytes(self._settings.max_upload_bytes, caller.plan)
        staged = await stage_audio_source(source, self._tasks.artifacts, task_id, max_bytes)
        max_seconds = audio_limit_seconds(self._settings.stt.max_duration_s, caller.plan)
        return staged, await to_thread.run_sync(check_audio, staged.path, max_seconds)

    async def _record(
        self,
        kind: TaskKind,
        caller: Caller,
        params: dict[str, Any],
        task_id: str,
        lane: TaskLane,
        charge: dict[str, int],
        origin: dict[str, Any] | None = None,
    ) -> Task:
        webhook = await to_thread.run_sync(self._webhook, caller, params.pop("callback_url", None))
        return await to_thread.run_sync(
            lambda: self._tasks.submit(
                kind,
                caller.owner,
                params,
                task_id,
                caller.plan,
                lane=lane,
                charge=charge,
                webhook=webhook,
                origin=origin,
            )
        )

    def _webhook(self, caller: Caller, callback_url: str | None) -> dict[str, Any] | None:
        key_id = caller.key_id or LOCAL_OWNER  # authentication off: one local secret
        callback_url = callback_url or self._secrets.default_url(key_id)  # the key's default, if set
        if callback_url is None:
            return None
        url = check_callback_url(callback_url, self._settings.webhooks)
        if self._secrets.get(key_id) is None:
            raise InvalidRequest(
                "this key has no webhook secret yet: create one with POST /v1/webhooks/secret "
                "(or `voice-api keys webhook-secret KEY_ID`), then submit again",
                code="webhook_secret_missing",
            )
        return {"url": url, "key_id": key_id, "attempts": 0, "last_status": None, "delivered_at": None}

    async def cancel(self, caller: Caller, task_id: str, kind: TaskKind) -> Task:
        """Cancel a queued or running task (its quota charge refunded, its files removed; a worker
        running it stops at its next progress check), or forget a finished one (its files and its
        record deleted: later requests for it get 404). Returns the task as it now stands."""
        task, canceled = await to_thread.run_sync(self._tasks.cancel, task_id, caller.owner, kind)
        if canceled:
            await to_thread.run_sync(refund, self._quotas, caller.owner, task.charge)
        return task


def _resolve(options: OptionsFrom[T]) -> T:
    return options() if callable(options) else options
