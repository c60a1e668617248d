"""Names and paths of a pipeline run: names are identifiers, written paths stay in their folder.

A stage or pipeline name becomes a file name (``<workspace>/pipelines/NAME/STAGE.ipynb``), so a
name like ``../../x`` or ``a/b`` must never reach the file system: names are checked when a
pipeline is read, and every path the runner writes is resolved and checked again before it is
written.
"""

from __future__ import annotations

import re
from pathlib import Path

from llmops_magics.pipelines._errors import PipelineError

__all__ = ["NAME_PATTERN", "bad_name", "inside"]

#: what a pipeline or stage name may be: a letter or _, then letters, digits, _ or -
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def bad_name(name: object) -> str | None:
    """Why ``name`` cannot be a pipeline or stage name (None when it can)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return (
            f"{name!r} is not a valid name: use a letter or _, then letters, digits, _ or - "
            "(at most 64; no dots, slashes or spaces)"
        )
    return None


def inside(root: Path, path: Path) -> Path:
    """``path``, once checked to resolve (symbolic links followed) inside ``root``."""
    base = root.resolve()
    resolved = path.parent.resolve() / path.name
    if path.name in ("", ".", "..") or not resolved.is_relative_to(base):
        raise PipelineError(
            f"Refusing to write {str(path)!r}: it is outside {str(root)!r}.",
            hint="Stage and pipeline names must be plain identifiers.",
        )
    return resolved
