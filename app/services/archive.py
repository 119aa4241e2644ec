"""Backup archives: the whole database as one JSON document, and loading one back.

An archive holds every table of the schema (`Base.metadata`) except the graph change log:

    {"format": "theory-atlas-archive", "version": 1, "schema_revision": "0007",
     "exported_at": "2026-05-01T12:00:00.000000Z",
     "tables": {"actors": {"columns": ["id", ...], "rows": [[1, ...], ...]}, ...}}

Tables come in foreign-key dependency order and rows in primary-key order, so the same data
gives the same document on SQLite and PostgreSQL. Values are portable: instants as ISO 8601
UTC strings (SQLite hands back naive datetimes, which are UTC), dates as YYYY-MM-DD, enums
as their values, JSON columns as JSON, floats exactly (Python writes the shortest repr that
reads back to the same double), NULL as null. A null in a JSON column loads as SQL NULL
(the application reads SQL NULL and JSON 'null' alike).

Not archived, because they are not data:
- `graph_changes`, the change log through which server processes keep their in-memory
  graphs current. It only names rows that were touched (type and id), grows with every
  write and is never pruned, and its sequence numbers mean something only to processes
  watching the database they came from. A restored database starts with an empty log;
  a process builds its graph from the tables on its first graph read. (So restore before
  starting the servers, or restart any that already read the empty database's graph.)
- `embeddings`, a cache of sentence-embedding vectors, computed again when needed.
- Full-text search data: SQLite's FTS5 tables (`search_*`) are filled by triggers and
  PostgreSQL's `search_vector` columns are generated, so the inserts rebuild them.

Loading goes into an empty database at the same schema revision, in one transaction, in
dependency order, with batched inserts; then PostgreSQL sequences are moved past the
largest id. SQLite needs nothing: no table uses AUTOINCREMENT (a new rowid is max + 1), and
if one did, SQLite raises `sqlite_sequence` itself when an explicit larger id is inserted.
Foreign keys that refer to their own table or form a cycle (none today) are loaded as NULL
and set by an UPDATE once every row is in.
"""

import enum
import gzip
import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
    bindparam,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.schema import sort_tables_and_constraints

from app.models import Base

FORMAT = "theory-atlas-archive"
VERSION = 1
# Not data (see the module docstring): the graph change log.
SKIPPED_TABLES = frozenset({"graph_changes", "embeddings"})
BATCH_ROWS = 1000


class ArchiveError(Exception):
    """An archive that cannot be read or loaded here; the message says why."""


# ---------------------------------------------------------------- tables and their order


def _plan(
    tables: Iterable[Table],
) -> tuple[list[Table], dict[str, list[ForeignKeyConstraint]]]:
    """Tables in dependency order, and per table the foreign keys to load in a second pass
    (self-references, and keys in a cycle that no table order can satisfy)."""
    tables = sorted(tables, key=lambda t: t.key)  # deterministic tie-breaking
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cannot sort tables; there are cycles": handled below
        plan = list(sort_tables_and_constraints(tables))
    ordered = [t for t, _ in plan if t is not None]
    deferred: dict[str, list[ForeignKeyConstraint]] = {}
    cyclic = [fkc for t, fkcs in plan if t is None for fkc in fkcs]
    for table in ordered:
        own = [fkc for fkc in table.foreign_key_constraints if fkc.referred_table is table]
        for fkc in own + [f for f in cyclic if f.table is table]:
            if fkc not in deferred.setdefault(table.name, []):
                deferred[table.name].append(fkc)
    return ordered, {k: v for k, v in deferred.items() if v}


def archived_tables() -> list[Table]:
    return [t for t in _plan(Base.metadata.tables.values())[0] if t.name not in SKIPPED_TABLES]


# ---------------------------------------------------------------- values


def _kind(table: Table, column: Any) -> str:
    t = column.type
    # Order matters: Enum is a String, Text is a String, Float is a Numeric.
    for kind, cls in (
        ("json", JSON),
        ("enum", SAEnum),
        ("datetime", DateTime),
        ("date", Date),
        ("bool", Boolean),
        ("float", Float),
        ("int", Integer),
        ("str", String),
    ):
        if isinstance(t, cls):
            return kind
    raise TypeError(f"{table.name}.{column.name}: no archive encoding for type {t!r}")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _encoder(kind: str) -> Callable[[Any], Any]:
    if kind == "datetime":
        return lambda v: _utc(v).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if kind == "date":
        return lambda v: v.isoformat()
    if kind == "enum":
        return lambda v: v.value if isinstance(v, enum.Enum) else v
    if kind == "float":
        return float
    return lambda v: v


class _Bad(ValueError):
    pass


