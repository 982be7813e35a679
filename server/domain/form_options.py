"""A base for request options that arrive as form fields (strings) or come back from task params."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ValidationError

from server.domain.errors import InvalidRequest


class FormOptions(BaseModel):
    @classmethod
    def parse(cls, fields: dict[str, Any]) -> Self:
        """Validate; empty fields count as absent; errors become one 422 naming the field."""
        try:
            return cls.model_validate({k: v for k, v in fields.items() if v not in ("", None)})
        except InvalidRequest:
            raise
        except ValidationError as exc:
            first = exc.errors()[0]
            cause = first.get("ctx", {}).get("error")
            if isinstance(cause, InvalidRequest):  # a validator's own specific error (language…)
                raise cause from None
            where = ".".join(str(part) for part in first["loc"]) or "request"
            raise InvalidRequest(f"{where}: {first['msg']}", code="invalid_request") from None
