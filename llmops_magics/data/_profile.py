"""Exploratory profile of a text column: ``profile(df, text=...)`` → :class:`EdaReport`.

The work runs as named steps (checks, lengths, duplicates, words, near duplicates, pii, tokens,
contamination, logging). Each step is a function that adds its sections to a :class:`Draft`;
the report's ``timings`` say how long each took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress
from llmops_magics.data._checks import (
    HUGE_TEXT_CHARS,
    TextColumn,
    check_text_column,
    require_column,
)
from llmops_magics.data._config import EdaConfig, make_config
from llmops_magics.data._hash import content_hash
from llmops_magics.data._report import Detail, EdaReport
from llmops_magics.data._steps import Steps

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from llmops_magics.data._text import Words

__all__ = ["Draft", "length_stats", "profile"]

#: the profiled column, a tag that only eda runs carry
TEXT_COLUMN = "llmops.text_column"


@dataclass
class Draft:
    """The report's sections while the steps fill them in, and the per-row data they share."""

    col: TextColumn
    arr: Any  # the texts as a pyarrow array ("" where a cell holds no text)
    config: EdaConfig
    chars: Any = None  # np.ndarray: characters per row
    words: Words | None = None  # the split words (None in minimal mode)
    valid: Any = None  # np.ndarray: rows with a text that is not empty or blank
    table: Any = None  # pd.DataFrame: one row per input row (text, chars, words...)
    quality: dict[str, Any] = field(default_factory=dict)
    lengths: dict[str, dict[str, float]] = field(default_factory=dict)
    outliers: dict[str, Any] = field(default_factory=dict)
    duplicates: dict[str, Any] = field(default_factory=dict)
    exact: Any = None  # _Exact: the duplicate groups of distinct texts
    labels: dict[str, Any] | None = None
    label_values: Any = None  # pd.Series of label names, per row
    vocabulary: dict[str, Any] | None = None
    top_ngrams: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    near_group: Any = None  # np.ndarray: near-duplicate group per row, -1 when none
    pii_counts: dict[str, Any] = field(default_factory=dict)
    pii: dict[str, dict[str, Any]] | None = None
    tokens: dict[str, Any] | None = None
    contamination: dict[str, Any] | None = None
    against_rows: Any = None  # pd.DataFrame of the other frame's overlapping rows

    @property
    def n(self) -> int:
        return len(self.col.values)


@dataclass
class _Exact:
    """Distinct texts among the valid rows, and which rows repeat one."""

    codes: np.ndarray  # per row: the code of its text
    valid_rows: np.ndarray
    uniq: np.ndarray  # the distinct codes among valid rows
    first_pos: np.ndarray  # per distinct code: its first position in valid_rows
    first_row_of_code: np.ndarray  # per code: the first valid row holding it (-1: none)
    group: np.ndarray  # per row: exact-duplicate group id (its text's first row), -1 when none

    @property
    def first_rows(self) -> np.ndarray:
        """The first row of each distinct text."""
        return self.valid_rows[self.first_pos]


def profile(
    df: Any,
    text: str,
    label: str | None = None,
    *,
    config: EdaConfig | None = None,
    against: Any = None,
    against_text: str | None = None,
    log: bool = True,
    name: str | None = None,
    progress: _progress.ProgressOption = None,
    **options: Any,
) -> EdaReport:
    """Profile the text column ``text`` of ``df`` (and its ``label`` column).

    Parameters
    ----------
    df
        A pandas DataFrame.
    text
        The column of texts.
    label
        Optional column of labels: distribution, imbalance, per-label lengths and n-grams.
    config
        An :class:`EdaConfig`; its fields may also be given as keywords (``**options``):

        - ``model``: a model spec: lengths in the model's tokens (its tokenizer, batched);
        - ``max_tokens``: the share of texts longer than this many tokens once wrapped in the
          chat template as a user turn (the truncation rate); the model defaults to
          ``smollm2``;
        - ``minimal``: only the cheap statistics (size, missing, lengths, exact duplicates,
          labels);
        - ``near_threshold``, ``num_perm``, ``shingle_size``: near duplicates have an
          estimated Jaccard similarity of word ``shingle_size``-grams of at least
          ``near_threshold``, from MinHash signatures with ``num_perm`` permutations and LSH;
        - ``top``: how many top words and n-grams to keep.
    against
        A second frame (say the evaluation split): how many of its texts occur in ``df``
        exactly (after lower-casing and collapsing whitespace) or nearly (MinHash).
    against_text
        The text column of ``against`` (default: ``text``).
    log
        Log the profile to the workspace (an MLflow run tagged with the data's content hash).
    name
        A name for the data in the run (default: the text column).
    progress
        Where progress goes (see :func:`llmops_magics.progress.channel`); False for none.
    """
    from llmops_magics.data import _text as T

    cfg = make_config(EdaConfig, config, options)
    started = time.perf_counter()
    col = check_text_column(df, text, name=name or "data")
    if label is not None:
        require_column(df, label, name=name or "data", role="label column")
    if against is not None:
        check_text_column(against, against_text or text, name="against")
    with Steps("eda", len(_plan(cfg, against is not None, log)), progress) as steps:
        data_hash = content_hash(df)
        values = col.values.where(col.is_text, "") if col.non_string.any() else col.values
        draft = Draft(col, T.arrow_text(values), cfg)
        steps.step("checks")
        _lengths(draft)
        steps.step("lengths")
        _exact_duplicates(draft)
        steps.step("duplicates")
        if label is not None:
            _labels(draft, df[label])
        _text_statistics(draft, steps, progress)
        if against is not None:
            _contamination(draft, against, against_text or text)
            if not cfg.minimal:
                steps.step("contamination")
        report = _report(draft, text, label, data_hash, name)
        report.timings = steps.timings
        if log:
            _log(report, started)
            steps.step("logging")
    report.elapsed_s = time.perf_counter() - started
    return report


