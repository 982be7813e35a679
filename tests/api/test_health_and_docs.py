from __future__ import annotations


def test_health_reports_queue_and_engines(client):
    response = client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["mode"] == "embedded"
    assert body["queue"]["reachable"] is True
    assert body["engines"]["stt"]["available"] is True and body["engines"]["stt"]["engine"] == "faster-whisper"


def test_health_needs_no_authentication(client):
    assert client.get("/v1/health", headers={"Authorization": "Bearer nonsense"}).status_code == 200


def test_openapi_documents_every_v1_route(client):
    schema = client.get("/docs/openapi.json").json()
    paths = schema["paths"]
    assert {"/v1/health", "/v1/stt", "/v1/stt/{task_id}", "/v1/stt/{task_id}/result"} <= set(paths)
    submit = paths["/v1/stt"]["post"]
    body_schema = submit["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body_schema["required"] == ["file"] and body_schema["properties"]["file"]["format"] == "binary"
    assert "202" in submit["responses"]
    status_schema = paths["/v1/stt/{task_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in status_schema or "properties" in status_schema


def test_interactive_docs_page(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
