"""Maps every exception to the one error body: {"error": {"code", "message", ...}}.

This is the only place where errors become HTTP. Stack traces never reach the client.
"""

from __future__ import annotations

import logging

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.domain.errors import ServiceError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "service_unavailable",
}


def error_response(http_status: int, code: str, message: str, **details: object) -> Response:
    return Response(
        {"error": {"code": code, "message": message, **details}},
        status_code=http_status,
        media_type=MediaType.JSON,
    )


def service_error_handler(_: Request, exc: ServiceError) -> Response:
    response = error_response(exc.status, exc.code, exc.message, **exc.details)
    response.headers.update(exc.headers)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="voice-api"'
    return response


def validation_error_handler(_: Request, exc: ValidationException) -> Response:
    details = [{"field": e.get("key"), "message": e.get("message")} for e in (exc.extra or []) if isinstance(e, dict)]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or exc.detail
    return error_response(400, "invalid_request", message)


def http_error_handler(_: Request, exc: HTTPException) -> Response:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    if exc.status_code == 413:
        code = "upload_too_large"
    return error_response(exc.status_code, code, exc.detail)


def store_unreachable_handler(request: Request, exc: Exception) -> Response:
    # Redis (queue, task state, caches, counters) is down: a retryable 503, never a 500.
    log.warning("Redis unreachable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, "queue_unavailable", "the task queue is unreachable; try again shortly")


def undecodable_body_handler(_: Request, exc: UnicodeDecodeError) -> Response:
    return error_response(400, "bad_request", "the request body is not valid UTF-8")


def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "an unexpected error occurred; the server log has details")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ServiceError: service_error_handler,
    RedisConnectionError: store_unreachable_handler,
    RedisTimeoutError: store_unreachable_handler,
    UnicodeDecodeError: undecodable_body_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
