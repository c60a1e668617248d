"""The stage cache: one folder per content key under ``<workspace>/cache/pipelines/``.

A stage's key hashes its template notebook, its parameters (upstream outputs included), the
outputs of the stages it waits for and the package versions. An entry holds the executed
notebook, its HTML copy and the outputs the stage recorded; it appears at once (a rename) when
the stage succeeds, so a failed or interrupted stage leaves nothing that reads as done.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import platform
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmops_magics.files import atomic_dir, atomic_write, file_lock

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
        entry = self.entry(key)
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

    def entry(self, key: str) -> CacheEntry:
        """The entry folder of ``key`` (which may not exist)."""
        return CacheEntry(key, self.root / key)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Held while a key is looked up and computed: parallel runs compute it once."""
        with file_lock(self.root / ".locks" / f"{key}.lock"):
            yield

    @contextlib.contextmanager
    def build(self, key: str) -> Iterator[Path]:
        """A new folder to execute into: it becomes the entry for ``key`` (replacing an old one)
        when the block succeeds, and is removed when it fails. Call :meth:`write_meta` last."""
        with atomic_dir(self.root / key) as folder:
            yield folder

    def write_meta(self, folder: Path, meta: Mapping[str, Any]) -> None:
        """Store what the runner knows about the stage (an entry without it counts as missing)."""
        atomic_write(folder / "meta.json", json.dumps(meta, indent=1, sort_keys=True))

    def clean_scratch(self, older_than_s: float = 24 * 3600) -> None:
        """Remove the half-built folders that killed runs left behind."""
        if not self.root.is_dir():
            return
        now = time.time()
        # atomic_dir's temporary siblings (.KEY-*.partial, .KEY.old-*), and older versions' .tmp/
        leftovers = [*self.root.glob(".*.partial"), *self.root.glob(".*.old-*")]
        for folder in [*leftovers, *self.root.glob(".tmp/*")]:
            with contextlib.suppress(OSError):
                if now - folder.stat().st_mtime > older_than_s:
                    shutil.rmtree(folder, ignore_errors=True)
