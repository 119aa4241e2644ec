"""The request guard's control-character check on raw JSON bodies."""

import json

from app.core.guard import _has_control_escape


def test_control_escapes_are_found_unless_escaped() -> None:
    assert _has_control_escape(json.dumps({"t": "a\u0001b"}).encode())
    assert _has_control_escape(json.dumps({"t": "a\u001fb"}).encode())
    assert _has_control_escape(b'{"t": "\\\\\\u0000"}')  # an escaped backslash, then NUL
    assert _has_control_escape(b'{"t": "\\u000B"}')  # hex digits in either case
    assert not _has_control_escape(b'{"t": "\\U000B"}')  # not an escape: malformed JSON
    # A backslash written out, followed by the letters u0001: text, not a control character.
    assert not _has_control_escape(json.dumps({"t": "a\\u0001b"}).encode())
    assert not _has_control_escape(b'{"t": "\\\\\\\\u0001"}')
    # Tab, newline and carriage return are allowed; so are other escapes (accents).
    assert not _has_control_escape(json.dumps({"t": "a\tb\nc\rd Müller"}).encode())
    assert not _has_control_escape(b"")


def test_an_uppercase_u_escape_is_malformed_json_not_a_control_character(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/problems",
        content=b'{"title": "a\\U000Bb"}',
        headers={"Content-Type": "application/json"},
    )
    assert (
        response.status_code in (400, 422) and response.json()["error"]["code"] == "malformed_json"
    )
