"""/v1/audio: OpenAI-compatible speech, transcription and translation over ordinary tasks.

Each route submits a task through the submissions service (quotas, limits, usage and metrics as for
/v1/tts and /v1/stt, where the task stays visible) and answers as the task's output is made. A
client that goes away stops only its own response: the task runs on and keeps its result.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import JSONBody
from litestar.response import Stream

from server.auth.caller import Caller
from server.domain.stt_options import SttOptions
from server.domain.transcript_formats import OPENAI_FORMATS
from server.domain.tts_artifacts import AUDIO_FORMATS
from server.http.identity import COUNTS
from server.http.multipart import MultipartUpload
from server.http.openai.errors import OPENAI_EXCEPTION_HANDLERS
from server.http.openai.events import speech_events, transcript_events
from server.http.openai.speech import SpeechRequest, plan_speech
from server.http.openai.sse import SSE_HEADERS
from server.http.openai.transcription import MAX_REFERENCE_BYTES, REFERENCES, TranscriptionForm, parse_form
from server.http.openapi_docs import AUDIO_FILE, multipart_operation
from server.services.submissions import SubmissionService
from server.services.task_output import finished_transcript, first_then_rest, follow_audio
from server.services.tasks import TaskService
from server.settings import Settings

_STRING = Schema(type=OpenAPIType.STRING)
_FORM_FIELDS = {
    "file": AUDIO_FILE,
    "model": Schema(type=OpenAPIType.STRING, description="Recorded; the server's own Whisper model transcribes"),
    "language": _STRING,
    "prompt": Schema(type=OpenAPIType.STRING, description="Whisper's initial prompt: names, spellings, context"),
    "temperature": Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=1),
    "response_format": Schema(type=OpenAPIType.STRING, enum=list(OPENAI_FORMATS)),
    "timestamp_granularities[]": Schema(
        type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING, enum=["word", "segment"])
    ),
    "stream": Schema(type=OpenAPIType.BOOLEAN),
    "known_speaker_names[]": Schema(
        type=OpenAPIType.ARRAY,
        items=_STRING,
        max_items=4,
        description="diarized_json: names of the speakers whose reference clips follow, in the same order",
    ),
    "known_speaker_references[]": Schema(
        type=OpenAPIType.ARRAY,
        items=_STRING,
        max_items=4,
        description="diarized_json: 2-10 s of each known speaker, as data URLs (data:audio/wav;base64,…)",
    ),
}
TranscriptionUpload = multipart_operation(_FORM_FIELDS, required=["file", "model"])
TranslationUpload = multipart_operation(
    {
        k: v
        for k, v in _FORM_FIELDS.items()
        if k
        not in (
            "language",
            "timestamp_granularities[]",
            "stream",
            "known_speaker_names[]",
            "known_speaker_references[]",
        )
    },
    required=["file", "model"],
)


class OpenAiAudioController(Controller):
    path = "/audio"
    tags = ["openai"]
    exception_handlers = OPENAI_EXCEPTION_HANDLERS

    @post("/speech", status_code=200, opt={COUNTS: True}, summary="OpenAI-compatible speech (streams as it is made)")
    async def speech(
        self,
        data: JSONBody[SpeechRequest],
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        submissions: NamedDependency[SubmissionService],
        tasks: NamedDependency[TaskService],
    ) -> Stream:
        plan = plan_speech(data, settings)
        task = await submissions.submit_tts(caller, plan.request, origin=plan.origin, engine=plan.engine)
        chunks = await first_then_rest(follow_audio(tasks, task.id, caller.owner))  # a failure before audio: an error
        headers = {**plan.headers, "X-Task-Id": task.id}
        if data.stream_format == "sse":
            return Stream(
                speech_events(chunks, len(data.input)),
                media_type="text/event-stream",
                headers={**headers, **SSE_HEADERS},
            )
        return Stream(chunks, media_type=AUDIO_FORMATS[data.response_format].media_type, headers=headers)

    @post(
        "/transcriptions",
        operation_class=TranscriptionUpload,
        status_code=200,
        request_max_body_size=None,
        opt={COUNTS: True},
        summary="OpenAI-compatible transcription",
    )
    async def transcriptions(
        self,
        request: Request,
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        submissions: NamedDependency[SubmissionService],
        tasks: NamedDependency[TaskService],
    ) -> Response | Stream:
        return await _transcribe(request, caller, settings, submissions, tasks, translate=False)

    @post(
        "/translations",
        operation_class=TranslationUpload,
        status_code=200,
        request_max_body_size=None,
        opt={COUNTS: True},
        summary="OpenAI-compatible translation to English",
    )
    async def translations(
        self,
        request: Request,
        caller: NamedDependency[Caller],
        settings: NamedDependency[Settings],
        submissions: NamedDependency[SubmissionService],
        tasks: NamedDependency[TaskService],
    ) -> Response | Stream:
        return await _transcribe(request, caller, settings, submissions, tasks, translate=True)


async def _transcribe(
    request: Request,
    caller: Caller,
    settings: Settings,
    submissions: SubmissionService,
    tasks: TaskService,
    translate: bool,
) -> Response | Stream:
    upload = MultipartUpload(request, large_fields={REFERENCES: MAX_REFERENCE_BYTES})
    forms: list[TranscriptionForm] = []
    origin = {"api": "openai"}  # completed from the form, which is read once the file part has passed

    def options() -> SttOptions:
        forms.append(parse_form(upload.fields, translate))
        origin.update(forms[0].origin)
        return forms[0].options

    task = await submissions.submit_stt(
        caller, upload, options, origin=origin, references=lambda: list(forms[0].references)
    )
    form, task_name = forms[0], "translate" if translate else "transcribe"
    headers = {"X-Task-Id": task.id}
    timeout = settings.openai.transcription_timeout_s
    if form.stream and not translate:
        events = transcript_events(tasks, task.id, caller.owner, form, timeout)
        return Stream(events, media_type="text/event-stream", headers={**headers, **SSE_HEADERS})
    result = await finished_transcript(tasks, task.id, caller.owner, timeout)
    body, media_type = form.render(result, task_name)
    return Response(body, media_type=media_type, headers=headers)
