"""The project's errors in OpenAI's shape, for the /v1/audio routes.

Same statuses and codes as everywhere else (server/http/errors.py decides them); only the body
differs: {"error": {"message", "type", "param", "code"}}, so OpenAI's SDKs raise their usual classes
(AuthenticationError for 401, RateLimitError for 429, BadRequestError for 400, …).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import ValidationException

from server.http.errors import EXCEPTION_HANDLERS

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def openai_error_body(status: int, error: dict[str, Any]) -> dict[str, Any]:
    """{"code", "message", extra…} -> OpenAI's error object (the extras are kept beside)."""
    extra = {k: v for k, v in error.items() if k not in ("code", "message", "param", "field")}
    error_type = _TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    param = error.get("param") or error.get("field")
    return {
        "error": {
            "message": error.get("message"),
            "type": error_type,
            "param": param,
            "code": error.get("code"),
            **extra,
        }
    }


Handler = Callable[[Request, Any], Response]


def _reshaped(handler: Handler) -> Handler:
    def handle(request: Request, exc: Exception) -> Response:
        response = handler(request, exc)
        content = response.content
        if isinstance(content, bytes | str):
            content = json.loads(content)
        error = dict(content.get("error", {}))
        extra = exc.extra if isinstance(exc, ValidationException) else None
        if isinstance(extra, list) and extra and isinstance(extra[0], dict):
            error["param"] = extra[0].get("key")  # the first field at fault, as OpenAI names one
        return Response(
            openai_error_body(response.status_code or 500, error),
            status_code=response.status_code,
            headers=dict(response.headers),
            media_type=MediaType.JSON,
        )

    return handle


OPENAI_EXCEPTION_HANDLERS = {exc_type: _reshaped(handler) for exc_type, handler in EXCEPTION_HANDLERS.items()}
