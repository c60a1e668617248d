"""What a template notebook calls: record its outputs, store and read data by content hash.

These run inside the stage's kernel. The runner tells the kernel where to record through the
``LLMOPS_STAGE_OUTPUTS`` environment variable; run by hand, a template still shows what it would
record.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.files import atomic_file, atomic_write
from llmops_magics.pipelines._errors import PipelineError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OUTPUTS_ENV", "StageOutputs", "data_path", "load_data", "record_outputs", "save_data"]

OUTPUTS_ENV = "LLMOPS_STAGE_OUTPUTS"
_saved_files: list[str] = []


@dataclass(frozen=True)
class StageOutputs(Result):
    """What a stage recorded: outputs (references such as hashes and run ids) and metrics."""

    outputs: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    path: str | None = None

    _title = "stage outputs"

    def to_frame(self) -> pd.DataFrame:
        """One row per output and metric."""
        import pandas as pd

        rows = [{"kind": "output", "name": k, "value": v} for k, v in self.outputs.items()]
        rows += [{"kind": "metric", "name": k, "value": v} for k, v in self.metrics.items()]
        return pd.DataFrame(rows, columns=["kind", "name", "value"])

    def _summary(self) -> str:
        where = "recorded for the pipeline" if self.path else "not in a pipeline run: shown only"
        return f"stage outputs ({where})"

    def __repr__(self) -> str:
        lines = [self._summary()]
        lines += [f"  {k} = {v!r}" for k, v in self.outputs.items()]
        lines += [f"  metric {k} = {v:.6g}" for k, v in self.metrics.items()]
        return "\n".join(lines)


def _json_value(name: str, value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PipelineError(
            f"output {name!r} = {value!r} is not plain data ({exc}).",
            hint="Record references: text (hashes, run ids, paths), numbers, lists, mappings.",
        ) from None
    return json.loads(text)


def record_outputs(
    *,
    metrics: dict[str, float] | None = None,
    files: list[str | os.PathLike[str]] | None = None,
    **outputs: Any,
) -> StageOutputs:
    """Record what this stage produced; the last call of a template notebook.

    Parameters
    ----------
    metrics
        Final numbers of the stage (shown in batch-run tables, logged to the pipeline run).
    files
        Files the outputs refer to; when one disappears, the cached stage runs again. Files
        written by :func:`save_data` are added for you.
    **outputs
        References later stages take as inputs: data hashes, run ids, model specs, paths.
    """
    clean = {k: _json_value(k, v) for k, v in outputs.items()}
    numbers: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise PipelineError(f"metric {key!r} = {value!r} is not a number.") from None
        if not math.isfinite(number):
            raise PipelineError(f"metric {key!r} = {value!r} is not a finite number.")
        numbers[str(key)] = number
    paths = [str(Path(f).resolve()) for f in (files or [])]
    paths = list(dict.fromkeys([*paths, *_saved_files]))
    target = os.environ.get(OUTPUTS_ENV)
    if target:
        atomic_write(target, json.dumps({"outputs": clean, "metrics": numbers, "files": paths}))
    return StageOutputs(outputs=clean, metrics=numbers, files=paths, path=target or None)


def _data_dir() -> Path:
    from llmops_magics import workspace

    folder = workspace.current().ensure().root / "data"
    folder.mkdir(exist_ok=True)
    return folder


def data_path(data_hash: str) -> Path:
    """Where the data with content hash ``data_hash`` is stored in the workspace."""
    if not data_hash or not all(c in "0123456789abcdef" for c in data_hash):
        raise PipelineError(
            f"{data_hash!r} is not a data content hash.",
            hint="Pass the hash an earlier stage recorded (16 hex characters).",
        )
    return _data_dir() / f"{data_hash}.parquet"


def _hash(frame: pd.DataFrame) -> str:
    try:
        from llmops_magics.data import content_hash  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - the EDA stage provides it
        import hashlib

        import pandas as pd

        digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return digest.hexdigest()[:16]
    return str(content_hash(frame))


def save_data(frame: pd.DataFrame) -> str:
    """Store a DataFrame in the workspace under its content hash and return the hash."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise PipelineError(f"save_data needs a DataFrame, got {type(frame).__name__}.")
    data_hash = _hash(frame)
    path = data_path(data_hash)
    if not path.exists():
        with atomic_file(path, "wb") as handle:
            frame.reset_index(drop=True).to_parquet(handle, index=False)
    _saved_files.append(str(path))
    return data_hash


def load_data(data_hash: str) -> pd.DataFrame:
    """Read the DataFrame stored by :func:`save_data` (by its content hash)."""
    import pandas as pd

    path = data_path(data_hash)
    if not path.is_file():
        raise PipelineError(
            f"No data with hash {data_hash!r} in the workspace ({path.parent}).",
            hint="Run the stage that produces it first (or run the pipeline with --force).",
        )
    return pd.read_parquet(path)
