"""Bearer tokens: create (the secret is shown once), verify, revoke, list.

A token reads `atlas_<prefix>_<secret>`. The prefix (public) finds the row; the secret's
sha256 is compared with `hmac.compare_digest`, so the comparison takes the same time
whatever the guess. Secrets are 32 random bytes, so a fast hash is enough (no password
stretching needed: they cannot be guessed from a dictionary).
"""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput, NotFound
from app.models import ApiToken


class Scope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


# Each scope includes the ones below it.
RANK = {Scope.read: 0, Scope.write: 1, Scope.admin: 2}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str | list[str]) -> list[str]:
    names = text.split(",") if isinstance(text, str) else text
    scopes = sorted({n.strip() for n in names if n.strip()}, key=lambda n: n)
    unknown = [n for n in scopes if n not in Scope.__members__]
    if unknown or not scopes:
        raise InvalidInput(
            f"scopes: unknown {', '.join(unknown) or '(none given)'}; use read, write, admin",
            field="scopes",
        )
    return scopes


def create(session: Session, name: str, scopes: list[str], *, secret: str | None = None) -> str:
    """Stores a new token and returns it in full (the only time it is shown)."""
    prefix = secrets.token_hex(4)
    secret = secret or secrets.token_urlsafe(32)
    session.add(ApiToken(name=name[:200], prefix=prefix, secret_hash=_hash(secret), scopes=scopes))
    session.flush()
    return f"atlas_{prefix}_{secret}"


def verify(session: Session, token: str) -> ApiToken | None:
    """The live token row for `token`, or None (unknown, malformed, wrong or revoked)."""
    kind, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if kind != "atlas" or not prefix or not secret:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    expected = row.secret_hash if row is not None else _hash("no such token")
    matches = hmac.compare_digest(expected, _hash(secret))
    if row is None or not matches or row.revoked_at is not None:
        return None
    return row


def allows(row: ApiToken, needed: Scope) -> bool:
    return max(RANK[Scope(s)] for s in row.scopes) >= RANK[needed]


def revoke(session: Session, prefix: str) -> ApiToken:
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None:
        raise NotFound(f"no token with prefix {prefix!r}", field="prefix")
    row.revoked_at = row.revoked_at or datetime.now(UTC)
    return row


def listing(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
