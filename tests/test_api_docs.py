"""OpenAPI completeness, offline docs, health."""

from typing import Any

HTTP_METHODS = {"get", "post", "patch", "put", "delete"}


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = spec["components"]["schemas"][name]
    return node


def _has_example(spec: dict[str, Any], op: dict[str, Any]) -> bool:
    for param in op.get("parameters", []):
        if "example" in param or "examples" in param or "examples" in param.get("schema", {}):
            return True
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    if body and "examples" in _resolve(spec, body.get("schema", {})):
        return True
    for response in op.get("responses", {}).values():
        for media in response.get("content", {}).values():
            if "example" in media or "examples" in _resolve(spec, media.get("schema", {})):
                return True
    return False


def test_every_operation_has_a_summary_and_examples(client):  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]
    assert len(operations) >= 55
    missing_summary = [(p, m) for p, m, op in operations if not op.get("summary")]
    missing_examples = [(p, m) for p, m, op in operations if not _has_example(spec, op)]
    assert missing_summary == []
    assert missing_examples == []


def test_docs_are_served_without_internet(client):  # type: ignore[no-untyped-def]
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static-offline-docs/swagger-ui.css").status_code == 200


def test_health_reports_database(client):  # type: ignore[no-untyped-def]
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"


def test_health_reports_unreachable_database(client):  # type: ignore[no-untyped-def]
    from app.core.config import Settings
    from app.core.db import make_engine

    client.app.state.engine = make_engine(
        Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    )
    response = client.get("/health")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"