def _plan(cfg: EdaConfig, against: bool, log: bool) -> list[str]:
    """The names of the steps a profile runs."""
    steps = ["checks", "lengths", "duplicates"]
    if not cfg.minimal:
        steps += ["words", "near duplicates", "pii"]
    if cfg.model:
        steps.append("tokens")
    if against and not cfg.minimal:
        steps.append("contamination")
    if log:
        steps.append("logging")
    return steps


def _text_statistics(draft: Draft, steps: Steps, progress: _progress.ProgressOption) -> None:
    """The words, near duplicates and PII (unless minimal) and the tokens (with a model)."""
    from llmops_magics.data import _eda_words as W

    if draft.words is not None:
        W.words(draft)
        steps.step("words")
        W.near_duplicates(draft)
        steps.step("near duplicates")
        W.pii(draft)
        steps.step("pii")
    else:
        draft.duplicates.update({"near_duplicate_texts": 0, "near_duplicate_groups": 0})
    if draft.config.model:
        _tokens(draft, progress)
        steps.step("tokens")


# --- the cheap steps -----------------------------------------------------------------------------


def length_stats(x: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Summary of lengths and the IQR outlier mask (below Q1-1.5·IQR or above Q3+1.5·IQR)."""
    import numpy as np

    if len(x) == 0:
        return {"count": 0}, np.zeros(0, bool)
    q1, med, q3 = (float(v) for v in np.percentile(x, [25, 50, 75]))
    iqr = q3 - q1
    lo, hi = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    mask = (x < lo) | (x > hi)
    stats = {
        "count": len(x),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        "min": float(x.min()),
        "q1": q1,
        "median": med,
        "q3": q3,
        "max": float(x.max()),
        "lower_fence": lo,
        "upper_fence": hi,
        "outliers": int(mask.sum()),
        "outlier_share": float(mask.mean()),
    }
    return stats, mask


def _add_lengths(draft: Draft, kind: str, values: np.ndarray) -> None:
    """Length statistics of ``kind`` over the valid rows, and the per-row outlier mask."""
    import numpy as np

    stats, mask = length_stats(values[draft.valid])
    draft.lengths[kind] = stats
    full = np.zeros(draft.n, bool)
    full[draft.valid] = mask
    draft.outliers[kind] = full


def _lengths(draft: Draft) -> None:
    """Quality counts (missing, empty, blank, non-text, huge) and lengths in chars and words."""
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc

    from llmops_magics.data import _text as T

    col, arr = draft.col, draft.arr
    chars = np.asarray(pc.utf8_length(arr), dtype=np.int64)
    all_space = np.asarray(pc.utf8_is_space(arr), dtype=bool)  # non-empty and only whitespace
    words = None if draft.config.minimal else T.split_words(arr)
    words_ws = words.tokens if words is not None else T.token_counts(arr)
    is_text = col.is_text
    valid = is_text & (chars > 0) & ~all_space
    draft.chars, draft.words, draft.valid = chars, words, valid
    draft.quality = {
        "rows": draft.n,
        "missing": int(col.missing.sum()),
        "empty": int((is_text & (chars == 0)).sum()),
        "whitespace_only": int((is_text & all_space).sum()),
        "non_string": int(col.non_string.sum()),
        "valid": int(valid.sum()),
        "huge_texts": int((chars >= HUGE_TEXT_CHARS).sum()),
    }
    draft.table = pd.DataFrame(
        {
            "text": col.values.to_numpy(dtype=object),
            "chars": np.where(is_text, chars, -1),
            "words": np.where(is_text, words_ws, -1),
        }
    )
    _add_lengths(draft, "chars", chars)
    _add_lengths(draft, "words", words_ws)


def _exact_duplicates(draft: Draft) -> None:
    """Distinct texts and the groups of rows that repeat one exactly."""
    import numpy as np
    import pyarrow.compute as pc

    codes = np.asarray(pc.dictionary_encode(draft.arr).indices, dtype=np.int64)
    valid_rows = np.flatnonzero(draft.valid)
    vcodes = codes[valid_rows]
    uniq, first_pos, counts = np.unique(vcodes, return_index=True, return_counts=True)
    first_row_of_code = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, np.int64)
    first_row_of_code[uniq] = valid_rows[first_pos]
    group = np.full(draft.n, -1, np.int64)
    dup_codes = np.zeros(len(first_row_of_code), bool)
    dup_codes[uniq[counts > 1]] = True
    in_dup = valid_rows[dup_codes[vcodes]]
    group[in_dup] = first_row_of_code[codes[in_dup]]
    draft.exact = _Exact(codes, valid_rows, uniq, first_pos, first_row_of_code, group)
    draft.near_group = np.full(draft.n, -1, np.int64)  # filled in by the near-duplicate step
    repeats = len(valid_rows) - len(uniq)
    draft.duplicates = {
        "distinct_texts": len(uniq),
        "exact_duplicate_rows": int(repeats),
        "exact_duplicate_groups": int((counts > 1).sum()),
        "exact_duplicate_share": float(repeats / max(len(valid_rows), 1)),
    }


def _labels(draft: Draft, labels: pd.Series) -> None:
    """Label counts, imbalance and lengths per label."""
    values = labels.astype(object).where(labels.notna(), "<missing>").map(str)
    table, valid = draft.table, draft.valid
    table["label"] = values.to_numpy()
    counts = values[valid].value_counts()
    per_label = (
        table[valid].groupby("label")[["chars", "words"]].agg(["mean", "median", "min", "max"])
    )
    per_label.columns = [f"{c[0]}_{c[1]}" for c in per_label.columns]
    draft.label_values = values
    draft.labels = {
        "counts": {str(k): int(v) for k, v in counts.items()},
        "n_labels": len(counts),
        "imbalance_ratio": float(counts.max() / counts.min()) if len(counts) else 0.0,
        "per_label_lengths": {
            str(k): {c: float(v) for c, v in row.items()} for k, row in per_label.iterrows()
        },
    }


def _tokens(draft: Draft, progress: _progress.ProgressOption) -> None:
    """Lengths in the model's tokens, and the truncation rate after its chat template."""
    from llmops_magics.data._tokens import token_lengths

    cfg, table = draft.config, draft.table
    tok_len, templ_len, draft.tokens = token_lengths(
        draft.arr.to_pylist(),
        draft.valid,
        model=str(cfg.model),
        max_tokens=cfg.max_tokens,
        progress=progress,
    )
    table["tokens"] = tok_len
    _add_lengths(draft, "tokens", tok_len)
    if templ_len is not None:
        table["templated_tokens"] = templ_len
    if draft.labels is not None:
        per_tok = table[draft.valid].groupby("label")["tokens"].agg(["mean", "median", "max"])
        for key, tok_row in per_tok.iterrows():
            draft.labels["per_label_lengths"][str(key)].update(
                {f"tokens_{c}": float(v) for c, v in tok_row.items()}
            )


def _contamination(draft: Draft, against: pd.DataFrame, column: str) -> None:
    """How many texts of ``against`` occur in the data, exactly or (unless minimal) nearly."""
    from llmops_magics.data._contamination import overlap

    cfg = draft.config
    draft.contamination, draft.against_rows = overlap(
        draft.arr,
        draft.valid,
        against,
        column,
        near=not cfg.minimal,
        threshold=cfg.near_threshold,
        num_perm=cfg.num_perm,
        shingle_size=cfg.shingle_size,
    )


# --- the report and its run ----------------------------------------------------------------------


def _report(
    draft: Draft, text: str, label: str | None, data_hash: str, name: str | None
) -> EdaReport:
    cfg = draft.config
    return EdaReport(
        text_column=text,
        label_column=label,
        rows=draft.n,
        content_hash=data_hash,
        quality=draft.quality,
        lengths=draft.lengths,
        duplicates=draft.duplicates,
        vocabulary=draft.vocabulary,
        top_ngrams=draft.top_ngrams,
        labels=draft.labels,
        tokens=draft.tokens,
        pii=draft.pii,
        contamination=draft.contamination,
        params={
            "text": text,
            "label": label,
            "model": cfg.model,
            "max_tokens": cfg.max_tokens,
            "minimal": cfg.minimal,
            "near_threshold": cfg.near_threshold,
            "num_perm": cfg.num_perm,
            "shingle_size": cfg.shingle_size,
            "name": name or text,
        },
        elapsed_s=0.0,
        _detail=Detail(
            draft.table,
            draft.near_group,
            draft.exact.group,
            draft.pii_counts,
            draft.outliers,
            draft.against_rows,
        ),
    )


def _log(report: EdaReport, started: float) -> None:
    """Log the profile as an ``eda`` run in the workspace, tagged with the data's hash."""
    from llmops_magics import tracking

    t = tracking.tracker()
    name = report.params.get("name") or report.text_column
    params = report.params | {"rows": report.rows, "content_hash": report.content_hash}
    tags = {tracking.DATA_HASH: report.content_hash, TEXT_COLUMN: report.text_column}
    with t.start_run("eda", name=f"eda {name}", tags=tags, params=params) as run:
        run.log_metrics(report.metrics() | {"elapsed_s": time.perf_counter() - started})
        run.log_dict(report.to_dict(), "eda_report.json")
    report.run_id = run.id
    report.tracking_uri = t.uri
