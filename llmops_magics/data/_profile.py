"""Exploratory profile of a text column: ``profile(df, text=...)`` → :class:`EdaReport`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.data._checks import HUGE_TEXT_CHARS, check_text_column, require_column
from llmops_magics.data._hash import content_hash as _content_hash
from llmops_magics.errors import DataError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["EdaReport", "profile"]

_LENGTH_KINDS = ("chars", "words", "tokens")


@dataclass
class _Detail:
    """Per-row data behind the report's numbers (for inspection and plots; not in to_dict)."""

    table: pd.DataFrame  # one row per input row: text, chars, words[, tokens, templated], label
    near_group: np.ndarray  # per row: near-duplicate group id, -1 when none
    exact_group: np.ndarray  # per row: exact-duplicate group id, -1 when none
    pii_counts: dict[str, np.ndarray]
    outliers: dict[str, np.ndarray]  # kind -> bool per row
    against: pd.DataFrame | None = None  # rows of the other frame that overlap


@dataclass
class EdaReport(Result):
    """What :func:`profile` found in a text column.

    The numbers are plain data (``to_dict()``, ``to_frame()``); the rows behind them are one call
    away: :meth:`near_duplicates`, :meth:`exact_duplicates`, :meth:`outliers`, :meth:`pii_rows`,
    :meth:`contaminated`. In a notebook the report renders as a tabbed panel with figures;
    :meth:`panel` gives the same as an ipywidgets ``Tab``.
    """

    text_column: str
    label_column: str | None
    rows: int
    content_hash: str
    quality: dict[str, Any]
    lengths: dict[str, dict[str, float]]
    duplicates: dict[str, Any]
    vocabulary: dict[str, Any] | None
    top_ngrams: dict[str, list[tuple[str, int]]]
    labels: dict[str, Any] | None
    tokens: dict[str, Any] | None
    pii: dict[str, dict[str, Any]] | None
    contamination: dict[str, Any] | None
    params: dict[str, Any]
    elapsed_s: float
    #: seconds spent in each step (checks, lengths, duplicates, words, ...)
    timings: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    tracking_uri: str | None = None
    _detail: _Detail | None = field(default=None, repr=False, compare=False)

    _title = "EDA report"

    # --- data views -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every statistic as plain, JSON-ready Python data (no per-row arrays)."""
        import dataclasses

        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if not f.name.startswith("_")
        }

    def to_frame(self) -> pd.DataFrame:
        """The statistics as a long table: section, statistic, value."""
        import pandas as pd

        rows: list[tuple[str, str, Any]] = [
            ("data", "rows", self.rows),
            ("data", "content_hash", self.content_hash),
        ]
        rows += [("quality", k, v) for k, v in self.quality.items()]
        for kind, stats in self.lengths.items():
            rows += [(f"length_{kind}", k, v) for k, v in stats.items()]
        rows += [("duplicates", k, v) for k, v in self.duplicates.items()]
        if self.vocabulary:
            rows += [("vocabulary", k, v) for k, v in self.vocabulary.items()]
        for n, top in self.top_ngrams.items():
            rows.append(("top_ngrams", f"{n}-grams", ", ".join(f"{g} ({c})" for g, c in top[:10])))
        if self.tokens:
            rows += [("tokens", k, v) for k, v in self.tokens.items()]
        if self.labels:
            rows += [("labels", f"count[{k}]", v) for k, v in self.labels["counts"].items()]
            rows.append(("labels", "imbalance_ratio", self.labels["imbalance_ratio"]))
        if self.pii:
            rows += [("pii", f"{k}_matches", v["matches"]) for k, v in self.pii.items()]
            rows += [("pii", f"{k}_rows", v["rows"]) for k, v in self.pii.items()]
        if self.contamination:
            rows += [
                ("contamination", k, v)
                for k, v in self.contamination.items()
                if not isinstance(v, list)
            ]
        return pd.DataFrame(rows, columns=["section", "statistic", "value"])

    def metrics(self) -> dict[str, float]:
        """The numeric statistics, flat (``section.statistic``), as logged to MLflow."""
        import math

        out: dict[str, float] = {}
        for section, stat, value in self.to_frame().itertuples(index=False):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                continue
            key = f"{section}.{stat}".replace("[", "_").replace("]", "")
            out[_metric_key(key)] = float(value)
        return out

    def _summary(self) -> str:
        q, d = self.quality, self.duplicates
        return (
            f"EDA of {self.text_column!r}: {self.rows:,} rows, {q['valid']:,} usable texts, "
            f"{d['exact_duplicate_rows']:,} exact and {d['near_duplicate_texts']:,} near "
            f"duplicates, hash {self.content_hash}"
            + (f", run {self.run_id}" if self.run_id else "")
        )

    def __repr__(self) -> str:
        return f"<EdaReport {self._summary()}>"

    def _repr_html_(self) -> str:
        from llmops_magics.data._report_html import report_html

        return report_html(self)

    # --- the rows behind the numbers --------------------------------------------------------

    def _need_detail(self) -> _Detail:
        if self._detail is None:
            raise DataError(
                "This report has no per-row detail (it was loaded from its JSON).",
                hint="Run profile() again on the frame to inspect rows.",
            )
        return self._detail

    def near_duplicates(self) -> pd.DataFrame:
        """Rows in near-duplicate groups: group, row, text (a group holds ≥ 2 distinct texts)."""
        import numpy as np
        import pandas as pd

        d = self._need_detail()
        rows = np.flatnonzero(d.near_group >= 0)
        frame = pd.DataFrame(
            {"group": d.near_group[rows], "row": rows, "text": d.table["text"].to_numpy()[rows]}
        )
        return frame.sort_values(["group", "row"], kind="stable").reset_index(drop=True)

    def exact_duplicates(self) -> pd.DataFrame:
        """Texts that occur more than once: text, count, rows (most frequent first)."""
        import numpy as np
        import pandas as pd

        d = self._need_detail()
        rows = np.flatnonzero(d.exact_group >= 0)
        if len(rows) == 0:
            return pd.DataFrame(columns=["text", "count", "rows"])
        frame = pd.DataFrame({"group": d.exact_group[rows], "row": rows})
        grouped = frame.groupby("group", sort=False)["row"].agg(list)
        texts = d.table["text"].to_numpy()
        out = pd.DataFrame(
            {
                "text": [texts[r[0]] for r in grouped],
                "count": [len(r) for r in grouped],
                "rows": list(grouped),
            }
        )
        return out.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)

    def outliers(self, kind: str = "chars") -> pd.DataFrame:
        """Rows whose length in ``kind`` (chars, words, tokens) lies outside the IQR fences."""
        import numpy as np

        d = self._need_detail()
        if kind not in d.outliers:
            raise DataError(
                f"No length statistics in {kind!r}.",
                hint=f"Choose one of: {', '.join(d.outliers)}.",
            )
        rows = np.flatnonzero(d.outliers[kind])
        cols = ["text", kind]
        out = d.table.iloc[rows][cols].copy()
        out.insert(0, "row", rows)
        return out.sort_values(kind, ascending=False, kind="stable").reset_index(drop=True)

    def pii_rows(self, kind: str | None = None) -> pd.DataFrame:
        """Rows with PII matches: row, text and a count per kind (or only ``kind``)."""
        import numpy as np
        import pandas as pd

        d = self._need_detail()
        if not d.pii_counts:
            raise DataError("The PII scan was not run for this report.", hint="Use pii=True.")
        kinds = list(d.pii_counts) if kind is None else [kind]
        for k in kinds:
            if k not in d.pii_counts:
                raise DataError(
                    f"Unknown PII kind {k!r}.", hint=f"Use one of {list(d.pii_counts)}."
                )
        hit = np.zeros(len(d.table), bool)
        for k in kinds:
            hit |= d.pii_counts[k] > 0
        rows = np.flatnonzero(hit)
        out = pd.DataFrame({"row": rows, "text": d.table["text"].to_numpy()[rows]})
        for k in kinds:
            out[k] = d.pii_counts[k][rows]
        return out

    def contaminated(self) -> pd.DataFrame:
        """Rows of the ``against`` frame that also occur (exactly or nearly) in the data."""
        d = self._need_detail()
        if d.against is None:
            raise DataError("No --against frame was given.", hint="Profile with against=DF2.")
        return d.against.copy()

    # --- pictures ---------------------------------------------------------------------------

    def figures(self) -> dict[str, Figure]:
        """Matplotlib figures: lengths, labels, words, PII (those that apply)."""
        from llmops_magics.data._report_html import figures

        return figures(self)

    def panel(self) -> Any:
        """The report as an ipywidgets panel (:class:`llmops_magics.widgets.eda.EdaPanel`)."""
        from llmops_magics.widgets.eda import EdaPanel

        return EdaPanel(self)


