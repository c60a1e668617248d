"""The stage cache: one folder per content key under ``<workspace>/cache/pipelines/``.

A stage's key hashes its template notebook, its parameters (upstream outputs included), the
outputs of the stages it waits for and the package versions. An entry holds the executed
notebook, its HTML copy and the outputs the stage recorded; it appears at once (a rename) when
the stage succeeds, so a failed or interrupted stage leaves nothing that reads as done.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CacheEntry", "StageCache", "environment", "stage_key"]

#: the packages whose versions a stage's result depends on
PACKAGES = (
    "llmops-magics",
    "torch",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "tokenizers",
    "mlflow",
    "optuna",
    "evaluate",
    "sacrebleu",
    "rouge-score",
    "datasketch",
    "pandas",
    "numpy",
    "papermill",
    "ipykernel",
)

_SCHEME = "llmops-stage-cache-v1"


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "(not installed)"
    return versions


def environment() -> dict[str, str]:
    """Python and package versions: part of every cache key.

    Only released versions count: edits to an editable install's code do not invalidate the
    cache (re-run with ``--force`` after changing a stage's code).
    """
    return dict(_package_versions())


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stage_key(
    *,
    template_digest: str,
    params: Mapping[str, Any],
    upstream: Mapping[str, Mapping[str, Any]],
    env: Mapping[str, str],
) -> str:
    """The content key of one stage run."""
    payload = json.dumps(
        {
            "scheme": _SCHEME,
            "template": template_digest,
            "params": params,
            "upstream": upstream,
            "env": env,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class CacheEntry:
    """A finished stage in the cache."""

    key: str
    folder: Path

    @property
    def notebook(self) -> Path:
        """The executed notebook."""
        return self.folder / "notebook.ipynb"

    @property
    def html(self) -> Path:
        """Its HTML copy."""
        return self.folder / "notebook.html"

    def meta(self) -> dict[str, Any]:
        """What the runner stored: stage, template, params, outputs, metrics, timings."""
        return dict(json.loads((self.folder / "meta.json").read_text()))


class StageCache:
    """The cache folder of a workspace."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` if it is complete and its recorded files still exist."""
        entry = CacheEntry(key, self.root / key)
        if not (entry.notebook.is_file() and (entry.folder / "meta.json").is_file()):
            return None
        try:
            meta = entry.meta()
        except (OSError, ValueError):
            return None
        for path in meta.get("files", []):
            if not Path(path).exists():
                return None  # an output file was deleted: run the stage again
        return entry

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Held while a key is looked up and computed: parallel runs compute it once."""
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{key}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def scratch(self, key: str) -> Path:
        """A new folder to execute into; :meth:`commit` turns it into the entry."""
        folder = self.root / ".tmp" / f"{key}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return folder

    def commit(self, key: str, scratch: Path, meta: Mapping[str, Any]) -> CacheEntry:
        """Write ``meta.json`` and move the scratch folder into place (replacing an old one)."""
        (scratch / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        target = self.root / key
        if target.exists():
            old = self.root / ".tmp" / f"old-{key}-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(scratch, target)
        return CacheEntry(key, target)

    def discard(self, scratch: Path) -> None:
        """Remove a scratch folder."""
        shutil.rmtree(scratch, ignore_errors=True)

    def clean_scratch(self, older_than_s: float = 24 * 3600) -> None:
        """Remove scratch folders left by killed runs."""
        tmp = self.root / ".tmp"
        if not tmp.is_dir():
            return
        now = time.time()
        for folder in tmp.iterdir():
            with contextlib.suppress(OSError):
                if now - folder.stat().st_mtime > older_than_s:
                    shutil.rmtree(folder, ignore_errors=True)
