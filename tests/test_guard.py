"""The request guard's control-character check on raw JSON bodies."""

import json

from app.core.guard import _has_control_escape


def test_control_escapes_are_found_unless_escaped() -> None:
    assert _has_control_escape(json.dumps({"t": "a\u0001b"}).encode())
    assert _has_control_escape(json.dumps({"t": "a\u001fb"}).encode())
    assert _has_control_escape(b'{"t": "\\\\\\u0000"}')  # an escaped backslash, then NUL
    assert _has_control_escape(b'{"t": "\\U000B"}')  # case as the JSON parser would see it
    # A backslash written out, followed by the letters u0001: text, not a control character.
    assert not _has_control_escape(json.dumps({"t": "a\\u0001b"}).encode())
    assert not _has_control_escape(b'{"t": "\\\\\\\\u0001"}')
    # Tab, newline and carriage return are allowed; so are other escapes (accents).
    assert not _has_control_escape(json.dumps({"t": "a\tb\nc\rd Müller"}).encode())
    assert not _has_control_escape(b"")
