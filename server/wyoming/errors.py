"""The project's errors as Wyoming `error` events: the same stable codes the HTTP API returns."""

from __future__ import annotations

from wyoming.error import Error
from wyoming.event import Event

from server.domain.errors import ServiceError


def error_event(exc: ServiceError) -> Event:
    return Error(text=exc.message, code=exc.code).event()


INTERNAL = Error(text="internal error; the server log has the details", code="internal_error")
