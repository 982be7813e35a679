"""Streaming multipart/form-data parsing: the file part goes straight to disk, counted as it flows.

Litestar's built-in form parsing reads the whole body into memory first, which is wrong for audio
uploads of hundreds of megabytes; here memory stays at one network chunk and the size limit is
enforced while the body streams in (413 the moment it is crossed, nothing buffered beyond it).
The client's file name is kept only as metadata; it never becomes a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from litestar import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from server.domain.artifacts import ArtifactStore
from server.domain.errors import BadRequest, PayloadTooLarge

MAX_FIELD_BYTES = 64 * 1024  # a text field (language, title…) is never larger


@dataclass
class StagedUpload:
    fields: dict[str, str | list[str]] = field(default_factory=dict)  # a repeated field becomes a list
    path: Path | None = None  # the committed file, named by us
    filename: str | None = None  # client-supplied, metadata only
    content_type: str | None = None
    size: int = 0


class _PartSink:
    """python-multipart callbacks, routing each part to a field buffer or the staging file."""

    def __init__(self, file_field: str, max_bytes: int, open_file) -> None:
        self.file_field = file_field
        self.max_bytes = max_bytes
        self._open_file = open_file
        self.result = StagedUpload()
        self.file: BinaryIO | None = None
        self.tmp: Path | None = None
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name: str | None = None
        self._is_file = False
        self._buffer = bytearray()
        self.complete = False  # set when the closing boundary arrives

    def on_end(self) -> None:
        self.complete = True

    def on_part_begin(self) -> None:
        self._headers = {}
        self._name, self._is_file, self._buffer = None, False, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._name = name
        if name == self.file_field and b"filename" in options:
            if self.file is not None:
                raise BadRequest(f"only one '{self.file_field}' part is accepted")
            self._is_file = True
            self.result.filename = options[b"filename"].decode("utf-8", "replace")[:255]
            self.result.content_type = self._headers.get(b"content-type", b"").decode("latin-1") or None
            self.file, self.tmp = self._open_file()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._is_file:
            self.result.size += len(chunk)
            if self.result.size > self.max_bytes:
                raise PayloadTooLarge(
                    f"the upload exceeds the {self.max_bytes / 1_000_000:.0f} MB limit",
                    code="upload_too_large",
                )
            self.file.write(chunk)  # type: ignore[union-attr]
        else:
            self._buffer += chunk
            if len(self._buffer) > MAX_FIELD_BYTES:
                raise BadRequest(f"form field {self._name!r} is too large")

    def on_part_end(self) -> None:
        if not self._is_file and self._name:
            try:
                value = self._buffer.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadRequest(f"form field {self._name!r} is not valid UTF-8") from exc
            fields = self.result.fields
            if self._name in fields:
                previous = fields[self._name]
                fields[self._name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                fields[self._name] = value


async def stage_multipart(
    request: Request, artifacts: ArtifactStore, task_id: str, *, file_field: str, max_bytes: int
) -> StagedUpload:
    """Parse the request body, writing the `file_field` part to the task's input artifact."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise BadRequest("send the upload as multipart/form-data with a 'file' part", code="unsupported_content_type")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MAX_FIELD_BYTES * 4:
        raise PayloadTooLarge(f"the upload exceeds the {max_bytes / 1_000_000:.0f} MB limit", code="upload_too_large")

    sink = _PartSink(file_field, max_bytes, lambda: artifacts.open_staging(task_id))
    parser = MultipartParser(
        options[b"boundary"],
        callbacks={
            name: getattr(sink, name)
            for name in (
                "on_part_begin",
                "on_part_data",
                "on_part_end",
                "on_header_field",
                "on_header_value",
                "on_header_end",
                "on_headers_finished",
                "on_end",
            )
        },
    )
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
        if not sink.complete:  # python-multipart does not check this itself: a cut-off upload
            raise BadRequest("the multipart body ends before its closing boundary", code="malformed_multipart")
    except (BadRequest, PayloadTooLarge):
        _discard(sink)
        raise
    except Exception as exc:  # python-multipart's parse errors, a client that hung up
        _discard(sink)
        raise BadRequest("the multipart body is malformed or incomplete", code="malformed_multipart") from exc
    if sink.file is None:
        raise BadRequest(f"the '{file_field}' file part is missing", code="missing_file")
    sink.file.close()
    sink.result.path = artifacts.commit(sink.tmp, task_id, artifacts.INPUT)  # type: ignore[arg-type]
    return sink.result


def _discard(sink: _PartSink) -> None:
    if sink.file is not None:
        sink.file.close()
    if sink.tmp is not None:
        sink.tmp.unlink(missing_ok=True)


async def stage_audio(request: Request, services, plan, task_id: str) -> tuple[StagedUpload, object]:
    """The common first step of audio routes: stream the `file` part to disk within the caller's
    upload limit, then check from the container's headers that it is audio within the caller's
    duration limit.
    Returns the upload (with its text fields) and the AudioInfo."""
    from anyio import to_thread

    from server.services.audio_check import check_audio
    from server.services.quota import audio_limit_seconds, upload_limit_bytes

    upload = await stage_multipart(
        request,
        services.tasks.artifacts,
        task_id,
        file_field="file",
        max_bytes=upload_limit_bytes(services.settings.max_upload_bytes, plan),
    )
    max_seconds = audio_limit_seconds(services.settings.stt.max_duration_s, plan)
    info = await to_thread.run_sync(check_audio, upload.path, max_seconds)
    return upload, info
