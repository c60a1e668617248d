"""Data preparation: ``prepare(df, text=...)`` → :class:`PreparedDataset` with a JSON recipe.

The steps run in order, each a function: clean, drop empty, exact dedup, near dedup, length
filter, tokens and format, split. ``PreparedDataset.steps`` says how many rows each removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress
from llmops_magics.data._checks import check_text_column, require_column
from llmops_magics.data._config import SPLITS, Recipe, make_config
from llmops_magics.data._dataset import PreparedDataset, split_hash
from llmops_magics.data._hash import content_hash
from llmops_magics.data._steps import Steps
from llmops_magics.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["apply", "prepare"]

_STEPS = (
    "clean",
    "drop empty",
    "exact dedup",
    "near dedup",
    "length filter",
    "tokens and format",
    "split",
)


def prepare(
    df: Any,
    text: str | list[str] | None = None,
    *,
    recipe: Recipe | None = None,
    log: bool = True,
    progress: _progress.ProgressOption = None,
    name: str | None = None,
    **options: Any,
) -> PreparedDataset:
    """Clean, filter, deduplicate, split and format ``df`` into a :class:`PreparedDataset`.

    Parameters
    ----------
    df
        A pandas DataFrame.
    text
        The text column (or columns) to clean; filters look at them joined by a newline.
    recipe
        Redo a saved :class:`Recipe` instead of giving ``text`` and options.
    log
        Log a ``prep`` run to the workspace (input and output content hashes, recipe).
    progress
        Where progress goes (see :func:`llmops_magics.progress.channel`); False for none.
    name
        A name for the data in errors and in the run.
    **options
        Any :class:`Recipe` field: ``normalize``, ``strip_html``, ``collapse_whitespace``,
        ``lowercase``, ``remove_stop_words``, ``stem``, ``redact_pii``, ``dedup``,
        ``near_dedup``, ``near_threshold``, ``min_chars``, ``max_chars``, ``min_words``,
        ``max_words``, ``max_tokens``, ``model``, ``prompt``, ``response``, ``system``,
        ``output_column``, ``split``, ``seed``, ``stratify``.
    """
    recipe = _recipe(text, recipe, options)
    frame = _checked(df, recipe, name or "data")
    input_hash = content_hash(frame)
    with Steps("prep", len(_STEPS), progress) as clock:
        record = _Record(clock)
        frames = _run_steps(frame, recipe, record)
    result = PreparedDataset(
        train=frames["train"],
        validation=frames["validation"],
        test=frames["test"],
        recipe=recipe,
        content_hash=split_hash(frames),
        input_hash=input_hash,
        steps=record.steps,
    )
    if log:
        _log(result, name or recipe.text[0])
    return result


class _Record:
    """How many rows each step kept (``PreparedDataset.steps``); each is a progress step too."""

    def __init__(self, clock: Steps) -> None:
        self.clock = clock
        self.steps: list[dict[str, Any]] = []

    def __call__(self, step: str, before: int, after: int) -> None:
        self.steps.append(
            {"step": step, "rows_before": before, "rows_after": after, "removed": before - after}
        )
        self.clock.step(step)


def _run_steps(frame: pd.DataFrame, recipe: Recipe, done: _Record) -> dict[str, pd.DataFrame]:
    """The steps in order, each recorded in ``done``; the splits."""
    n0 = len(frame)
    out, joined, empty = _clean(frame, recipe)
    done("clean", n0, n0)
    keep = ~empty
    done("drop empty", n0, int(keep.sum()))
    for step, fn in (
        ("exact dedup", _exact_dedup),
        ("near dedup", _near_dedup),
        ("length filter", _length_filter),
    ):
        before = int(keep.sum())
        keep = fn(joined, keep, recipe)
        done(step, before, int(keep.sum()))
    out = out[keep].reset_index(drop=True)
    before = len(out)
    out = _tokens_and_format(out, recipe)
    done("tokens and format", before, len(out))
    if len(out) == 0:
        raise DataError(
            "No rows are left after cleaning and filtering.",
            hint="Loosen the filters; the steps were: "
            + "; ".join(f"{s['step']} removed {s['removed']}" for s in done.steps),
        )
    frames = _split(out, recipe)
    done("split", len(out), sum(len(f) for f in frames.values()))
    return frames


def _recipe(text: str | list[str] | None, recipe: Recipe | None, options: dict[str, Any]) -> Recipe:
    """The recipe to run: the one given, or one made of ``text`` and the options."""
    if recipe is None:
        if text is None:
            raise DataError("prepare needs text=COLUMN (or recipe=...).", hint='e.g. text="text".')
        return make_config(Recipe, None, {"text": text} | options)
    if text is not None or options:
        raise DataError("Give either a recipe or text and options, not both.")
    if not isinstance(recipe, Recipe):
        raise DataError(f"recipe must be a Recipe, got {type(recipe).__name__}.")
    return recipe


def _checked(df: Any, recipe: Recipe, label: str) -> pd.DataFrame:
    """``df`` once its text, prompt/response and stratify columns are checked."""
    for col in recipe.text:
        check_text_column(df, col, name=label, allow_mixed=False)
    frame: pd.DataFrame = df
    for role in ("prompt", "response", "stratify"):
        col = getattr(recipe, role)
        if col is not None:
            require_column(frame, col, name=label, role=f"{role} column")
    for pair_col in (recipe.prompt, recipe.response):
        if pair_col is not None and pair_col not in recipe.text:
            check_text_column(frame, pair_col, name=label, allow_mixed=False)
    return frame


def _columns(recipe: Recipe) -> list[str]:
    """The text columns, then the prompt and response columns that are not among them."""
    columns = list(recipe.text)
    pair = [c for c in (recipe.prompt, recipe.response) if c is not None]
    return columns + [c for c in pair if c not in columns]


# --- the steps ---------------------------------------------------------------------------------


def _clean(frame: pd.DataFrame, recipe: Recipe) -> tuple[pd.DataFrame, Any, np.ndarray]:
    """The working frame (``source_row`` first, text columns cleaned), the cleaned texts joined
    by newlines (what filters look at) and which rows are empty or missing."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from llmops_magics.data import _text as T
    from llmops_magics.data._clean import clean

    out = frame.reset_index(drop=True).copy()
    out.insert(0, "source_row", np.arange(len(frame)))
    empty = np.zeros(len(out), bool)
    cleaned = []
    for col in _columns(recipe):
        arr = clean(out[col], recipe) if col in recipe.text else T.arrow_text(out[col])
        cleaned.append(arr)
        out[col] = pd.Series(arr.to_pylist(), dtype="str", index=out.index)
        empty |= np.asarray(frame[col].isna(), dtype=bool)
        empty |= np.asarray(pc.utf8_length(arr), dtype=np.int64) == 0
    joined = cleaned[0]
    for arr in cleaned[1:]:
        joined = pc.binary_join_element_wise(joined, arr, pa.scalar("\n", pa.large_string()))
    return out, joined, empty


