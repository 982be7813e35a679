"""Streaming multipart/form-data parsing: an upload as an AudioSource whose file part flows through.

Litestar's built-in form parsing reads the whole body into memory first, which is wrong for audio
uploads of hundreds of megabytes; here the `file` part's bytes are handed on as each network chunk
arrives (the submissions service writes them to disk and enforces the size limit while the body
streams: 413 the moment it is crossed), and the text fields are collected on the way. The client's
file name is kept only as metadata; it never becomes a path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from litestar import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from server.domain.errors import BadRequest, PayloadTooLarge
from server.services.audio_source import PcmFormat

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks  # a typing-only TypedDict

MAX_FIELD_BYTES = 64 * 1024  # a text field (language, title…) is never larger
_FIELDS_ALLOWANCE = MAX_FIELD_BYTES * 4  # what a body may carry beyond its file: boundaries, fields


class MultipartUpload:
    """An AudioSource over a multipart request. Read `fields` after `chunks()` is consumed: a form's
    text fields may come after its file."""

    pcm: PcmFormat | None = None  # a form carries a container file, never raw PCM

    def __init__(self, request: Request, file_field: str = "file", large_fields: dict[str, int] | None = None) -> None:
        """`large_fields`: field name -> its byte limit, for the few fields that carry data (OpenAI's
        known_speaker_references[] data URLs); every other text field keeps MAX_FIELD_BYTES."""
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        if content_type != b"multipart/form-data" or not options.get(b"boundary"):
            raise BadRequest(
                f"send the upload as multipart/form-data with a '{file_field}' part", code="unsupported_content_type"
            )
        self._request = request
        self._boundary = options[b"boundary"]
        self._sink = _PartSink(file_field, large_fields or {})
        self.name: str | None = None  # set from the file part's headers while the body streams
        declared = request.headers.get("content-length")
        allowance = _FIELDS_ALLOWANCE + sum((large_fields or {}).values())
        self.declared_bytes = int(declared) - allowance if declared and declared.isdigit() else None

    @property
    def fields(self) -> dict[str, str | list[str]]:
        return self._sink.fields

    async def chunks(self) -> AsyncIterator[bytes]:
        sink = self._sink
        parser = MultipartParser(self._boundary, callbacks=sink.callbacks())
        try:
            async for chunk in self._request.stream():
                if chunk:
                    parser.write(chunk)
                    if sink.pending:
                        yield b"".join(sink.pending)
                        sink.pending.clear()
            parser.finalize()
        except (BadRequest, PayloadTooLarge):
            raise
        except Exception as exc:  # python-multipart's parse errors, a client that hung up
            raise BadRequest("the multipart body is malformed or incomplete", code="malformed_multipart") from exc
        if not sink.complete:  # python-multipart does not check this itself: a cut-off upload
            raise BadRequest("the multipart body ends before its closing boundary", code="malformed_multipart")
        if not sink.has_file:
            raise BadRequest(f"the '{sink.file_field}' file part is missing", code="missing_file")
        self.name = sink.filename


class _PartSink:
    """python-multipart callbacks, routing each part to a field buffer or the pending file bytes."""

    def __init__(self, file_field: str, large_fields: dict[str, int]) -> None:
        self.file_field = file_field
        self._limits = large_fields
        self.fields: dict[str, str | list[str]] = {}  # a repeated field becomes a list
        self.filename: str | None = None
        self.pending: list[bytes] = []  # file bytes parsed from the current network chunk
        self.has_file = False
        self.complete = False  # set when the closing boundary arrives
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name: str | None = None
        self._is_file = False
        self._buffer = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

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
            if self.has_file:
                raise BadRequest(f"only one '{self.file_field}' part is accepted")
            self._is_file = self.has_file = True
            self.filename = options[b"filename"].decode("utf-8", "replace")[:255]

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.pending.append(data[start:end])
        else:
            self._buffer += data[start:end]
            if len(self._buffer) > self._limits.get(self._name or "", MAX_FIELD_BYTES):
                raise BadRequest(f"form field {self._name!r} is too large")

    def on_part_end(self) -> None:
        if not self._is_file and self._name:
            try:
                value = self._buffer.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadRequest(f"form field {self._name!r} is not valid UTF-8") from exc
            if self._name in self.fields:
                previous = self.fields[self._name]
                self.fields[self._name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                self.fields[self._name] = value
