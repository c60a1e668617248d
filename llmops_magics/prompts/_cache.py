"""Generations cached in the workspace, keyed by everything that decides the output.

A SQLite table under ``<workspace>/cache/prompts.sqlite`` (WAL mode, so two kernels can read and
write it at once). The key hashes the model's identity (folder and newest file time of the model,
and of the adapter and its base for an adapter), the rendered prompt and the decoding settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CachedGeneration", "GenerationCache", "model_identity"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    output TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    trace_id TEXT,
    run_id TEXT,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class CachedGeneration:
    """One stored generation."""

    output: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    trace_id: str | None
    run_id: str | None


def model_identity(spec: str) -> str:
    """What identifies a model's weights (:attr:`~llmops_magics.models.ModelRef.identity`)."""
    from llmops_magics.models import resolve

    return resolve(spec).identity


def cache_key(identity: str, prompt: str, params: dict[str, Any]) -> str:
    """The cache key of one generation (a SHA-256 hex digest)."""
    blob = json.dumps([identity, prompt, params], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class GenerationCache:
    """The workspace's generation cache (safe to share between processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(_SCHEMA)

    @classmethod
    def for_workspace(cls) -> GenerationCache:
        """The cache of the active workspace."""
        from llmops_magics import workspace

        return cls(workspace.current().ensure().root / "cache" / "prompts.sqlite")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:  # commits, or rolls back on an error
                yield con
        finally:
            con.close()

    def get_many(self, keys: list[str]) -> dict[str, CachedGeneration]:
        """The stored generations among ``keys``."""
        found: dict[str, CachedGeneration] = {}
        with self._connect() as con:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(
                    "SELECT key, output, prompt_tokens, completion_tokens, latency_s, trace_id, "
                    f"run_id FROM generations WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for key, *values in rows:
                    found[key] = CachedGeneration(*values)
        return found

    def put_many(self, items: list[tuple[str, str, str, CachedGeneration]]) -> None:
        """Store ``(key, model, prompt, generation)`` items in one transaction."""
        now = time.time()
        with self._connect() as con:
            con.executemany(
                "INSERT OR REPLACE INTO generations VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        key,
                        model,
                        prompt,
                        g.output,
                        g.prompt_tokens,
                        g.completion_tokens,
                        g.latency_s,
                        g.trace_id,
                        g.run_id,
                        now,
                    )
                    for key, model, prompt, g in items
                ],
            )

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def clear(self) -> None:
        """Forget every stored generation."""
        with self._connect() as con:
            con.execute("DELETE FROM generations")