def _first_of_each(labels: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """A mask of ``n`` rows: the first of ``rows`` with each label."""
    import numpy as np

    _, first = np.unique(labels, return_index=True)
    mask = np.zeros(n, bool)
    mask[rows[first]] = True
    return mask


def _exact_dedup(joined: Any, keep: np.ndarray, recipe: Recipe) -> np.ndarray:
    """Keep the first row of each cleaned text."""
    import numpy as np
    import pyarrow.compute as pc

    if not recipe.dedup:
        return keep
    codes = np.asarray(pc.dictionary_encode(joined).indices, dtype=np.int64)
    rows = np.flatnonzero(keep)
    return keep & _first_of_each(codes[rows], rows, len(keep))


def _near_dedup(joined: Any, keep: np.ndarray, recipe: Recipe) -> np.ndarray:
    """Keep the first row of each group of near duplicates (MinHash, LSH)."""
    import numpy as np
    import pyarrow as pa

    from llmops_magics.data import _text as T

    if not recipe.near_dedup or keep.sum() <= 1:
        return keep
    rows = np.flatnonzero(keep)
    words = T.split_words(joined.take(pa.array(rows)))
    hv, offsets = T.shingles(words)
    sig = T.minhash_signatures(hv, offsets)
    comp = T.near_duplicate_components(
        sig, threshold=recipe.near_threshold, valid=np.diff(offsets) > 0
    )
    return keep & _first_of_each(comp, rows, len(keep))


def _length_filter(joined: Any, keep: np.ndarray, recipe: Recipe) -> np.ndarray:
    """Drop texts outside the character and word limits."""
    import numpy as np
    import pyarrow.compute as pc

    from llmops_magics.data import _text as T

    chars = np.asarray(pc.utf8_length(joined), dtype=np.int64)
    words = T.token_counts(joined)
    for limit, values, low in (
        (recipe.min_chars, chars, True),
        (recipe.max_chars, chars, False),
        (recipe.min_words, words, True),
        (recipe.max_words, words, False),
    ):
        if limit is not None:
            keep = keep & (values >= limit if low else values <= limit)
    return keep


def _tokens_and_format(out: pd.DataFrame, recipe: Recipe) -> pd.DataFrame:
    """Write prompt/response pairs through the chat template, then drop texts over
    ``max_tokens`` (the formatted text, or the first text column as a user turn)."""
    import pandas as pd

    from llmops_magics import models
    from llmops_magics.data._tokens import chat_texts, count_tokens, user_turn

    if recipe.prompt is None and recipe.max_tokens is None:
        return out
    tokenizer = models.load(str(recipe.model)).tokenizer
    if recipe.prompt is not None and recipe.response is not None:
        if not getattr(tokenizer, "chat_template", None):
            raise DataError(
                f"The model {recipe.model!r} has no chat template to format with.",
                hint="Use a chat model (the default smollm2 has one).",
            )
        texts = chat_texts(tokenizer, out[recipe.prompt], out[recipe.response], recipe.system)
        out[recipe.output_column] = pd.Series(texts, dtype="str", index=out.index)
    if recipe.max_tokens is None:
        return out
    if recipe.prompt is not None:
        counted = list(out[recipe.output_column])
    else:
        counted = list(out[recipe.text[0]])
        turn = user_turn(tokenizer, recipe.system)
        if turn is not None:
            counted = [turn[0] + t + turn[1] for t in counted]
    lengths = count_tokens(tokenizer, counted)
    return out[lengths <= recipe.max_tokens].reset_index(drop=True)


def _split(out: pd.DataFrame, recipe: Recipe) -> dict[str, pd.DataFrame]:
    """A seeded shuffle cut by the fractions (per class when stratified, largest remainders)."""
    import numpy as np
    import pandas as pd

    fractions = list(recipe.split) + [0.0] * (3 - len(recipe.split))
    rng = np.random.default_rng(recipe.seed)
    assignment = np.empty(len(out), dtype=np.int8)
    if recipe.stratify is not None:
        groups = pd.factorize(out[recipe.stratify].astype(object).map(str))[0]
    else:
        groups = np.zeros(len(out), np.int64)
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        members = members[rng.permutation(len(members))]
        sizes = _allocate(len(members), fractions)
        cuts = np.cumsum(sizes)[:-1]
        for part, chunk in enumerate(np.split(members, cuts)):
            assignment[chunk] = part
    return {s: out[assignment == i].reset_index(drop=True) for i, s in enumerate(SPLITS)}


def _allocate(n: int, fractions: list[float]) -> list[int]:
    """Whole sizes for ``n`` items by ``fractions`` (largest remainder; ties to earlier parts)."""
    raw = [f * n for f in fractions]
    sizes = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - sizes[i]), i))
    for i in order[: n - sum(sizes)]:
        sizes[i] += 1
    return sizes


