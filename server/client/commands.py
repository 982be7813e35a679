"""`voice-api transcribe | say | clone`: the client's commands that submit tasks and wait for them.

Exit codes (server.client.errors.ExitCode): 0 ok, 1 a task failed, 2 usage, 3 authentication,
4 server unreachable or failing (5xx), 5 request refused (other 4xx), 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from server.client.errors import UsageProblem, worst
from server.client.kinds import CloneJob, SpeechJob, TranscribeJob
from server.client.listings import tasks, voices
from server.client.session import Session, client_command, job_options, print_json, run_jobs

TRANSCRIPT_FORMATS = ("srt", "vtt", "txt", "json")
AUDIO_FORMATS = ("mp3", "wav", "flac", "opus")


# transcribe ----------------------------------------------------------------------------------------


def _transcript_outputs(files: tuple[Path, ...], output: str | None, fmt: str) -> list[Path | None]:
    """Where each transcript goes: stdout for one file without -o (or -o -); else a file, or a file per
    input (STEM.FORMAT) in the -o directory (the current one by default)."""
    if len(files) == 1 and (output is None or output == "-"):
        return [None]
    if len(files) == 1 and output is not None and not Path(output).is_dir():
        return [Path(output)]
    if output == "-":
        raise UsageProblem("several files cannot all go to stdout: give -o DIRECTORY")
    folder = Path(output or ".")
    if folder.exists() and not folder.is_dir():
        raise UsageProblem(f"-o {output}: with several files, -o names a directory")
    targets: list[Path | None] = [folder / f"{path.stem}.{fmt}" for path in files]
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
@click.option(
    "--known",
    metavar="all|IDS",
    help="Name enrolled speakers (POST /v1/speakers): all, or comma-separated speaker ids.",
)
@click.option("--word-timestamps", is_flag=True, help="Words with timings in --format json.")
@click.option("-j", "--jobs", type=click.IntRange(1, 16), default=2, show_default=True, help="Files at once.")
@job_options
@client_command
def transcribe(
    session: Session, files, fmt, output, language, no_diarize, speakers, known, word_timestamps, jobs, **flags
):
    """Transcribe audio FILES to SRT, VTT, text or JSON (speakers labelled)."""
    if fmt is None:
        suffix = Path(output).suffix.lstrip(".").lower() if output and output != "-" else ""
        fmt = suffix if suffix in TRANSCRIPT_FORMATS else "txt"
    fields: dict[str, str | list[str]] = {"diarize": "false" if no_diarize else "true"}
    if language:
        fields["language"] = language
    if speakers:
        fields["num_speakers"] = str(speakers)
    if known:
        fields["speakers"] = known
    if word_timestamps:
        fields["word_timestamps"] = "true"
    if flags["callback_url"]:
        fields["callback_url"] = flags["callback_url"]
    targets = _transcript_outputs(files, output, fmt)
    work = [TranscribeJob(path, fields, fmt, target) for path, target in zip(files, targets, strict=True)]
    outcomes = run_jobs(session, work, jobs, flags["quiet"], flags["verbose"])
    for outcome in outcomes:
        if session.as_json:
            document = outcome.as_json()
            if outcome.payload is not None:
                document["transcript"] = outcome.payload
            print_json(document)
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
@job_options
@client_command
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
    [outcome] = run_jobs(session, [SpeechJob(body, target)], 1, flags["quiet"], flags["verbose"])
    if session.as_json:
        print_json(outcome.as_json())
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
@job_options
@client_command
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
    [outcome] = run_jobs(session, [CloneJob(file, fields)], 1, flags["quiet"], flags["verbose"])
    if session.as_json:
        print_json(outcome.as_json())
    elif outcome.payload is not None:
        click.echo(outcome.payload)
    return outcome.exit_code


CLIENT_COMMANDS = [transcribe, say, clone, voices, tasks]
