"""`atlas token create|revoke|list`: write tokens for the API."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from app.core import migrations
from app.core.config import get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.errors import AppError
from app.services import tokens

token_cli = typer.Typer(help="Bearer tokens for writers (stored hashed).", no_args_is_help=True)


@contextmanager
def _session() -> Iterator[Session]:
    settings = get_settings()
    engine = make_engine(settings)
    try:
        migrations.check_schema(engine, settings)
        with make_sessionmaker(engine)() as session:
            yield session
            session.commit()
    except AppError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@token_cli.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who or what the token is for.")] = "writer",
    scopes: Annotated[str, typer.Option(help="Comma-separated: read, write, admin.")] = "write",
) -> None:
    """Creates a token and prints it once (only its hash is stored)."""
    with _session() as session:
        token = tokens.create(session, name, tokens.parse_scopes(scopes))
    typer.echo(token)


@token_cli.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(help="The token's prefix (or the token).")],
) -> None:
    """Revokes a token at once; requests with it then get 401."""
    if prefix.startswith("atlas_"):
        prefix = prefix.split("_")[1]
    with _session() as session:
        row = tokens.revoke(session, prefix)
    typer.echo(f"revoked {row.prefix} ({row.name})")


@token_cli.command("list")
def list_tokens() -> None:
    """Lists tokens: prefix, name, scopes, created, revoked (never the secrets)."""
    with _session() as session:
        for row in tokens.listing(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            typer.echo(f"{row.prefix}  {row.name:<24} {','.join(row.scopes):<18} {state}")
