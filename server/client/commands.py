"""`voice-api transcribe | say | clone | voices | tasks`: the client's commands.

Exit codes (server.client.errors.ExitCode): 0 ok, 1 a task failed, 2 usage, 3 authentication,
4 server unreachable or failing (5xx), 5 request refused (other 4xx), 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from server.client.api import VoiceApiClient
from server.client.config import KEY_ENV, ClientConfig, config_path, resolve
from server.client.display import Display, print_table
from server.client.errors import ApiError, ClientError, ExitCode, ServerUnreachable, UsageProblem, worst
from server.client.jobs import Job, Outcome, Runner
from server.client.kinds import CloneJob, SpeechJob, TranscribeJob

TRANSCRIPT_FORMATS = ("srt", "vtt", "txt", "json")
AUDIO_FORMATS = ("mp3", "wav", "flac", "opus")
TASK_STATUSES = ("queued", "running", "succeeded", "failed", "canceled")


def _connection_options(command: Callable) -> Callable:
    options = [
        click.option("--server", metavar="URL", help="Server URL (else $VOICE_API_URL, the config file, or local)."),
        click.option(
            "--key", metavar="KEY", help=f"API key (else ${KEY_ENV} or the config file, which keep it out of ps)."
        ),
        click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout, for scripts."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _job_options(command: Callable) -> Callable:
    options = [
        click.option(
            "--callback-url",
            metavar="URL",
            help="The server POSTs the finished task here (a webhook; servers that support callback_url).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bars, even on a terminal."),
        click.option("-v", "--verbose", is_flag=True, help="Name each input's task id on stderr."),
    ]
    for option in reversed(options):
        command = option(command)
    return _connection_options(command)


class Session:
    """What every command needs: the resolved config, one HTTP client, the user's stderr."""

    def __init__(self, server: str | None, key: str | None, as_json: bool) -> None:
        self.as_json = as_json
        self.config: ClientConfig = resolve(server, key)
        self.client = VoiceApiClient(self.config)

    def explain(self, exc: ClientError) -> str:
        """The error in words that say what to do next."""
        if isinstance(exc, ApiError) and exc.status == 401:
            if self.config.key is None:
                return (
                    f"the server needs an API key ({exc.code}): pass --key, set {KEY_ENV}, "
                    f'or put key = "va_…" in {config_path()}'
                )
            return f"the server refused the API key from {self.config.key_source} ({exc.code}: {exc.message})"
        if isinstance(exc, ApiError) and exc.status == 403:
            return f"this key is not allowed to do that ({exc.code}: {exc.message})"
        if isinstance(exc, ServerUnreachable):
            return f"{exc.message}. Is the server running? (--server, VOICE_API_URL or server = … in the config file)"
        if isinstance(exc, ApiError):
            return f"{exc.message} ({exc.status} {exc.code})"
        return exc.message


def _command(action: Callable[..., int]) -> Callable[..., None]:
    """Run a command body, turning ClientError and Ctrl-C into a message and an exit code."""

    @functools.wraps(action)
    def run(server: str | None, key: str | None, as_json: bool, **kwargs: Any) -> None:
        # httpx logs every request at INFO: noise for a person, and it would interleave with the bars.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        display = Display(show_progress=False)
        session: Session | None = None
        try:
            session = Session(server, key, as_json)
            code = action(session, **kwargs)
        except ClientError as exc:
            message = session.explain(exc) if session else exc.message
            display.error(message)
            if as_json:
                click.echo(json.dumps({"error": {"code": exc.code, "message": message}}))
            code = exc.exit_code
        except KeyboardInterrupt:
            display.error("interrupted")
            code = ExitCode.INTERRUPTED
        finally:
            if session:
                session.client.close()
        sys.exit(int(code))

    return run


def _run_jobs(session: Session, jobs: list[Job], concurrency: int, quiet: bool, verbose: bool) -> list[Outcome]:
    display = Display(show_progress=False if quiet else None)
    with display:
        outcomes = Runner(session.client, display, concurrency, verbose=verbose).run(jobs)
    for outcome in outcomes:
        if outcome.error and outcome.status != "interrupted":
            failure = (
                ClientError(outcome.error["message"], outcome.error["code"])
                if outcome.status in ("failed", "canceled")
                else _as_client_error(outcome)
            )
            display.error(f"{outcome.label}: {session.explain(failure)}")
    return outcomes


def _as_client_error(outcome: Outcome) -> ClientError:
    """Rebuild the error of an outcome so Session.explain can word it (auth hints, unreachable hints)."""
    code, message = outcome.error["code"], outcome.error["message"]
    if outcome.exit_code == ExitCode.AUTH:
        return ApiError(401 if code in ("missing_api_key", "invalid_api_key") else 403, code, message)
    if code == "server_unreachable":
        return ServerUnreachable(message)
    return ClientError(message, code)


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, default=str))


# transcribe ----------------------------------------------------------------------------------------


