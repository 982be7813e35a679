"""The project's one error model: every failure a client can see is a ServiceError with a stable code.

The HTTP layer maps `status` to the response; tasks store `code` and `message` on failure. Code
branches on the class or `code`, never on message text.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details  # extra JSON-safe fields for the client, e.g. the task's status
        self.headers: dict[str, str] = {}  # extra response headers, e.g. Retry-After on a 429
        if code is not None:
            self.code = code


class InvalidRequest(ServiceError):
    status = 422
    code = "invalid_request"


class BadRequest(ServiceError):
    status = 400
    code = "bad_request"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class TaskNotReady(ServiceError):
    status = 409
    code = "task_not_ready"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_audio"


class QueueUnavailable(ServiceError):
    status = 503
    code = "queue_unavailable"


class StorageFull(ServiceError):
    status = 507
    code = "storage_full"


class TaskFailed(ServiceError):
    """A front-end that waits for a task on the client's behalf (Wyoming, the OpenAI routes)
    reports its failure; `code` is the task's own error code."""

    status = 500
    code = "task_failed"


class Timeout(ServiceError):
    """A waited-for task did not end within the front-end's wait."""

    status = 504
    code = "timeout"
