"""The HTTP calls of the /v1 API, and nothing else: every other module of the client goes through here."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from server.client.config import ClientConfig
from server.client.errors import ApiError, ClientError, ServerUnreachable

KINDS = ("stt", "tts", "clone")
TERMINAL_STATUSES = {"succeeded", "failed", "canceled"}


class Stopped(Exception):
    """Raised inside an upload or a download when the user interrupted: it abandons the transfer."""


class _WatchedFile:
    """A file httpx reads for a multipart upload, reporting bytes sent and stopping on request.
    fileno/seek/tell are delegated so httpx can still compute the Content-Length."""

    def __init__(self, file: BinaryIO, on_bytes: Callable[[int], None], stopped: Callable[[], bool]) -> None:
        self._file, self._on_bytes, self._stopped = file, on_bytes, stopped

    def read(self, size: int = -1) -> bytes:
        if self._stopped():
            raise Stopped
        chunk = self._file.read(size)
        self._on_bytes(len(chunk))
        return chunk

    def fileno(self) -> int:
        return self._file.fileno()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


def _never() -> bool:
    return False


def _idempotent(key: str | None) -> dict[str, str]:
    """The same key on every attempt of one submission: a server with Idempotency-Key support returns
    the first task to a retry instead of creating (and charging) a second."""
    return {"Idempotency-Key": key} if key else {}


class VoiceApiClient:
    """One connection pool to a server, safe to share between the threads of several jobs."""

    def __init__(self, config: ClientConfig, timeout_s: float = 60.0, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"User-Agent": "voice-api-cli"}
        if config.key:
            headers["Authorization"] = f"Bearer {config.key}"
        self._http = httpx.Client(
            base_url=f"{config.server}/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.config.server}: {exc or type(exc).__name__}") from exc
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(f"{method} {path}: the server's answer is not JSON", "bad_response") from exc

    # submissions ---------------------------------------------------------------------------------

    def submit_upload(
        self,
        kind: str,
        path: Path,
        fields: dict[str, str | list[str]],
        on_bytes: Callable[[int], None] = lambda _: None,
        stopped: Callable[[], bool] = _never,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """POST a file to /v1/stt or /v1/clone as multipart; the task document (202)."""
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with open(path, "rb") as fh:
            files = {"file": (path.name, _WatchedFile(fh, on_bytes, stopped), media_type)}
            return self._json("POST", f"/{kind}", files=files, data=fields, headers=_idempotent(idempotency_key))

    def submit_tts(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        return self._json("POST", "/tts", json=body, headers=_idempotent(idempotency_key))

    # following a task ----------------------------------------------------------------------------

    def status(self, kind: str, task_id: str) -> dict[str, Any]:
        return self._json("GET", f"/{kind}/{task_id}")

    def cancel(self, kind: str, task_id: str) -> dict[str, Any]:
        """DELETE /v1/{kind}/{id}: 200 with the task document (status "canceled") on servers that cancel."""
        return self._json("DELETE", f"/{kind}/{task_id}")

    def transcript(self, task_id: str, fmt: str) -> str | dict[str, Any]:
        """The transcript: a dict for json, else the text of srt, vtt or txt."""
        if fmt == "json":
            return self._json("GET", f"/stt/{task_id}/result")
        query = {"format": "text" if fmt == "txt" else fmt}
        return self._send("GET", f"/stt/{task_id}/result", params=query).text

    def download_audio(
        self, task_id: str, on_bytes: Callable[[int, int | None], None], stopped: Callable[[], bool] = _never
    ) -> Iterator[bytes]:
        """The synthesised audio in chunks; on_bytes(received, total or None) after each."""
        try:
            with self._http.stream("GET", f"/tts/{task_id}/audio") as response:
                if response.is_error:
                    response.read()
                    raise ApiError.from_response(response)
                total = int(response.headers["content-length"]) if "content-length" in response.headers else None
                received = 0
                for chunk in response.iter_bytes():
                    if stopped():
                        raise Stopped
                    received += len(chunk)
                    on_bytes(received, total)
                    yield chunk
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.config.server}: {exc or type(exc).__name__}") from exc

    # catalog and listings ------------------------------------------------------------------------

    def voices(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._json("GET", "/models", params=params)

    def tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v1/tasks: {"items": [task documents], "next_cursor": str | null}."""
        return self._json("GET", "/tasks", params=params)
