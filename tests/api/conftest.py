from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from server.http.app import create_app
from tests.conftest import wait_for


@pytest.fixture
def client(make_settings) -> Iterator[TestClient]:
    """The real app in embedded mode: real SQLite store, real worker thread, real faster-whisper."""
    with TestClient(create_app(make_settings())) as test_client:
        yield test_client


def services(client: TestClient):
    return client.app.state.services


def wait_finished(client: TestClient, route: str, timeout: float = 120.0, headers: dict | None = None) -> dict:
    def finished():
        body = client.get(route, headers=headers).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_for(finished, timeout=timeout, interval=0.1)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
