"""File helpers every stage shares: atomic writes and an inter-process lock.

A crash (or ``kill -9``) in the middle of a write leaves the old file or the new one, never half of
one: everything is written next to its target and renamed over it (``os.replace`` is atomic on one
file system). A folder is built in a temporary sibling and swapped in the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_dir", "atomic_file", "atomic_write", "file_lock"]


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], mode: str = "w", *, encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; it replaces ``path`` only if the block succeeds.

    Parameters
    ----------
    path
        The file to write; its folder is created if needed.
    mode
        ``"w"`` (text) or ``"wb"`` (bytes).
    encoding
        The text encoding (ignored in binary mode).

    Examples
    --------
    >>> with atomic_file(tmp_path / "rows.jsonl") as handle:  # doctest: +SKIP
    ...     handle.write('{"a": 1}\\n')
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(
    path: str | os.PathLike[str], data: str | bytes, *, encoding: str = "utf-8"
) -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically and return the path."""
    mode = "wb" if isinstance(data, bytes) else "w"
    with atomic_file(path, mode, encoding=encoding) as handle:
        handle.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], *, replace: bool = True) -> Iterator[Path]:
    """Build a folder in a temporary sibling; it becomes ``path`` only if the block succeeds.

    An existing ``path`` is moved aside and deleted after the new folder is in place
    (``replace=False`` refuses to replace it: :class:`FileExistsError`). On failure the partial
    folder is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", suffix=".partial", dir=target.parent))
    try:
        yield tmp
        if target.exists() or target.is_symlink():
            if not replace:
                raise FileExistsError(f"{target} already exists")
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) across processes.

    The lock is advisory (``fcntl.flock``) and is released by the kernel when its holder dies,
    so a killed process never leaves a stale lock behind.
    """
    lock_path = Path(path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
