"""What every client command shares: the connection options, the session (config, HTTP client), turning
errors and Ctrl-C into messages and exit codes, and running jobs with progress."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from server.client.api import VoiceApiClient
from server.client.config import KEY_ENV, ClientConfig, config_path, resolve
from server.client.display import Display
from server.client.errors import ApiError, ClientError, ExitCode, ServerUnreachable
from server.client.jobs import Job, Outcome, Runner


def connection_options(command: Callable) -> Callable:
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


def job_options(command: Callable) -> Callable:
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
    return connection_options(command)


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


def client_command(action: Callable[..., int]) -> Callable[..., None]:
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
        except BrokenPipeError:
            # `voice-api transcribe … | head`: the reader left. Point stdout at /dev/null so the interpreter's
            # final flush does not print a traceback, and end as a command killed by SIGPIPE does.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = 128 + 13
        finally:
            if session:
                session.client.close()
        sys.exit(int(code))

    return run


def run_jobs(session: Session, jobs: Sequence[Job], concurrency: int, quiet: bool, verbose: bool) -> list[Outcome]:
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
    error = outcome.error or {"code": "unknown", "message": "the task did not succeed"}
    code, message = error["code"], error["message"]
    if outcome.exit_code == ExitCode.AUTH:
        return ApiError(401 if code in ("missing_api_key", "invalid_api_key") else 403, code, message)
    if code == "server_unreachable":
        return ServerUnreachable(message)
    return ClientError(message, code)


def print_json(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, default=str))
