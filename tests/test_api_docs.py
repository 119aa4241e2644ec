"""OpenAPI completeness, offline docs, health."""

from typing import Any

HTTP_METHODS = {"get", "post", "patch", "put", "delete"}


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _schema_has_examples(spec: dict[str, Any], schema: dict[str, Any], depth: int = 3) -> bool:
    schema = _resolve(spec, schema)
    if "examples" in schema or "example" in schema:
        return True
    if depth == 0:
        return False
    children = list(schema.get("properties", {}).values())
    children += [schema["items"]] if "items" in schema else []
    children += schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", [])
    return any(_schema_has_examples(spec, c, depth - 1) for c in children)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def test_every_operation_has_a_summary(client):  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    operations = _operations(spec)
    assert len(operations) >= 60
    assert [(p, m) for p, m, op in operations if not op.get("summary")] == []


def test_every_body_and_answer_has_an_example(client):  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    missing = []
    for path, method, op in _operations(spec):
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        has_own = body and ("example" in body or "examples" in body)
        if body and not has_own and not _schema_has_examples(spec, body["schema"]):
            missing.append((path, method, "request body"))
        ok = [r for code, r in op["responses"].items() if code.startswith("2")]
        for response in ok:
            for media in response.get("content", {}).values():
                own = "example" in media or "examples" in media
                if not own and not _schema_has_examples(spec, media.get("schema", {})):
                    missing.append((path, method, "response"))
    assert missing == []


def test_errors_are_documented_with_the_real_shape(client):  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, method, op in _operations(spec):
        if not path.startswith("/api/v1"):
            continue
        for code in ("404", "409", "422"):
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorResponse"), (path, method, code)


def test_docs_are_served_without_internet(client):  # type: ignore[no-untyped-def]
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        response = client.get(f"/static-offline-docs/{asset}")
        assert response.status_code == 200 and "cdn." not in response.text
    assert client.get("/redoc").status_code == 404


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


def test_ping_answers_without_the_database(client):  # type: ignore[no-untyped-def]
    from app.core.config import Settings
    from app.core.db import make_engine

    client.app.state.engine = make_engine(
        Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    )
    response = client.get("/ping")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert client.get("/health").status_code == 503
