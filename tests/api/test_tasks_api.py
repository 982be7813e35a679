"""GET /v1/tasks through the real app: each owner sees only their own tasks; admins may ask for
another owner's; cursors page through everything once."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from server.http.app import create_app
from tests.api.conftest import assert_error, services
from tests.support.audio import sample_clip, wav_bytes


@pytest.fixture
def client(make_settings):
    settings = make_settings(auth={"enabled": True})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def key(client, owner: str, plan: str = "pro") -> dict[str, str]:
    _, plaintext = services(client).keys.create(owner=owner, plan=plan)
    return {"Authorization": f"Bearer {plaintext}"}


def test_listing_is_per_owner_paginated_and_filterable(client):
    alice, bob, admin = key(client, "alice"), key(client, "bob"), key(client, "root", plan="admin")
    clip, rate = sample_clip(4.0, offset=6.0)
    ids = []
    for _ in range(3):
        ids.append(client.post("/v1/stt", files={"file": ("c.wav", wav_bytes(clip, rate))}, headers=alice).json())
    ids.append(client.post("/v1/tts", json={"text": "Hello there."}, headers=alice).json())
    bobs = client.post("/v1/tts", json={"text": "Bob speaks."}, headers=bob).json()

    first = client.get("/v1/tasks", params={"page_size": 2}, headers=alice).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get("/v1/tasks", params={"page_size": 2, "cursor": first["next_cursor"]}, headers=alice).json()
    assert second["next_cursor"] is None
    listed = [item["task_id"] for item in first["items"] + second["items"]]
    assert listed == [t["task_id"] for t in reversed(ids)]  # newest first
    assert "result" not in first["items"][0] and first["items"][0]["kind"] == "tts"

    only_stt = client.get("/v1/tasks", params={"kind": "stt"}, headers=alice).json()["items"]
    assert {item["kind"] for item in only_stt} == {"stt"} and len(only_stt) == 3
    assert [i["task_id"] for i in client.get("/v1/tasks", headers=bob).json()["items"]] == [bobs["task_id"]]

    assert_error(client.get("/v1/tasks", params={"owner": "alice"}, headers=bob), 403, "forbidden")
    as_admin = client.get("/v1/tasks", params={"owner": "bob"}, headers=admin).json()["items"]
    assert [i["task_id"] for i in as_admin] == [bobs["task_id"]]
    assert_error(client.get("/v1/tasks", params={"cursor": "not-a-cursor"}, headers=alice), 400, "invalid_cursor")
    assert_error(client.get("/v1/tasks", params={"status": "sleeping"}, headers=alice), 400, "invalid_request")
