"""What :func:`~llmops_magics.data.prepare` returns: :class:`PreparedDataset`, saved and loaded
with its recipe and content hash."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.data._config import SPLITS, Recipe
from llmops_magics.data._hash import content_hash
from llmops_magics.errors import DataError
from llmops_magics.files import atomic_dir
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PreparedDataset", "split_hash"]


def split_hash(frames: dict[str, pd.DataFrame]) -> str:
    """The content hash of the splits together (each row tagged with its split)."""
    import pandas as pd

    whole = pd.concat([frames[s].assign(split=s) for s in SPLITS], ignore_index=True)
    return content_hash(whole.reset_index(drop=True))


#: the files :meth:`PreparedDataset.save` writes
_SAVED_FILES = {*(f"{s}.parquet" for s in SPLITS), "recipe.json", "manifest.json"}


def _check_target(path: Path) -> None:
    """Refuse ``.``, ``..``, any folder that holds the current one, and the workspace."""
    from llmops_magics import workspace

    resolved = path.resolve()
    home = workspace.current().root.resolve()
    cwd = Path.cwd().resolve()
    if path.name in ("", ".", "..") or resolved in (cwd, *cwd.parents, home, *home.parents):
        raise DataError(
            f"Refusing to save a data set as {str(path)!r}: it holds the current folder or "
            "the workspace.",
            hint="Give a new folder for the data set, e.g. --save prepared/.",
        )


def _check_replaceable(path: Path) -> None:
    """Overwrite only a folder that holds a data set this tool wrote, and nothing else."""
    if path.is_dir() and not path.is_symlink():
        names = {p.name for p in path.iterdir()}
        if "manifest.json" in names and names <= _SAVED_FILES:
            return
    raise DataError(
        f"Refusing to overwrite {path}: it is not a data set saved by llmops (a folder with "
        "manifest.json, recipe.json and the split files only).",
        hint="Give a new folder, or remove that one yourself if it is really unneeded.",
    )


@dataclass
class PreparedDataset(Result):
    """Train/validation/test frames, the recipe that made them and their content hash."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    recipe: Recipe
    content_hash: str
    input_hash: str
    steps: list[dict[str, Any]]
    run_id: str | None = None
    tracking_uri: str | None = None

    _title = "Prepared data set"

    def to_dict(self) -> dict[str, Any]:
        """Sizes, hashes, recipe and steps (the frames themselves are not included)."""
        return {
            "rows": self._rows(),
            "content_hash": self.content_hash,
            "input_hash": self.input_hash,
            "recipe": self.recipe.to_dict(),
            "steps": self.steps,
            "run_id": self.run_id,
        }

    def _rows(self) -> dict[str, int]:
        return {s: len(getattr(self, s)) for s in SPLITS}

    def to_frame(self) -> pd.DataFrame:
        """All rows with a ``split`` column (train, validation, test)."""
        import pandas as pd

        parts = [getattr(self, s).assign(split=s) for s in SPLITS]
        return pd.concat(parts, ignore_index=True)

    def _display_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.steps)

    def _summary(self) -> str:
        sizes = ", ".join(f"{s} {n:,}" for s, n in self._rows().items())
        return f"Prepared data set: {sizes}; hash {self.content_hash}" + (
            f", run {self.run_id}" if self.run_id else ""
        )

    def __repr__(self) -> str:
        return f"<PreparedDataset {self._summary()}>"

    def __getitem__(self, split: str) -> pd.DataFrame:
        if split not in SPLITS:
            raise KeyError(f"no split {split!r}; the splits are {', '.join(SPLITS)}")
        frame: pd.DataFrame = getattr(self, split)
        return frame

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the splits (Parquet), ``recipe.json`` and ``manifest.json`` to a folder.

        The folder is built next to its final place and renamed into it, so an interrupted
        save never leaves a half-written data set; an existing folder is kept unless
        ``overwrite``.
        """
        path = Path(path)
        _check_target(path)
        occupied = any(path.iterdir()) if path.is_dir() else path.exists() or path.is_symlink()
        if occupied and not overwrite:
            raise DataError(
                f"{path} already exists.", hint="Choose a new folder or pass overwrite=True."
            )
        if occupied:
            _check_replaceable(path)
        manifest = {
            "content_hash": self.content_hash,
            "input_hash": self.input_hash,
            "rows": self._rows(),
            "steps": self.steps,
            "run_id": self.run_id,
        }
        try:
            with atomic_dir(path) as tmp:
                for s in SPLITS:
                    getattr(self, s).to_parquet(tmp / f"{s}.parquet", index=False)
                self.recipe.save(tmp / "recipe.json")
                (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        except OSError as exc:
            raise DataError(
                f"Cannot save the data set to {path}: {exc.strerror or exc}.",
                hint="Give a new folder you can write to.",
            ) from None
        return path

    @classmethod
    def load(cls, path: str | Path) -> PreparedDataset:
        """Read a data set written by :meth:`save`, checking its content hash."""
        import pandas as pd

        path = Path(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.exists():
            raise DataError(
                f"{path} is not a prepared data set (no manifest.json).",
                hint="Give the folder that PreparedDataset.save wrote.",
            )
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        frames = {s: pd.read_parquet(path / f"{s}.parquet") for s in SPLITS}
        actual = split_hash(frames)
        if actual != manifest["content_hash"]:
            raise DataError(
                f"The files in {path} do not match their manifest (hash {actual}, expected "
                f"{manifest['content_hash']}); they were changed after saving.",
                hint="Prepare the data again from its recipe.",
            )
        return cls(
            train=frames["train"],
            validation=frames["validation"],
            test=frames["test"],
            recipe=Recipe.load(path / "recipe.json"),
            content_hash=manifest["content_hash"],
            input_hash=manifest["input_hash"],
            steps=manifest["steps"],
            run_id=manifest.get("run_id"),
        )
