"""OpenAPI pieces Litestar cannot infer: our upload routes parse multipart themselves (streaming),
so their request body is described here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)


def multipart_operation(fields: Mapping[str, Schema], required: list[str]) -> type[Operation]:
    properties: dict[str, Schema | Reference] = dict(fields)
    body = RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.OBJECT, properties=properties, required=required)
            )
        },
    )

    @dataclass
    class MultipartOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return MultipartOperation


AUDIO_FILE = Schema(
    type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description="Audio: mp3, wav, m4a, flac, ogg/opus, webm, …"
)


def schema_fields(model) -> dict[str, Schema]:
    """Form fields documented from a pydantic model's JSON schema (types, bounds, docstrings)."""
    fields = {}
    for name, spec in model.model_json_schema()["properties"].items():
        options = spec.get("anyOf", [spec])
        kind = next((o["type"] for o in options if o.get("type") not in (None, "null")), "string")
        fields[name] = Schema(
            type=OpenAPIType(kind),
            description=spec.get("description"),
            default=spec.get("default"),
            minimum=next((o.get("minimum") for o in options if "minimum" in o), None),
            maximum=next((o.get("maximum") for o in options if "maximum" in o), None),
        )
    return fields
