"""Data preparation: ``prepare(df, text=...)`` → :class:`PreparedDataset` with a JSON recipe."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.data._checks import check_text_column, require_column
from llmops_magics.data._hash import content_hash as _content_hash
from llmops_magics.errors import DataError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PreparedDataset", "Recipe", "apply", "prepare"]

_SPLITS = ("train", "validation", "test")
_NORMAL_FORMS = ("NFC", "NFKC", "NFD", "NFKD")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class Recipe:
    """Every choice :func:`prepare` made, as JSON-able data; ``apply(recipe, df)`` redoes it."""

    text: list[str] = field(metadata=_help("the text columns to clean"))
    normalize: str | None = field(default="NFKC", metadata=_help("unicode form, or None"))
    strip_html: bool = field(default=True, metadata=_help("remove tags, decode entities"))
    collapse_whitespace: bool = field(default=True, metadata=_help("runs of space → one"))
    lowercase: bool = field(default=False, metadata=_help("lower-case the text"))
    remove_stop_words: bool = field(default=False, metadata=_help("drop English stop words"))
    stem: bool = field(default=False, metadata=_help("Porter-stem every word (NLTK)"))
    redact_pii: bool = field(default=False, metadata=_help("replace PII with [EMAIL] etc."))
    dedup: bool = field(default=True, metadata=_help("drop exact duplicates (after cleaning)"))
    near_dedup: bool = field(default=False, metadata=_help("drop near duplicates (MinHash)"))
    near_threshold: float = field(default=0.8, metadata=_help("Jaccard for near duplicates"))
    min_chars: int | None = field(default=None, metadata=_help("drop shorter texts"))
    max_chars: int | None = field(default=None, metadata=_help("drop longer texts"))
    min_words: int | None = field(default=None, metadata=_help("drop texts with fewer words"))
    max_words: int | None = field(default=None, metadata=_help("drop texts with more words"))
    max_tokens: int | None = field(
        default=None, metadata=_help("drop texts longer than this in model tokens (chat template)")
    )
    model: str | None = field(default=None, metadata=_help("model spec for tokens and template"))
    prompt: str | None = field(default=None, metadata=_help("prompt column for chat formatting"))
    response: str | None = field(default=None, metadata=_help("response column"))
    system: str | None = field(default=None, metadata=_help("system message when formatting"))
    output_column: str = field(default="formatted", metadata=_help("column of training text"))
    split: list[float] = field(
        default_factory=lambda: [0.8, 0.1, 0.1], metadata=_help("train, validation[, test]")
    )
    seed: int = field(default=0, metadata=_help("seed of the shuffle before splitting"))
    stratify: str | None = field(default=None, metadata=_help("keep this column's proportions"))
    version: int = field(default=1, metadata=_help("recipe format version"))

    def __post_init__(self) -> None:
        if isinstance(self.text, str):
            self.text = [self.text]
        self.text = list(self.text)
        if not self.text or not all(isinstance(c, str) for c in self.text):
            raise DataError("text must name one or more columns.", hint='e.g. text="question".')
        if self.normalize is not None and self.normalize not in _NORMAL_FORMS:
            raise DataError(
                f"normalize must be one of {', '.join(_NORMAL_FORMS)} or None, "
                f"got {self.normalize!r}."
            )
        self.split = [float(x) for x in self.split]
        if not 2 <= len(self.split) <= 3 or any(x < 0 for x in self.split):
            raise DataError(
                f"split needs 2 or 3 non-negative fractions (train, validation[, test]), got "
                f"{self.split}.",
                hint="e.g. --split 0.8,0.1,0.1",
            )
        if abs(sum(self.split) - 1.0) > 1e-6:
            raise DataError(
                f"split fractions must sum to 1, got {self.split} (sum {sum(self.split):g}).",
                hint="e.g. --split 0.8,0.1,0.1",
            )
        if self.split[0] == 0:
            raise DataError("the train fraction of split must be above 0.")
        if not 0 < self.near_threshold <= 1:
            raise DataError(f"near_threshold must be in (0, 1], got {self.near_threshold}.")
        for name in ("min_chars", "max_chars", "min_words", "max_words", "max_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise DataError(f"{name} must be a non-negative integer, got {value!r}.")
        if (self.prompt is None) != (self.response is None):
            raise DataError(
                "prompt and response go together (both columns, or neither).",
                hint="e.g. prompt='question', response='answer'.",
            )
        if self.prompt is not None and (self.remove_stop_words or self.stem):
            raise DataError(
                "stop-word removal and stemming make text unfit for chat formatting.",
                hint="Use them for classic NLP features, without prompt/response.",
            )

    def to_json(self) -> str:
        """The recipe as JSON text."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> Recipe:
        """A recipe from JSON text or a dict (unknown keys are an error)."""
        data = json.loads(text) if isinstance(text, str) else dict(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(
                f"Unknown recipe field(s): {', '.join(unknown)}.",
                hint=f"Known fields: {', '.join(sorted(known))}.",
            )
        return cls(**data)

    def save(self, path: str | Path) -> Path:
        """Write the recipe as JSON to ``path``."""
        path = Path(path)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        """Read a recipe saved with :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


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
            "rows": {s: len(getattr(self, s)) for s in _SPLITS},
            "content_hash": self.content_hash,
            "input_hash": self.input_hash,
            "recipe": dataclasses.asdict(self.recipe),
            "steps": self.steps,
            "run_id": self.run_id,
        }

    def to_frame(self) -> pd.DataFrame:
        """All rows with a ``split`` column (train, validation, test)."""
        import pandas as pd

        parts = [getattr(self, s).assign(split=s) for s in _SPLITS]
        return pd.concat(parts, ignore_index=True)

    def _display_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.steps)

    def _summary(self) -> str:
        sizes = ", ".join(f"{s} {len(getattr(self, s)):,}" for s in _SPLITS)
        return f"Prepared data set: {sizes}; hash {self.content_hash}" + (
            f", run {self.run_id}" if self.run_id else ""
        )

    def __repr__(self) -> str:
        return f"<PreparedDataset {self._summary()}>"

    def __getitem__(self, split: str) -> pd.DataFrame:
        if split not in _SPLITS:
            raise KeyError(f"no split {split!r}; the splits are {', '.join(_SPLITS)}")
        frame: pd.DataFrame = getattr(self, split)
        return frame

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the splits (Parquet), ``recipe.json`` and ``manifest.json`` to a folder.

        The folder is written next to its final place and renamed into it, so an interrupted
        save never leaves a half-written data set; an existing folder is kept unless
        ``overwrite``.
        """
        import shutil
        import tempfile

        path = Path(path)
        occupied = any(path.iterdir()) if path.is_dir() else path.exists()
        if occupied and not overwrite:
            raise DataError(
                f"{path} already exists.", hint="Choose a new folder or pass overwrite=True."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
        try:
            for s in _SPLITS:
                getattr(self, s).to_parquet(tmp / f"{s}.parquet", index=False)
            self.recipe.save(tmp / "recipe.json")
            manifest = {
                "content_hash": self.content_hash,
                "input_hash": self.input_hash,
                "rows": {s: len(getattr(self, s)) for s in _SPLITS},
                "steps": self.steps,
                "run_id": self.run_id,
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            if path.exists():
                old = path.with_name(f".{path.name}.old-{time.time_ns()}")
                path.rename(old)
                tmp.rename(path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
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
        frames = {s: pd.read_parquet(path / f"{s}.parquet") for s in _SPLITS}
        out = cls(
            train=frames["train"],
            validation=frames["validation"],
            test=frames["test"],
            recipe=Recipe.load(path / "recipe.json"),
            content_hash=manifest["content_hash"],
            input_hash=manifest["input_hash"],
            steps=manifest["steps"],
            run_id=manifest.get("run_id"),
        )
        actual = _split_hash(frames)
        if actual != manifest["content_hash"]:
            raise DataError(
                f"The files in {path} do not match their manifest (hash {actual}, expected "
                f"{manifest['content_hash']}); they were changed after saving.",
                hint="Prepare the data again from its recipe.",
            )
        return out


def _split_hash(frames: dict[str, pd.DataFrame]) -> str:
    import pandas as pd

    whole = pd.concat([frames[s].assign(split=s) for s in _SPLITS], ignore_index=True).reset_index(
        drop=True
    )
    return _content_hash(whole)


# --- text cleaning -------------------------------------------------------------------------


def _unescape(arr: Any) -> Any:
    """Decode HTML entities (only texts with an ``&`` go through Python's html.unescape)."""
    import html

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    has = np.asarray(pc.match_substring(arr, "&"), dtype=bool)
    if not has.any():
        return arr
    py = arr.to_pylist()
    for i in np.flatnonzero(has):
        py[i] = html.unescape(py[i])
    return pa.array(py, type=arr.type)


def _normalize(arr: Any, form: str) -> Any:
    """Unicode normalisation with Python's unicodedata, on the non-ASCII texts only.

    ASCII text is the same in every form, so most rows are skipped; pyarrow's own
    ``utf8_normalize`` is not used because it leaves NFKC output decomposed (pyarrow 25).
    """
    import unicodedata

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.flatnonzero(~np.asarray(pc.string_is_ascii(arr), dtype=bool))
    if len(rows) == 0:
        return arr
    py = arr.to_pylist()
    for i in rows:
        py[i] = unicodedata.normalize(form, py[i])  # type: ignore[arg-type]
    return pa.array(py, type=arr.type)


def _map_words(arr: Any, fn: Any) -> Any:
    """Apply ``fn`` to each distinct whitespace-separated word; ``None`` drops the word."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = pc.utf8_split_whitespace(arr)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    flat = lists.flatten()
    counts: Any = np.diff(np.asarray(lists.offsets, dtype=np.int64))
    if len(flat) == 0:
        return arr
    enc = pc.dictionary_encode(flat)
    vocab = enc.dictionary.to_pylist()
    mapped = [fn(w) for w in vocab]
    ids = np.asarray(enc.indices, dtype=np.int64)
    keep_word = np.array([m is not None for m in mapped], dtype=bool)
    new_vocab = pa.array([m if m is not None else "" for m in mapped], type=pa.large_string())
    keep = keep_word[ids]
    doc = np.repeat(np.arange(len(counts)), counts)
    new_counts = np.bincount(doc[keep], minlength=len(counts))
    offsets = pa.array(np.concatenate([[0], np.cumsum(new_counts)]).astype(np.int32))
    values = new_vocab.take(pa.array(ids[keep]))
    rebuilt = pa.ListArray.from_arrays(offsets, values)
    return pc.binary_join(rebuilt, pa.scalar(" ", pa.large_string()))


def _clean(values: pd.Series, recipe: Recipe) -> Any:
    """One text column through the recipe's cleaning steps (vectorised with pyarrow)."""
    import string

    import pyarrow.compute as pc

    from llmops_magics.data import _text as T
    from llmops_magics.data._stopwords import ENGLISH_STOP_WORDS

    arr = T.arrow_text(values)
    if recipe.normalize:
        arr = _normalize(arr, recipe.normalize)
    if recipe.strip_html:
        arr = pc.replace_substring_regex(arr, r"</?[A-Za-z!][^<>]*>", " ")
        arr = _unescape(arr)
    if recipe.redact_pii:
        _, arr = T.pii_scan(arr, redact=True)
    if recipe.lowercase:
        arr = pc.utf8_lower(arr)
    if recipe.remove_stop_words or recipe.stem:
        stem = _stemmer() if recipe.stem else None
        punct = string.punctuation + "\u201c\u201d\u2018\u2019"

        def word(w: str) -> str | None:
            bare = w.strip(punct).lower()
            if not bare:  # punctuation on its own stays
                return w
            if recipe.remove_stop_words and bare in ENGLISH_STOP_WORDS:
                return None
            return stem(bare) if stem is not None else w

        arr = _map_words(arr, word)
    if recipe.collapse_whitespace:
        arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))
    return arr


def _stemmer() -> Any:
    try:
        from nltk.stem import PorterStemmer
    except ImportError as exc:
        from llmops_magics.errors import MissingDependencyError

        raise MissingDependencyError("nltk", "pip install nltk", purpose="stemming") from exc
    return PorterStemmer().stem


# --- the pipeline --------------------------------------------------------------------------


def prepare(
    df: Any,
    text: str | list[str] | None = None,
    *,
    recipe: Recipe | None = None,
    log: bool = True,
    progress: bool = True,
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
        Show a progress bar.
    name
        A name for the data in errors and in the run.
    **options
        Any :class:`Recipe` field: ``normalize``, ``strip_html``, ``collapse_whitespace``,
        ``lowercase``, ``remove_stop_words``, ``stem``, ``redact_pii``, ``dedup``,
        ``near_dedup``, ``near_threshold``, ``min_chars``, ``max_chars``, ``min_words``,
        ``max_words``, ``max_tokens``, ``model``, ``prompt``, ``response``, ``system``,
        ``output_column``, ``split``, ``seed``, ``stratify``.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    from tqdm.auto import tqdm

    from llmops_magics.data import _text as T

    if recipe is None:
        if text is None:
            raise DataError("prepare needs text=COLUMN (or recipe=...).", hint='e.g. text="text".')
        known = {f.name for f in dataclasses.fields(Recipe)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise DataError(
                f"Unknown option(s): {', '.join(unknown)}.",
                hint=f"Options are: {', '.join(sorted(known - {'text', 'version'}))}.",
            )
        recipe = Recipe(text=[text] if isinstance(text, str) else list(text), **options)
    elif text is not None or options:
        raise DataError("Give either a recipe or text and options, not both.")
    label = name or "data"
    for col in recipe.text:
        check_text_column(df, col, name=label, allow_mixed=False)
    frame: pd.DataFrame = df
    for role in ("prompt", "response", "stratify"):
        col = getattr(recipe, role)
        if col is not None:
            require_column(frame, col, name=label, role=f"{role} column")
    if recipe.prompt is not None and recipe.response is not None:
        for pair_col in (recipe.prompt, recipe.response):
            if pair_col not in recipe.text:
                check_text_column(frame, pair_col, name=label, allow_mixed=False)
    if (recipe.max_tokens is not None or recipe.prompt is not None) and recipe.model is None:
        recipe.model = "smollm2"
    input_hash = _content_hash(frame)
    steps: list[dict[str, Any]] = []
    n0 = len(frame)
    bar = tqdm(total=7, desc="prep", disable=not progress, leave=False)

    def record(step: str, before: int, after: int) -> None:
        steps.append(
            {"step": step, "rows_before": before, "rows_after": after, "removed": before - after}
        )
        bar.set_postfix_str(step)
        bar.update(1)

    out = frame.reset_index(drop=True).copy()
    out.insert(0, "source_row", np.arange(n0))
    columns = list(recipe.text)
    if recipe.prompt is not None and recipe.response is not None:
        columns += [c for c in (recipe.prompt, recipe.response) if c not in columns]
    cleaned = {}
    for col in columns:
        arr = _clean(out[col], recipe) if col in recipe.text else T.arrow_text(out[col])
        cleaned[col] = arr
        out[col] = pd.Series(arr.to_pylist(), dtype="str", index=out.index)
    missing = np.zeros(len(out), bool)
    for col in columns:
        missing |= np.asarray(frame[col].isna(), dtype=bool)
    record("clean", n0, n0)

    joined = cleaned[columns[0]]
    for col in columns[1:]:
        joined = pc.binary_join_element_wise(
            joined, cleaned[col], pa.scalar("\n", pa.large_string())
        )
    empty = np.zeros(len(out), bool)
    for col in columns:
        empty |= np.asarray(pc.utf8_length(cleaned[col]), dtype=np.int64) == 0
    keep = ~(empty | missing)
    record("drop empty", len(out), int(keep.sum()))

    before = int(keep.sum())
    if recipe.dedup:
        codes = np.asarray(pc.dictionary_encode(joined).indices, dtype=np.int64)
        rows = np.flatnonzero(keep)
        _, first = np.unique(codes[rows], return_index=True)
        first_mask = np.zeros(len(out), bool)
        first_mask[rows[first]] = True
        keep &= first_mask
    record("exact dedup", before, int(keep.sum()))

    before = int(keep.sum())
    if recipe.near_dedup and before > 1:
        rows = np.flatnonzero(keep)
        words = T.split_words(joined.take(pa.array(rows)))
        hv, offsets = T.shingles(words)
        sig = T.minhash_signatures(hv, offsets)
        comp = T.near_duplicate_components(
            sig, threshold=recipe.near_threshold, valid=np.diff(offsets) > 0
        )
        _, first = np.unique(comp, return_index=True)
        first_mask = np.zeros(len(out), bool)
        first_mask[rows[first]] = True
        keep &= first_mask
    record("near dedup", before, int(keep.sum()))

    before = int(keep.sum())
    chars = np.asarray(pc.utf8_length(joined), dtype=np.int64)
    words_n = T.token_counts(joined)
    for limit, values, low in (
        (recipe.min_chars, chars, True),
        (recipe.max_chars, chars, False),
        (recipe.min_words, words_n, True),
        (recipe.max_words, words_n, False),
    ):
        if limit is not None:
            keep &= values >= limit if low else values <= limit
    record("length filter", before, int(keep.sum()))

    out = out[keep].reset_index(drop=True)
    before = len(out)
    if recipe.prompt is not None or recipe.max_tokens is not None:
        from llmops_magics import models

        tokenizer = models.load(str(recipe.model)).tokenizer
        if recipe.prompt is not None:
            if not getattr(tokenizer, "chat_template", None):
                raise DataError(
                    f"The model {recipe.model!r} has no chat template to format with.",
                    hint="Use a chat model (the default smollm2 has one).",
                )
            texts = [
                str(
                    tokenizer.apply_chat_template(
                        ([{"role": "system", "content": recipe.system}] if recipe.system else [])
                        + [
                            {"role": "user", "content": p},
                            {"role": "assistant", "content": r},
                        ],
                        tokenize=False,
                    )
                )
                for p, r in zip(out[recipe.prompt], out[recipe.response], strict=True)
            ]
            out[recipe.output_column] = pd.Series(texts, dtype="str", index=out.index)
        if recipe.max_tokens is not None:
            if recipe.prompt is not None:
                counted = list(out[recipe.output_column])
            else:
                counted = _as_user_turns(tokenizer, list(out[columns[0]]), recipe.system)
            lengths = np.zeros(len(counted), np.int64)
            for lo in range(0, len(counted), 2048):
                enc = tokenizer(counted[lo : lo + 2048], add_special_tokens=False)["input_ids"]
                lengths[lo : lo + 2048] = [len(e) for e in enc]
            out = out[lengths <= recipe.max_tokens].reset_index(drop=True)
    record("tokens and format", before, len(out))

    if len(out) == 0:
        raise DataError(
            "No rows are left after cleaning and filtering.",
            hint="Loosen the filters; the steps were: "
            + "; ".join(f"{s['step']} removed {s['removed']}" for s in steps),
        )
    frames = _split(out, recipe)
    record("split", len(out), sum(len(f) for f in frames.values()))
    bar.close()
    result = PreparedDataset(
        train=frames["train"],
        validation=frames["validation"],
        test=frames["test"],
        recipe=recipe,
        content_hash=_split_hash(frames),
        input_hash=input_hash,
        steps=steps,
    )
    if log:
        _log(result, name or recipe.text[0])
    return result


def _as_user_turns(tokenizer: Any, texts: list[str], system: str | None) -> list[str]:
    if not getattr(tokenizer, "chat_template", None):
        return texts
    sentinel = "\x00LLMOPS-TEXT\x00"
    messages = [{"role": "user", "content": sentinel}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    rendered = str(
        tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    )
    prefix, _, suffix = rendered.partition(sentinel)
    return [prefix + t + suffix for t in texts]


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
    return {s: out[assignment == i].reset_index(drop=True) for i, s in enumerate(_SPLITS)}


def _allocate(n: int, fractions: list[float]) -> list[int]:
    """Whole sizes for ``n`` items by ``fractions`` (largest remainder; ties to earlier parts)."""
    raw = [f * n for f in fractions]
    sizes = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - sizes[i]), i))
    for i in order[: n - sum(sizes)]:
        sizes[i] += 1
    return sizes


def apply(recipe: Recipe | str | Path | dict[str, Any], df: Any, **kwargs: Any) -> PreparedDataset:
    """Redo a recipe (a :class:`Recipe`, its JSON file or dict) on ``df``.

    The same recipe on the same input gives the same :attr:`PreparedDataset.content_hash`.
    """
    if isinstance(recipe, Recipe):
        r = Recipe.from_json(dataclasses.asdict(recipe))
    elif isinstance(recipe, dict):
        r = Recipe.from_json(recipe)
    else:
        path = Path(recipe)
        if path.is_dir():
            path = path / "recipe.json"
        if not path.exists():
            raise DataError(f"No recipe at {path}.", hint="Give a recipe.json or its folder.")
        r = Recipe.load(path)
    return prepare(df, recipe=r, **kwargs)


def _log(result: PreparedDataset, name: str) -> None:
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    recipe = dataclasses.asdict(result.recipe)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"prep {name}") as run:
        mlflow.set_tags(
            {
                "llmops.stage": "prep",
                "llmops.data_hash": result.content_hash,
                "llmops.input_hash": result.input_hash,
            }
        )
        mlflow.log_params(
            {
                k: json.dumps(v) if isinstance(v, list) else ("" if v is None else v)
                for k, v in recipe.items()
            }
        )
        metrics = {f"rows_{s}": float(len(result[s])) for s in _SPLITS}
        metrics |= {
            f"removed_{s['step'].replace(' ', '_')}": float(s["removed"]) for s in result.steps
        }
        mlflow.log_metrics(metrics)
        mlflow.log_text(result.recipe.to_json(), "recipe.json")
        mlflow.log_dict({"steps": result.steps}, "steps.json")
    result.run_id = run.info.run_id
    result.tracking_uri = ws.tracking_uri