def _metric_key(key: str) -> str:
    import re

    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", key)[:250]


def _plain(value: Any) -> Any:
    """JSON-ready copy of nested statistics (numpy scalars become Python numbers)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _length_stats(x: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
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


def profile(
    df: Any,
    text: str,
    label: str | None = None,
    *,
    model: str | None = None,
    max_tokens: int | None = None,
    against: Any = None,
    against_text: str | None = None,
    minimal: bool = False,
    near_threshold: float = 0.8,
    num_perm: int = 64,
    shingle_size: int = 3,
    top: int = 20,
    log: bool = True,
    name: str | None = None,
    progress: bool = True,
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
    model
        A model spec: lengths in the model's tokens (its tokenizer, batched).
    max_tokens
        With a model: the share of texts longer than this many tokens once wrapped in the chat
        template as a user turn (the truncation rate). Without ``model`` the session default
        ``smollm2`` is used.
    against
        A second frame (say the evaluation split): how many of its texts occur in ``df``
        exactly (after lower-casing and collapsing whitespace) or nearly (MinHash).
    against_text
        The text column of ``against`` (default: ``text``).
    minimal
        Only the cheap statistics (size, missing, lengths, exact duplicates, labels).
    near_threshold, num_perm, shingle_size
        Near duplicates: estimated Jaccard similarity of word ``shingle_size``-grams at least
        ``near_threshold``, from MinHash signatures with ``num_perm`` permutations and LSH.
    top
        How many top words and n-grams to keep.
    log
        Log the profile to the workspace (an MLflow run tagged with the data's content hash).
    name
        A name for the data in the run (default: the text column).
    progress
        Show a progress bar.
    """
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc
    from tqdm.auto import tqdm

    from llmops_magics.data import _text as T
    from llmops_magics.data._stopwords import ENGLISH_STOP_WORDS

    started = time.perf_counter()
    if not 0 < near_threshold <= 1:
        raise DataError(f"near_threshold must be in (0, 1], got {near_threshold}.")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise DataError(f"max_tokens must be a positive integer, got {max_tokens!r}.")
    col = check_text_column(df, text, name=name or "data")
    frame: pd.DataFrame = df
    if label is not None:
        require_column(frame, label, name=name or "data", role="label column")
    if against is not None:
        check_text_column(against, against_text or text, name="against")
    if max_tokens is not None and model is None:
        model = "smollm2"
    n = len(frame)
    steps = ["checks", "lengths", "duplicates"]
    if not minimal:
        steps += ["words", "near duplicates", "pii"]
    if model:
        steps.append("tokens")
    if against is not None and not minimal:
        steps.append("contamination")
    if log:
        steps.append("logging")
    bar = tqdm(total=len(steps), desc="eda", disable=not progress, leave=False)

    timings: dict[str, float] = {}
    last = [time.perf_counter()]

    def step(what: str) -> None:
        now = time.perf_counter()
        timings[what] = round(now - last[0], 4)
        last[0] = now
        bar.set_postfix_str(what)
        bar.update(1)

    data_hash = _content_hash(frame)
    arr = T.arrow_text(col.values.where(col.is_text, "") if col.non_string.any() else col.values)
    step("checks")

    # --- quality and lengths -----------------------------------------------------------------
    chars = np.asarray(pc.utf8_length(arr), dtype=np.int64)
    all_space = np.asarray(pc.utf8_is_space(arr), dtype=bool)  # non-empty and only whitespace
    words = None if minimal else T.split_words(arr)
    words_ws = words.tokens if words is not None else T.token_counts(arr)
    is_text = col.is_text
    empty = is_text & (chars == 0)
    blank = is_text & all_space
    valid = is_text & (chars > 0) & ~all_space
    quality = {
        "rows": n,
        "missing": int(col.missing.sum()),
        "empty": int(empty.sum()),
        "whitespace_only": int(blank.sum()),
        "non_string": int(col.non_string.sum()),
        "valid": int(valid.sum()),
        "huge_texts": int((chars >= HUGE_TEXT_CHARS).sum()),
    }
    table = pd.DataFrame(
        {
            "text": col.values.to_numpy(dtype=object),
            "chars": np.where(is_text, chars, -1),
            "words": np.where(is_text, words_ws, -1),
        }
    )
    lengths: dict[str, dict[str, float]] = {}
    outliers: dict[str, np.ndarray] = {}
    for kind, values in (("chars", chars), ("words", words_ws)):
        stats, mask = _length_stats(values[valid])
        lengths[kind] = stats
        full = np.zeros(n, bool)
        full[valid] = mask
        outliers[kind] = full
    step("lengths")

    # --- exact duplicates --------------------------------------------------------------------
    codes = np.asarray(pc.dictionary_encode(arr).indices, dtype=np.int64)
    valid_rows = np.flatnonzero(valid)
    vcodes = codes[valid_rows]
    uniq, first_pos, counts = np.unique(vcodes, return_index=True, return_counts=True)
    first_row_of_code = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, np.int64)
    first_row_of_code[uniq] = valid_rows[first_pos]
    exact_group = np.full(n, -1, np.int64)
    dup_codes = np.zeros(len(first_row_of_code), bool)
    dup_codes[uniq[counts > 1]] = True
    in_dup = valid_rows[dup_codes[vcodes]]
    exact_group[in_dup] = first_row_of_code[codes[in_dup]]
    duplicates: dict[str, Any] = {
        "distinct_texts": len(uniq),
        "exact_duplicate_rows": int(len(valid_rows) - len(uniq)),
        "exact_duplicate_groups": int((counts > 1).sum()),
        "exact_duplicate_share": float((len(valid_rows) - len(uniq)) / max(len(valid_rows), 1)),
    }
    step("duplicates")

    labels_info: dict[str, Any] | None = None
    label_values: pd.Series | None = None
    if label is not None:
        label_values = frame[label].astype(object).where(frame[label].notna(), "<missing>")
        label_values = label_values.map(str)
        table["label"] = label_values.to_numpy()
        counts_l = label_values[valid].value_counts()
        per_label = (
            table[valid].groupby("label")[["chars", "words"]].agg(["mean", "median", "min", "max"])
        )
        per_label.columns = [f"{c[0]}_{c[1]}" for c in per_label.columns]
        labels_info = {
            "counts": {str(k): int(v) for k, v in counts_l.items()},
            "n_labels": len(counts_l),
            "imbalance_ratio": float(counts_l.max() / counts_l.min()) if len(counts_l) else 0.0,
            "per_label_lengths": {
                str(k): {c: float(v) for c, v in row.items()} for k, row in per_label.iterrows()
            },
        }

    vocabulary: dict[str, Any] | None = None
    top_ngrams: dict[str, list[tuple[str, int]]] = {}
    near_group = np.full(n, -1, np.int64)
    pii_counts: dict[str, np.ndarray] = {}
    pii_info: dict[str, dict[str, Any]] | None = None
    if words is not None:
        doc = words.doc
        total_words = len(words.ids)
        ascii_ok = np.asarray(pc.string_is_ascii(arr), dtype=bool)
        vocabulary = {
            "total_words": total_words,
            "vocabulary_size": len(words.vocab),
            "type_token_ratio": float(len(words.vocab) / total_words) if total_words else 0.0,
            "non_ascii_texts": int((~ascii_ok & valid).sum()),
            "non_ascii_share": float((~ascii_ok & valid).sum() / max(valid.sum(), 1)),
        }
        stop = np.asarray(pd.Series(words.vocab).isin(ENGLISH_STOP_WORDS), dtype=bool)
        keep = ~stop[words.ids] if len(words.ids) else np.zeros(0, bool)
        ids_k, doc_k = words.ids[keep], doc[keep]
        for k in (1, 2, 3):
            top_ngrams[str(k)] = T.ngram_counts(ids_k, doc_k, k, words.vocab, top=top)
        if labels_info is not None and label_values is not None:
            per: dict[str, dict[str, list[tuple[str, int]]]] = {}
            lab_codes, lab_names = pd.factorize(label_values.to_numpy())
            tok_lab = lab_codes[doc_k]
            for name_l in list(labels_info["counts"])[:20]:
                code = int(np.flatnonzero(lab_names == name_l)[0])
                sel = tok_lab == code
                per[name_l] = {
                    str(k): T.ngram_counts(ids_k[sel], doc_k[sel], k, words.vocab, top=top)
                    for k in (1, 2)
                }
            labels_info["top_ngrams"] = per
        step("words")

        # --- near duplicates over distinct texts ---------------------------------------------
        hv, offsets = T.shingles(words, shingle_size)
        first_rows = valid_rows[first_pos]
        sub_offsets_counts = np.diff(offsets)[first_rows]
        idx = _ranges(offsets[first_rows], sub_offsets_counts)
        sub_off = np.concatenate([[0], np.cumsum(sub_offsets_counts)]).astype(np.int64)
        sig = T.minhash_signatures(hv[idx], sub_off, num_perm=num_perm)
        comp = T.near_duplicate_components(
            sig, threshold=near_threshold, valid=sub_offsets_counts > 0
        )
        comp_sizes = np.bincount(comp)
        grouped = comp_sizes[comp] > 1
        # group id = the first row of the group's first distinct text
        comp_first = np.full(len(comp_sizes), -1, np.int64)
        order = np.argsort(first_rows, kind="stable")
        for_first = comp[order]
        _, pos = np.unique(for_first, return_index=True)
        comp_first[for_first[pos]] = first_rows[order][pos]
        group_of_code = np.full(len(first_row_of_code), -1, np.int64)
        group_of_code[uniq[grouped]] = comp_first[comp[grouped]]
        near_group[valid_rows] = group_of_code[vcodes]
        duplicates.update(
            {
                "near_duplicate_texts": int((comp_sizes[comp_sizes > 1] - 1).sum()),
                "near_duplicate_groups": int((comp_sizes > 1).sum()),
                "near_duplicate_rows": int((near_group >= 0).sum()),
                "near_threshold": near_threshold,
                "num_perm": num_perm,
                "shingle_size": shingle_size,
            }
        )
        step("near duplicates")

        counts_p, _ = T.pii_scan(arr)
        pii_info = {}
        for kind, c in counts_p.items():
            c = np.where(valid, c, 0)
            pii_counts[kind] = c
            rows_k = np.flatnonzero(c)
            pii_info[kind] = {
                "matches": int(c.sum()),
                "rows": len(rows_k),
                "example_rows": [int(r) for r in rows_k[:5]],
            }
        step("pii")
    else:
        duplicates.update({"near_duplicate_texts": 0, "near_duplicate_groups": 0})

    tokens_info: dict[str, Any] | None = None
    if model:
        tok_len, templ_len, tokens_info = _token_lengths(
            arr, valid, model=model, max_tokens=max_tokens, progress=progress
        )
        table["tokens"] = tok_len
        stats, mask = _length_stats(tok_len[valid])
        lengths["tokens"] = stats
        full = np.zeros(n, bool)
        full[valid] = mask
        outliers["tokens"] = full
        if templ_len is not None:
            table["templated_tokens"] = templ_len
        if labels_info is not None:
            per_tok = table[valid].groupby("label")["tokens"].agg(["mean", "median", "max"])
            for key, tok_row in per_tok.iterrows():
                labels_info["per_label_lengths"][str(key)].update(
                    {f"tokens_{c}": float(v) for c, v in tok_row.items()}
                )
        step("tokens")

    contamination = None
    against_rows = None
    if against is not None:
        contamination, against_rows = _contamination(
            arr,
            valid,
            against,
            against_text or text,
            near=not minimal,
            threshold=near_threshold,
            num_perm=num_perm,
            shingle_size=shingle_size,
        )
        if not minimal:
            step("contamination")

    report = EdaReport(
        text_column=text,
        label_column=label,
        rows=n,
        content_hash=data_hash,
        quality=quality,
        lengths=lengths,
        duplicates=duplicates,
        vocabulary=vocabulary,
        top_ngrams=top_ngrams,
        labels=labels_info,
        tokens=tokens_info,
        pii=pii_info,
        contamination=contamination,
        params={
            "text": text,
            "label": label,
            "model": model,
            "max_tokens": max_tokens,
            "minimal": minimal,
            "near_threshold": near_threshold,
            "num_perm": num_perm,
            "shingle_size": shingle_size,
            "name": name or text,
        },
        elapsed_s=0.0,
        timings=timings,
        _detail=_Detail(table, near_group, exact_group, pii_counts, outliers, against_rows),
    )
    if log:
        _log(report, started)
        step("logging")
    report.elapsed_s = time.perf_counter() - started
    bar.close()
    return report


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + c)`` for each pair, without a Python loop."""
    import numpy as np

    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    out = np.ones(total, np.int64)
    nz = counts > 0
    s, c, e = starts[nz], counts[nz], ends[nz]
    out[0] = s[0]
    # at each new range: jump from the previous range's last value to this range's start
    out[(e - c)[1:]] = s[1:] - (s[:-1] + c[:-1] - 1)
    return np.cumsum(out)


def _token_lengths(
    arr: Any, valid: np.ndarray, *, model: str, max_tokens: int | None, progress: bool
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Token counts per text (batched fast tokenizer) and, with a chat template, per turn."""
    import numpy as np
    from tqdm.auto import tqdm

    from llmops_magics import models

    tokenizer = models.load(model).tokenizer
    texts = arr.to_pylist()
    rows = np.flatnonzero(valid)
    n = len(texts)
    raw = np.full(n, -1, np.int64)
    batch = 2048

    def count(items: list[str]) -> np.ndarray:
        enc = tokenizer(items, add_special_tokens=False)["input_ids"]
        return np.fromiter((len(e) for e in enc), dtype=np.int64, count=len(items))

    for lo in tqdm(range(0, len(rows), batch), desc="tokens", disable=not progress, leave=False):
        part = rows[lo : lo + batch]
        raw[part] = count([texts[i] for i in part])
    info: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
    templated: np.ndarray | None = None
    if getattr(tokenizer, "chat_template", None):
        sentinel = "\x00LLMOPS-TEXT\x00"
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": sentinel}], tokenize=False, add_generation_prompt=True
        )
        prefix, _, suffix = str(rendered).partition(sentinel)
        overhead = len(tokenizer(prefix + suffix, add_special_tokens=False)["input_ids"])
        templated = np.full(n, -1, np.int64)
        templated[rows] = raw[rows] + overhead
        # The shortcut (text tokens + template tokens) holds when no token spans a boundary;
        # check a sample and count exactly where it does not.
        sample = rows[:: max(1, len(rows) // 64)][:64]
        exact = count([prefix + texts[i] + suffix for i in sample])
        if not np.array_equal(exact, templated[sample]):
            for lo in range(0, len(rows), batch):
                part = rows[lo : lo + batch]
                templated[part] = count([prefix + texts[i] + suffix for i in part])
        info["chat_template"] = True
        info["template_tokens"] = overhead
    else:
        info["chat_template"] = False
    counted = templated if templated is not None else raw
    if max_tokens is not None:
        over = counted[rows] > max_tokens
        info["truncated"] = int(over.sum())
        info["truncation_rate"] = float(over.mean()) if len(rows) else 0.0
    info["total_tokens"] = int(raw[rows].sum())
    return raw, templated, info


def _contamination(
    arr: Any,
    valid: np.ndarray,
    against: pd.DataFrame,
    column: str,
    *,
    near: bool,
    threshold: float,
    num_perm: int,
    shingle_size: int,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """How many texts of ``against`` occur in the data, exactly or nearly."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from llmops_magics.data import _text as T

    other_col = check_text_column(against, column, name="against")
    other = T.arrow_text(other_col.values.where(other_col.is_text, ""))
    other_valid = other_col.is_text & (
        np.asarray(pc.utf8_length(pc.utf8_trim_whitespace(other)), dtype=np.int64) > 0
    )

    def normal(a: Any) -> Any:
        return pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(a), r"\s+", " "))

    mine = normal(arr).filter(pa.array(valid))
    exact = np.asarray(pc.is_in(normal(other), value_set=mine), dtype=bool) & other_valid
    near_hit = exact.copy()
    if near:
        both = pa.concat_arrays([arr.filter(pa.array(valid)), other])
        words = T.split_words(both)
        hv, offsets = T.shingles(words, shingle_size)
        sig = T.minhash_signatures(hv, offsets, num_perm=num_perm)
        k = int(valid.sum())
        ok = np.diff(offsets) > 0
        ok[k:] &= other_valid
        comp = T.near_duplicate_components(sig, threshold=threshold, valid=ok)
        has_mine = np.zeros(int(comp.max()) + 1, bool)
        has_mine[comp[:k]] = True
        near_hit |= has_mine[comp[k:]] & other_valid
    rows = np.flatnonzero(near_hit)
    n_other = int(other_valid.sum())
    info = {
        "against_rows": len(against),
        "against_valid": n_other,
        "exact_overlap": int(exact.sum()),
        "near_overlap": int(near_hit.sum()),
        "overlap_share": float(near_hit.sum() / max(n_other, 1)),
        "rows": [int(r) for r in rows[:1000]],
    }
    detail = pd.DataFrame(
        {
            "row": rows,
            "text": other_col.values.to_numpy(dtype=object)[rows],
            "exact": exact[rows],
        }
    )
    return info, detail


def _log(report: EdaReport, started: float) -> None:
    """Log the profile as an MLflow run in the workspace, tagged with the data's hash."""
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    name = report.params.get("name") or report.text_column
    with mlflow.start_run(experiment_id=exp_id, run_name=f"eda {name}") as run:
        mlflow.set_tags(
            {
                "llmops.stage": "eda",
                "llmops.data_hash": report.content_hash,
                "llmops.text_column": report.text_column,
            }
        )
        mlflow.log_params(
            {k: ("" if v is None else v) for k, v in report.params.items()}
            | {"rows": report.rows, "content_hash": report.content_hash}
        )
        mlflow.log_metrics(report.metrics() | {"elapsed_s": time.perf_counter() - started})
        mlflow.log_dict(report.to_dict(), "eda_report.json")
    report.run_id = run.info.run_id
    report.tracking_uri = ws.tracking_uri
