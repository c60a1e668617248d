"""The workspace's data by content hash: each prepared split, fine-tune and eval frame is kept as
``<workspace>/data/<hash>.parquet`` so a run can be redone from its lineage tags alone.

The folder is the one the pipeline stages store their data in (``pipelines.save_data``): a
frame kept by either is found by the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.data._hash import content_hash
from llmops_magics.errors import DataError
from llmops_magics.files import atomic_file

if TYPE_CHECKING:
    import pandas as pd

    from llmops_magics.workspace import Workspace

__all__ = ["DataGoneError", "keep", "kept", "kept_path"]

_HEX = frozenset("0123456789abcdef")


class DataGoneError(DataError, LookupError):
    """A data hash whose frame the workspace no longer keeps (or never kept)."""

    def __init__(self, message: str, *, data_hash: str, hint: str | None = None) -> None:
        self.data_hash = data_hash
        super().__init__(message, hint=hint)

    def __str__(self) -> str:  # LookupError would quote the message
        return DataError.__str__(self)


def _folder(workspace: Workspace | None) -> Path:
    from llmops_magics import workspace as ws_mod

    return (workspace or ws_mod.current()).ensure().root / "data"


def kept_path(data_hash: str, *, workspace: Workspace | None = None) -> Path:
    """Where the frame with content hash ``data_hash`` is (or would be) kept."""
    if not isinstance(data_hash, str) or not data_hash or not set(data_hash) <= _HEX:
        raise DataError(
            f"{data_hash!r} is not a data content hash.",
            hint="A content hash is 16 lowercase hex characters (data.content_hash(df)).",
        )
    return _folder(workspace) / f"{data_hash}.parquet"


def keep(frame: pd.DataFrame, *, workspace: Workspace | None = None) -> str:
    """Keep ``frame`` in the workspace under its content hash and return the hash.

    A frame already kept is not written again; the write is atomic, so a crash never leaves a
    half-written file under a hash.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"keep needs a pandas DataFrame, got {type(frame).__name__}.",
            hint="Pass a DataFrame (an empty one is kept too: an empty split is data).",
        )
    frame = frame.reset_index(drop=True)
    digest = content_hash(frame)
    path = kept_path(digest, workspace=workspace)
    if not path.exists():
        with atomic_file(path, "wb", encoding=None) as handle:
            frame.to_parquet(handle, index=False)
    return digest


def kept(data_hash: str, *, workspace: Workspace | None = None, what: str = "data") -> Any:
    """The frame kept under ``data_hash``, checked against its hash.

    Raises
    ------
    DataGoneError
        When the workspace does not keep it, or the file no longer matches its hash.
    """
    import pandas as pd

    path = kept_path(data_hash, workspace=workspace)
    if not path.is_file():
        raise DataGoneError(
            f"The {what} {data_hash} is gone: the workspace keeps no frame with that hash "
            f"({path.parent}).",
            data_hash=data_hash,
            hint="Prepare it again (the same recipe on the same input gives the same hash) or "
            "run the stage that made it.",
        )
    frame = pd.read_parquet(path)
    if content_hash(frame) != data_hash:
        raise DataGoneError(
            f"The {what} {data_hash} was changed on disk ({path}): its content no longer "
            "matches its hash.",
            data_hash=data_hash,
            hint="Delete the file and prepare the data again.",
        )
    return frame
