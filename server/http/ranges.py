"""Serving a stored file with HTTP Range support (206), so browsers and players can seek."""

from __future__ import annotations

import re
from pathlib import Path

from litestar import Response
from litestar.response import File

from server.http.errors import error_response

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for one satisfiable range; None for a header we ignore (multiple
    ranges, other units: RFC 9110 lets a server answer those with the whole file).
    Raises ValueError when the range cannot be satisfied (416)."""
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ValueError("range starts past the end")
    return start, end


def file_response(path: Path, media_type: str, filename: str, range_header: str | None) -> Response:
    size = path.stat().st_size
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"', "Accept-Ranges": "bytes"}
    try:
        byte_range = parse_range(range_header, size) if range_header else None
    except ValueError:
        response = error_response(416, "range_not_satisfiable", f"the file has {size} bytes")
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    if byte_range is None:
        return File(
            path=path,
            media_type=media_type,
            filename=filename,
            headers=disposition,
            content_disposition_type="attachment",
        )
    start, end = byte_range
    with open(path, "rb") as fh:
        fh.seek(start)
        body = fh.read(end - start + 1)
    return Response(
        body,
        status_code=206,
        media_type=media_type,
        headers={**disposition, "Content-Range": f"bytes {start}-{end}/{size}"},
    )
