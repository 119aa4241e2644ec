"""Write access: bearer tokens with scopes (missing, wrong, revoked, insufficient: 401/403),
tokens stored hashed, the CLI that makes them, browser login with CSRF, secrets and CORS."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, text
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings, get_settings
from app.main import create_app
from app.models import ApiToken, Base
from tests.helpers import API, snapshot

PROBLEM = {"title": "Why do big nets generalize?"}


@pytest.fixture
def anonymous(db_settings: Settings, session_factory) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(db_settings)) as c:
        yield c


@pytest.fixture
def atlas(db_settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Runs `atlas …` against the test database; returns (exit code, output)."""
    monkeypatch.setenv("DATABASE_URL", db_settings.database_url)
    get_settings.cache_clear()

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args))
        return result.exit_code, result.output

    yield invoke
    get_settings.cache_clear()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_reads_are_public_and_writes_need_a_token(anonymous: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    assert anonymous.get(f"{API}/problems").status_code == 200
    before = snapshot(session_factory)
    response = anonymous.post(f"{API}/problems", json=PROBLEM)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "unauthorized" and error["field"] == "Authorization"
    assert "atlas token create" in error["message"]
    assert anonymous.post(f"{API}/runs/1/endorse", json={}).status_code == 401
    assert anonymous.delete(f"{API}/problems/1").status_code == 401
    # Full presets and custom parameters need the write scope.
    runs = f"{API}/experiments/scaling_law/runs"
    assert anonymous.post(runs, json={"preset": "full"}).status_code == 401
    assert anonymous.post(runs, json={"params": {"teachers": 2}}).status_code == 401
    assert snapshot(session_factory) == before
    # A registered quick (or control) preset is cheap and cached: anyone who reads may run it.
    assert anonymous.post(runs, json={"preset": "quick", "seed": 4}).status_code == 202


@pytest.mark.parametrize(
    "header",
    [
        "Bearer atlas_0badc0de_wrong-secret",
        "Bearer atlas_ffffffff_tests-only-secret-not-for-production",
        "Bearer not-a-token",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
def test_wrong_or_malformed_tokens_get_401(anonymous: TestClient, header: str) -> None:
    response = anonymous.post(f"{API}/problems", json=PROBLEM, headers={"Authorization": header})
    assert response.status_code == 401, response.text


def test_cli_tokens_scopes_and_revocation(anonymous: TestClient, atlas, session_factory) -> None:  # type: ignore[no-untyped-def]
    code, out = atlas("token", "create", "--name", "reader", "--scopes", "read")
    assert code == 0
    reader = out.strip().splitlines()[-1]
    code, out = atlas("token", "create", "--name", "writer", "--scopes", "write")
    writer = out.strip().splitlines()[-1]
    assert reader.startswith("atlas_") and writer.startswith("atlas_") and reader != writer

    # Only the hash is stored: no column of any row holds the secret.
    secret = writer.split("_", 2)[2]
    with session_factory() as session:
        dump = [
            str(row) for t in Base.metadata.sorted_tables for row in session.execute(t.select())
        ]
        row = session.scalar(select(ApiToken).where(ApiToken.name == "writer"))
    assert not any(secret in line for line in dump)
    assert row is not None and row.scopes == ["write"] and len(row.secret_hash) == 64

    refused = anonymous.post(f"{API}/problems", json=PROBLEM, headers=bearer(reader))
    assert refused.status_code == 403 and "write" in refused.json()["error"]["message"]
    full = anonymous.post(
        f"{API}/experiments/scaling_law/runs", json={"preset": "full"}, headers=bearer(reader)
    )
    assert full.status_code == 403
    made = anonymous.post(f"{API}/problems", json=PROBLEM, headers=bearer(writer))
    assert made.status_code == 201
    problem_id = made.json()["id"]
    delete = anonymous.delete(f"{API}/problems/{problem_id}", headers=bearer(writer))
    assert delete.status_code == 403, "deleting needs the admin scope"

    code, out = atlas("token", "list")
    assert code == 0 and "writer" in out and "reader" in out and secret not in out
    code, out = atlas("token", "revoke", writer)
    assert code == 0 and "revoked" in out
    again = anonymous.post(f"{API}/problems", json=PROBLEM, headers=bearer(writer))
    assert again.status_code == 401
    code, out = atlas("token", "create", "--scopes", "root")
    assert code == 2 and "scopes" in out
    code, out = atlas("token", "revoke", "nosuchprefix")
    assert code == 2 and "no token" in out


def test_reads_can_require_a_token(db_settings: Settings, session_factory) -> None:  # type: ignore[no-untyped-def]
    settings = db_settings.model_copy(update={"read_requires_token": True})
    with TestClient(create_app(settings)) as c:
        assert c.get(f"{API}/problems").status_code == 401
        assert c.get("/health").status_code == 200, "health stays public"
        with session_factory() as session, session.begin():
            from app.services import tokens

            reader = tokens.create(session, "reader", ["read"])
        assert c.get(f"{API}/problems", headers=bearer(reader)).status_code == 200


def test_browser_login_sets_a_session_cookie_and_writes_need_csrf(
    anonymous: TestClient, session_factory
) -> None:
    wrong = anonymous.post("/login", data={"token": "atlas_nope_nope"}, follow_redirects=False)
    assert wrong.status_code == 401 and "unknown" in wrong.text
    from tests.helpers import TEST_TOKEN

    response = anonymous.post(
        "/login", data={"token": TEST_TOKEN, "next": "/runs/1"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/runs/1"
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("atlas_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    csrf = anonymous.cookies["atlas_csrf"]
    assert TEST_TOKEN not in " ".join(cookies), "the token itself never goes into a cookie"

    no_csrf = anonymous.post(f"{API}/problems", json=PROBLEM)
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["field"] == "X-CSRF-Token"
    wrong_csrf = anonymous.post(f"{API}/problems", json=PROBLEM, headers={"X-CSRF-Token": "x"})
    assert wrong_csrf.status_code == 403
    ok = anonymous.post(f"{API}/problems", json=PROBLEM, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text

    # Replace the cookie (one cookie of that name, on the server's domain, so that the
    # tampered value is the one sent).
    original = anonymous.cookies["atlas_session"]
    domain = next(c.domain for c in anonymous.cookies.jar if c.name == "atlas_session")
    anonymous.cookies.delete("atlas_session")
    anonymous.cookies.set("atlas_session", "tampered." + original, domain=domain)
    assert [c.value for c in anonymous.cookies.jar if c.name == "atlas_session"] == [
        "tampered." + original
    ]
    tampered = anonymous.post(f"{API}/problems", json=PROBLEM, headers={"X-CSRF-Token": csrf})
    assert tampered.status_code == 401
    # Logging out clears the cookies.
    out = anonymous.post("/logout", follow_redirects=False)
    assert out.status_code == 303
    assert any(c.startswith('atlas_session=""') for c in out.headers.get_list("set-cookie"))


def test_a_revoked_token_ends_its_browser_sessions(anonymous: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import TEST_TOKEN

    anonymous.post("/login", data={"token": TEST_TOKEN}, follow_redirects=False)
    csrf = anonymous.cookies["atlas_csrf"]
    with session_factory() as session, session.begin():
        session.execute(text("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP"))
    response = anonymous.post(f"{API}/problems", json=PROBLEM, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]


def test_default_secret_is_refused_outside_development() -> None:
    for env in ("production", "staging"):
        with pytest.raises(ValidationError, match="SECRET_KEY"):
            Settings(environment=env)
        with pytest.raises(ValidationError, match="SECRET_KEY"):
            Settings(environment=env, secret_key="")
        assert Settings(environment=env, secret_key="k" * 32).secret_key == "k" * 32
    assert Settings(environment="development").secret_key  # the default is fine there


def test_cors_is_configurable(db_settings: Settings, session_factory) -> None:  # type: ignore[no-untyped-def]
    origin = "https://lab.example.org"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(db_settings)) as closed:
        answer = closed.options(f"{API}/problems", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    settings = db_settings.model_copy(update={"cors_origins": [origin]})
    with TestClient(create_app(settings)) as open_:
        answer = open_.options(f"{API}/problems", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == origin