def _transcript_outputs(files: tuple[Path, ...], output: str | None, fmt: str) -> list[Path | None]:
    """Where each transcript goes: stdout for one file without -o (or -o -); else a file, or a file per
    input (STEM.FORMAT) in the -o directory (the current one by default)."""
    if len(files) == 1 and output in (None, "-"):
        return [None]
    if len(files) == 1 and not Path(output).is_dir():
        return [Path(output)]
    if output == "-":
        raise UsageProblem("several files cannot all go to stdout: give -o DIRECTORY")
    folder = Path(output or ".")
    if folder.exists() and not folder.is_dir():
        raise UsageProblem(f"-o {output}: with several files, -o names a directory")
    targets = [folder / f"{path.stem}.{fmt}" for path in files]
    if len(set(targets)) < len(targets):
        raise UsageProblem("two inputs would write the same output file (same name in different folders)")
    return targets


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(TRANSCRIPT_FORMATS), help="Default: the extension of -o, else txt.")
@click.option("-o", "--output", metavar="PATH", help="File (one input) or directory (several); - for stdout.")
@click.option("--language", help="ISO 639-1 code; default: detected, or the model's only language.")
@click.option("--no-diarize", is_flag=True, help="Do not label speakers.")
@click.option("--speakers", type=click.IntRange(1, 20), help="The exact number of speakers, when known.")
@click.option("--word-timestamps", is_flag=True, help="Words with timings in --format json.")
@click.option("-j", "--jobs", type=click.IntRange(1, 16), default=2, show_default=True, help="Files at once.")
@_job_options
@_command
def transcribe(session: Session, files, fmt, output, language, no_diarize, speakers, word_timestamps, jobs, **flags):
    """Transcribe audio FILES to SRT, VTT, text or JSON (speakers labelled)."""
    if fmt is None:
        suffix = Path(output).suffix.lstrip(".").lower() if output and output != "-" else ""
        fmt = suffix if suffix in TRANSCRIPT_FORMATS else "txt"
    fields: dict[str, str | list[str]] = {"diarize": "false" if no_diarize else "true"}
    if language:
        fields["language"] = language
    if speakers:
        fields["num_speakers"] = str(speakers)
    if word_timestamps:
        fields["word_timestamps"] = "true"
    if flags["callback_url"]:
        fields["callback_url"] = flags["callback_url"]
    targets = _transcript_outputs(files, output, fmt)
    work = [TranscribeJob(path, fields, fmt, target) for path, target in zip(files, targets, strict=True)]
    outcomes = _run_jobs(session, work, jobs, flags["quiet"], flags["verbose"])
    for outcome in outcomes:
        if session.as_json:
            document = outcome.as_json()
            if outcome.payload is not None:
                document["transcript"] = outcome.payload
            _print_json(document)
        elif outcome.payload is not None:
            payload = outcome.payload
            text = json.dumps(payload, ensure_ascii=False, indent=2) if isinstance(payload, dict) else payload
            click.echo(text.rstrip("\n"))
    return worst([outcome.exit_code for outcome in outcomes])


# say -------------------------------------------------------------------------------------------------


@click.command()
@click.argument("text", required=False)
@click.option(
    "--file", "script", type=click.Path(exists=True, dir_okay=False, allow_dash=True), help="The script (- = stdin)."
)
@click.option("--voice", "voices", multiple=True, metavar="ID", help="Voice model id; repeat: <|speaker:N|> picks.")
@click.option("--format", "fmt", type=click.Choice(AUDIO_FORMATS), help="Default: the extension of -o, else mp3.")
@click.option("--speed", type=click.FloatRange(0.5, 2.0), help="Speaking rate (1.0 = normal).")
@click.option("--language", help="Language hint for multilingual voices.")
@click.option("-o", "--output", metavar="FILE", help="Where to write the audio; - for stdout.")
@_job_options
@_command
def say(session: Session, text, script, voices, fmt, speed, language, output, **flags):
    """Synthesise TEXT (or a script: --file, or stdin) to audio; <|speaker:N|> markers and [cues] work."""
    if text is not None and script is not None:
        raise UsageProblem("give the text or --file SCRIPT, not both")
    if text is None and script is None and sys.stdin.isatty():
        raise UsageProblem('give the text, --file SCRIPT, or pipe the script in: voice-api say "Hello" -o hello.mp3')
    if text is None:
        text = Path(script).read_text(encoding="utf-8") if script not in (None, "-") else sys.stdin.read()
    if not text.strip():
        raise UsageProblem("the script is empty")
    if output is None and sys.stdout.isatty():
        raise UsageProblem("give -o FILE (audio is not written to a terminal)")
    if output in (None, "-") and session.as_json:
        raise UsageProblem("--json prints a report on stdout: give -o FILE for the audio")
    target = None if output in (None, "-") else Path(output)
    if fmt is None:
        suffix = target.suffix.lstrip(".").lower() if target else ""
        fmt = suffix if suffix in AUDIO_FORMATS else "mp3"
    body: dict[str, Any] = {"text": text, "model_ids": list(voices), "format": fmt}
    if speed is not None:
        body["speed"] = speed
    if language:
        body["language"] = language
    if flags["callback_url"]:
        body["callback_url"] = flags["callback_url"]
    [outcome] = _run_jobs(session, [SpeechJob(body, target)], 1, flags["quiet"], flags["verbose"])
    if session.as_json:
        _print_json(outcome.as_json())
    elif outcome.payload is not None:
        sys.stdout.buffer.write(outcome.payload)
        sys.stdout.buffer.flush()
    return outcome.exit_code


