"""Schema-driven fuzzing of every documented route (schemathesis): no input may cause a 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from server.http.app import create_app
from tests.conftest import settings_in

pytestmark = pytest.mark.slow

# Module level because schemathesis builds the cases at collection; the directory's finaliser
# removes it when the interpreter exits.
_data = tempfile.TemporaryDirectory(prefix="voice-fuzz-")
app = create_app(settings_in(Path(_data.name) / "data"))
schema = schemathesis.openapi.from_asgi("/docs/openapi.json", app)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_causes_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])
