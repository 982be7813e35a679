"""What can go wrong for a client, each with the exit code scripts test."""

from __future__ import annotations

from enum import IntEnum

import httpx


class ExitCode(IntEnum):
    OK = 0
    TASK_FAILED = 1  # the server ran the task and it failed (or someone else cancelled it)
    USAGE = 2  # bad flags or arguments, a missing input file (click uses 2 as well)
    AUTH = 3  # no key, a wrong or revoked key, or a key not allowed to do this (401/403)
    UNREACHABLE = 4  # no connection, a timeout, or the server answered 5xx
    REFUSED = 5  # the server refused the request (4xx: too large, bad audio, not found, rate limited…)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class ClientError(Exception):
    """An error reported to the user as one line, with a code for --json and an exit code."""

    exit_code: ExitCode = ExitCode.REFUSED

    def __init__(self, message: str, code: str = "client_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class UsageProblem(ClientError):
    exit_code = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message, "usage")


class ServerUnreachable(ClientError):
    exit_code = ExitCode.UNREACHABLE

    def __init__(self, message: str) -> None:
        super().__init__(message, "server_unreachable")


class Interrupted(ClientError):
    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str = "interrupted") -> None:
        super().__init__(message, "interrupted")


class TaskFailed(ClientError):
    exit_code = ExitCode.TASK_FAILED


class ApiError(ClientError):
    """The server answered with an error status; its `{"error": {"code", "message"}}` is kept."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code)
        self.status = status
        if status in (401, 403):
            self.exit_code = ExitCode.AUTH
        elif status >= 500:
            self.exit_code = ExitCode.UNREACHABLE

    @staticmethod
    def from_response(response: httpx.Response) -> ApiError:
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = f"http_{response.status_code}", response.text.strip()[:200] or response.reason_phrase
        if response.status_code == 429 and (retry := response.headers.get("retry-after")):
            message = f"{message} (retry after {retry} s)"
        return ApiError(response.status_code, code, message)


def worst(codes: list[int]) -> int:
    """One exit code for several inputs: interrupted wins, else the first failure in input order."""
    if ExitCode.INTERRUPTED in codes:
        return ExitCode.INTERRUPTED
    return next((code for code in codes if code != ExitCode.OK), ExitCode.OK)