# --- redoing and logging -----------------------------------------------------------------------


def apply(recipe: Recipe | str | Path | dict[str, Any], df: Any, **kwargs: Any) -> PreparedDataset:
    """Redo a recipe (a :class:`Recipe`, its JSON file or dict) on ``df``.

    The same recipe on the same input gives the same :attr:`PreparedDataset.content_hash`.
    """
    if isinstance(recipe, Recipe):
        r = Recipe.from_dict(recipe.to_dict())
    elif isinstance(recipe, dict):
        r = Recipe.from_dict(recipe)
    else:
        path = Path(recipe)
        if path.is_dir():
            path = path / "recipe.json"
        if not path.exists():
            raise DataError(f"No recipe at {path}.", hint="Give a recipe.json or its folder.")
        r = Recipe.load(path)
    return prepare(df, recipe=r, **kwargs)


def _log(result: PreparedDataset, name: str) -> None:
    """Log a ``prep`` run: the recipe as parameters, rows per split and removed per step."""
    import json

    from llmops_magics import tracking
    from llmops_magics.data._keep import keep

    t = tracking.tracker()
    params = {
        k: json.dumps(v) if isinstance(v, list) else v for k, v in result.recipe.to_dict().items()
    }
    tags = {tracking.DATA_HASH: result.content_hash, tracking.INPUT_HASH: result.input_hash}
    # each split is kept by its hash, so a run trained or evaluated on it can be redone
    tags |= {f"{tracking.SPLIT_HASH}.{s}": keep(result[s]) for s in SPLITS}
    metrics = {f"rows_{s}": float(len(result[s])) for s in SPLITS}
    metrics |= {f"removed_{s['step'].replace(' ', '_')}": float(s["removed"]) for s in result.steps}
    with t.start_run("prep", name=f"prep {name}", tags=tags, params=params) as run:
        run.log_metrics(metrics)
        run.log_text(result.recipe.to_json(), "recipe.json")
        run.log_dict({"steps": result.steps}, "steps.json")
    result.run_id = run.id
    result.tracking_uri = t.uri
