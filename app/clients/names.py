"""Providers give an author as one display name; sources store given and family names."""

from typing import Any


def split_name(name: str) -> dict[str, Any] | None:
    """'Chiyuan Zhang' -> given 'Chiyuan', family 'Zhang'; None for an empty name."""
    given, _, family = " ".join(name.split()).rpartition(" ")
    return {"given": given or None, "family": family} if family else None


def authors_from(names: list[str | None]) -> list[dict[str, Any]]:
    return [a for n in names if n and (a := split_name(n)) is not None]