# clone -----------------------------------------------------------------------------------------------


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="Name of the new voice in the catalog.")
@click.option("--description", default="", help="Free text shown in the catalog.")
@click.option("--tags", multiple=True, help="Comma-separated or repeated.")
@click.option("--language", "languages", multiple=True, help="Languages the voice is for; repeatable.")
@click.option("--transcript", help="What is said in the clip, if known.")
@click.option("--public", is_flag=True, help="Every API user may use the voice (default: only you).")
@_job_options
@_command
def clone(session: Session, file, title, description, tags, languages, transcript, public, **flags):
    """Create a voice from a reference clip of one speaker; prints the new voice's model id."""
    fields: dict[str, str | list[str]] = {"title": title, "visibility": "public" if public else "private"}
    if description:
        fields["description"] = description
    if tags:
        fields["tags"] = list(tags)
    if languages:
        fields["languages"] = list(languages)
    if transcript:
        fields["transcript"] = transcript
    if flags["callback_url"]:
        fields["callback_url"] = flags["callback_url"]
    [outcome] = _run_jobs(session, [CloneJob(file, fields)], 1, flags["quiet"], flags["verbose"])
    if session.as_json:
        _print_json(outcome.as_json())
    elif outcome.payload is not None:
        click.echo(outcome.payload)
    return outcome.exit_code


# voices and tasks ------------------------------------------------------------------------------------


@click.command()
@click.option("--search", help="Fuzzy title search (typos and partial words match).")
@click.option("--tag", "tags", multiple=True, help="Repeatable; all must match.")
@click.option("--language", "languages", multiple=True, help="Repeatable; all must match.")
@click.option("--mine", is_flag=True, help="Only your own voices.")
@click.option("--sort", type=click.Choice(["score", "task_count", "created_at"]), default="score", show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 100), default=20, show_default=True)
@_connection_options
@_command
def voices(session: Session, search, tags, languages, mine, sort, page, page_size):
    """List the voices you can use (built-in and cloned)."""
    params: dict[str, Any] = {"page_size": page_size, "page_number": page, "sort_by": sort}
    if search:
        params["title"] = search
    if tags:
        params["tag"] = list(tags)
    if languages:
        params["language"] = list(languages)
    if mine:
        params["self"] = "true"
    listing = session.client.voices(params)
    if session.as_json:
        _print_json(listing)
        return ExitCode.OK
    rows = [
        [
            item["id"],
            item["title"],
            ",".join(item.get("languages", [])),
            ",".join(item.get("tags", [])),
            item.get("visibility", ""),
            item.get("engine", ""),
        ]
        for item in listing["items"]
    ]
    print_table(["ID", "TITLE", "LANGUAGES", "TAGS", "VISIBILITY", "ENGINE"], rows, "No voices match.")
    if listing.get("has_more"):
        Display(show_progress=False).note(f"{listing['total']} in all; next: --page {page + 1}")
    return ExitCode.OK


@click.command()
@click.option("--kind", type=click.Choice(["stt", "tts", "clone"]), help="Only tasks of this kind.")
@click.option("--status", type=click.Choice(TASK_STATUSES), help="Only tasks in this status.")
@click.option("--page-size", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", help="Continue a listing where the previous page ended.")
@click.option("--all", "follow", is_flag=True, help="Follow the cursors to the last page.")
@_connection_options
@_command
def tasks(session: Session, kind, status, page_size, cursor, follow):
    """List your tasks, newest first."""
    params: dict[str, Any] = {"page_size": page_size}
    if kind:
        params["kind"] = kind
    if status:
        params["status"] = status
    items: list[dict[str, Any]] = []
    while True:
        if cursor:
            params["cursor"] = cursor
        try:
            page = session.client.tasks(params)
        except ApiError as exc:
            if exc.status in (404, 405):
                raise ClientError(
                    f"this server does not list tasks (GET /v1/tasks answered {exc.status}): it predates task "
                    "listing; upgrade the server",
                    "tasks_unsupported",
                ) from exc
            raise
        items.extend(page.get("items", []))
        cursor = page.get("next_cursor")
        if not (follow and cursor):
            break
    if session.as_json:
        _print_json({"items": items, "next_cursor": cursor})
        return ExitCode.OK
    rows = [
        [
            str(item.get("task_id", "")),
            str(item.get("kind", "")),
            str(item.get("status", "")),
            f"{item.get('progress', 0)}%",
            str(item.get("created_at", ""))[:19].replace("T", " "),
            (item.get("error") or {}).get("code", ""),
        ]
        for item in items
    ]
    print_table(["TASK ID", "KIND", "STATUS", "PROGRESS", "CREATED (UTC)", "ERROR"], rows, "No tasks.")
    if cursor:
        Display(show_progress=False).note(f"more: voice-api tasks --cursor {cursor}")
    return ExitCode.OK


CLIENT_COMMANDS = [transcribe, say, clone, voices, tasks]
