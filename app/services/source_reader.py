"""GET /sources/{id} on the direct SQLite path (app/core/fast_read.py).

The row is turned into the same SourcePublic the ORM path gives: the columns are converted
as SQLAlchemy would (JSON, dates, booleans) and the derived fields come from the model's
own properties, so the two paths cannot drift apart (tests compare them on every seeded
source).
"""

import json
from datetime import date, datetime
from types import SimpleNamespace

from app.core.fast_read import SqliteReader
from app.models import Source
from app.models.source import SourcePublic

ROW_SQL = "SELECT * FROM sources WHERE id = ?"
TAGS_SQL = "SELECT tag FROM source_tags WHERE source_id = ? ORDER BY tag"
DERIVED = ("arxiv", "date_display", "year")


def source_json(reader: SqliteReader, source_id: int) -> bytes | None:
    """The source's public JSON, or None if there is no such row."""
    with reader.snapshot() as conn:
        row = conn.execute(ROW_SQL, (source_id,)).fetchone()
        if row is None:
            return None
        tags = [t for (t,) in conn.execute(TAGS_SQL, (source_id,))]
    view = SimpleNamespace(**dict(row))
    view.created_at = datetime.fromisoformat(row["created_at"])
    view.updated_at = datetime.fromisoformat(row["updated_at"])
    view.date = date.fromisoformat(row["date"]) if row["date"] else None
    view.authors = json.loads(row["authors"]) if row["authors"] else []
    view.et_al = bool(row["et_al"])
    view.tags = tags
    for name in DERIVED:
        setattr(view, name, getattr(Source, name).fget(view))
    return SourcePublic.model_validate(view).model_dump_json(by_alias=True).encode()