def _decode(kind: str, column: Any, value: Any) -> Any:
    """The Python value to insert for an archived value; _Bad says what is wrong."""
    if value is None:
        if not column.nullable:
            raise _Bad("is null but the column is NOT NULL")
        return None
    if kind == "json":
        return value
    if kind == "datetime":
        if not isinstance(value, str):
            raise _Bad(f"{value!r} is not an ISO 8601 instant")
        try:
            return _utc(datetime.fromisoformat(value))
        except ValueError:
            raise _Bad(f"{value!r} is not an ISO 8601 instant") from None
    if kind == "date":
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise _Bad(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if kind == "enum":
        if value not in column.type.enums:
            raise _Bad(f"{value!r} is not one of {', '.join(column.type.enums)}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _Bad(f"{value!r} is not true or false")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad(f"{value!r} is not a number")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"{value!r} is not an integer")
        return value
    if not isinstance(value, str):
        raise _Bad(f"{value!r} is not a string")
    return value


# ---------------------------------------------------------------- export


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def schema_revision(session: Session) -> str | None:
    return MigrationContext.configure(session.connection()).get_current_revision()


def dump_tables(session: Session, tables: Iterable[Table]) -> dict[str, Any]:
    """{name: {"columns", "rows"}} for `tables`, rows sorted by primary key."""
    out: dict[str, Any] = {}
    conn = session.connection()
    for table in tables:
        columns = list(table.columns)
        encoders = [_encoder(_kind(table, c)) for c in columns]
        pk = [columns.index(c) for c in table.primary_key.columns]
        rows = [
            [None if v is None else enc(v) for v, enc in zip(row, encoders, strict=True)]
            for row in conn.execute(select(*columns))
        ]
        # Sorted here rather than by ORDER BY: text keys (source_tags.tag) would follow the
        # database's collation, which differs between SQLite and PostgreSQL.
        rows.sort(key=lambda r: tuple(r[i] for i in pk))
        out[table.name] = {"columns": [c.name for c in columns], "rows": rows}
    return out


def export_archive(session: Session) -> dict[str, Any]:
    """The whole database as an archive document (read in one transaction)."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        # One snapshot for every table, even while others write.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return {
        "format": FORMAT,
        "version": VERSION,
        "schema_revision": schema_revision(session),
        "exported_at": _now(),
        "tables": dump_tables(session, archived_tables()),
    }


# ---------------------------------------------------------------- import


def check_header(data: Any) -> None:
    """Refuses anything that is not an archive of this format and version."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ArchiveError(f"not a Theory Atlas archive (format {found!r}, expected {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ArchiveError(
            f"archive version {data.get('version')!r} is not supported (this code reads "
            f"version {VERSION})"
        )
    if not isinstance(data.get("schema_revision"), str):
        raise ArchiveError("the archive does not say its schema revision")
    if not isinstance(data.get("tables"), dict):
        raise ArchiveError("the archive has no 'tables' object")


def _rows_to_load(table: Table, archived: Any) -> Iterator[dict[str, Any]]:
    """The archived rows of `table` as insert parameters, every value checked (the shape of
    the table is checked at once, the rows as they are read)."""
    if not isinstance(archived, dict) or not isinstance(archived.get("rows"), list):
        raise ArchiveError(f"table {table.name}: expected {{'columns': [...], 'rows': [...]}}")
    names = archived.get("columns")
    expected = [c.name for c in table.columns]
    if not isinstance(names, list) or sorted(map(str, names)) != sorted(expected):
        have = set(names) if isinstance(names, list) else set()
        missing, extra = sorted(set(expected) - have), sorted(have - set(expected))
        raise ArchiveError(
            f"table {table.name}: the archive's columns do not match the schema "
            f"(missing: {', '.join(missing) or 'none'}; "
            f"unknown: {', '.join(map(str, extra)) or 'none'})"
        )
    columns = [table.columns[n] for n in names]
    kinds = [_kind(table, c) for c in columns]
    return _convert(table, columns, kinds, archived["rows"])


def _convert(
    table: Table, columns: list[Any], kinds: list[str], rows: list[Any]
) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise ArchiveError(
                f"table {table.name}, row {i}: expected a list of {len(columns)} values"
            )
        values = {}
        for column, kind, value in zip(columns, kinds, row, strict=True):
            try:
                values[f"v_{column.name}"] = _decode(kind, column, value)
            except _Bad as exc:
                raise ArchiveError(
                    f"table {table.name}, row {i}, column {column.name}: {exc}"
                ) from None
        yield values


def _insert_statement(table: Table, nulled: set[str]) -> Any:
    # Explicit bind parameters: None in a JSON column becomes SQL NULL (not the JSON text
    # 'null'), and foreign keys loaded in a second pass start as NULL.
    values: dict[str, Any] = {}
    for c in table.columns:
        if c.name in nulled:
            values[c.name] = None
            continue
        bind_type = JSON(none_as_null=True) if isinstance(c.type, JSON) else c.type
        values[c.name] = bindparam(f"v_{c.name}", type_=bind_type)
    return insert(table).values(values)


def load_tables(session: Session, tables: Iterable[Table], data: dict[str, Any]) -> dict[str, int]:
    """Inserts the archived rows of `tables` (in dependency order); returns rows per table.
    The caller commits, or rolls back on ArchiveError."""
    ordered, deferred = _plan(tables)
    known = {t.name for t in ordered}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ArchiveError(
            f"the archive has tables this schema does not know: {', '.join(unknown)}"
        )
    missing = sorted(known - set(data))
    if missing:
        raise ArchiveError(f"the archive lacks tables: {', '.join(missing)}")
    # Every table's shape first (cheap); rows are converted batch by batch as they go in,
    # so memory holds the document and one batch, not a second copy of the database.
    pending = {t.name: _rows_to_load(t, data[t.name]) for t in ordered}
    conn = session.connection()
    counts: dict[str, int] = {}
    second_pass: dict[str, list[dict[str, Any]]] = {}
    for table in ordered:
        nulled = {c.name for fkc in deferred.get(table.name, []) for c in fkc.columns}
        for name in sorted(nulled):
            if not table.columns[name].nullable:
                raise ArchiveError(
                    f"table {table.name}: cannot load column {name}: it is a NOT NULL foreign "
                    "key in a cycle or to its own table"
                )
        stmt = _insert_statement(table, nulled)
        counts[table.name] = 0
        for batch in _batches(pending[table.name]):
            _run(conn, table, stmt, batch, counts[table.name])
            counts[table.name] += len(batch)
            if nulled:
                second_pass.setdefault(table.name, []).extend(batch)
    for table in ordered:
        for fkc in deferred.get(table.name, []):
            _set_deferred(conn, table, fkc, second_pass.get(table.name, []))
    return counts


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _run(conn: Any, table: Table, stmt: Any, batch: list[dict[str, Any]], first: int) -> None:
    try:
        conn.execute(stmt, batch)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ArchiveError(
            f"table {table.name}: the database refused rows {first}–{first + len(batch) - 1}: "
            f"{reason}"
        ) from None


def _set_deferred(
    conn: Any, table: Table, fkc: ForeignKeyConstraint, params: list[dict[str, Any]]
) -> None:
    pk = list(table.primary_key.columns)
    cols = list(fkc.columns)
    todo = [p for p in params if any(p[f"v_{c.name}"] is not None for c in cols)]
    if not todo:
        return
    stmt = (
        update(table)
        .where(*[c == bindparam(f"v_{c.name}", type_=c.type) for c in pk])
        .values({c.name: bindparam(f"v_{c.name}", type_=c.type) for c in cols})
    )
    keys = [f"v_{c.name}" for c in pk + cols]
    for start in range(0, len(todo), BATCH_ROWS):
        batch = [{k: p[k] for k in keys} for p in todo[start : start + BATCH_ROWS]]
        _run(conn, table, stmt, batch, start)


def _non_empty(session: Session, tables: Iterable[Table]) -> list[str]:
    conn = session.connection()
    return [
        t.name
        for t in tables
        if conn.execute(select(literal(1)).select_from(t).limit(1)).first() is not None
    ]


def _reset_sequences(session: Session, tables: Iterable[Table]) -> None:
    """PostgreSQL: each serial/identity sequence continues after the largest loaded id."""
    if session.get_bind().dialect.name != "postgresql":
        return
    conn = session.connection()
    for table in tables:
        col = table.autoincrement_column
        if col is None:
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE(MAX("{col.name}"), 0) + 1, false) FROM "{table.name}"'
            ),
            {"table": table.name, "column": col.name},
        )


def import_archive(session: Session, data: Any) -> dict[str, int]:
    """Loads an archive into this empty database (same schema revision); returns rows per
    table. All or nothing: the caller commits, or rolls back on ArchiveError."""
    check_header(data)
    current = schema_revision(session)
    if current is None:
        raise ArchiveError(
            "the database has no schema yet: run `atlas db upgrade` first "
            "(`atlas import-archive` does it itself on an empty database)"
        )
    if data["schema_revision"] != current:
        raise ArchiveError(
            f"schema revision mismatch: the archive is at {data['schema_revision']} but the "
            f"database is at {current}. Import it into a database at {data['schema_revision']} "
            "(with the code of that revision), then `atlas db upgrade`."
        )
    tables = archived_tables()
    busy = _non_empty(session, tables)
    if busy:
        shown = ", ".join(busy[:8]) + (f" and {len(busy) - 8} more" if len(busy) > 8 else "")
        raise ArchiveError(
            f"the database is not empty ({shown} hold rows): an archive loads only into an "
            "empty database (a new SQLite file, or a new PostgreSQL database)"
        )
    counts = load_tables(session, tables, data["tables"])
    _reset_sequences(session, tables)
    return counts


# ---------------------------------------------------------------- files


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def check_path(path: Path) -> None:
    if not path.name.lower().endswith((".json", ".json.gz")):
        raise ArchiveError(f"{path.name}: an archive file name ends in .json or .json.gz")


def write_archive(path: Path, data: dict[str, Any]) -> int:
    """Writes the document (gzip for .json.gz) through a temporary file; returns its size."""
    check_path(path)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as raw:
        if _is_gzip(path):
            with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write(body)
        else:
            raw.write(body)
    os.replace(tmp, path)
    return path.stat().st_size


def read_archive(path: Path) -> Any:
    check_path(path)
    try:
        raw = path.read_bytes()
        if _is_gzip(path):
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise ArchiveError(f"{path.name} is not a readable archive: {exc}") from None


def row_counts(data: dict[str, Any]) -> dict[str, int]:
    return {name: len(t["rows"]) for name, t in data["tables"].items()}
