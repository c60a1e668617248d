"""Text cleaning for preparation: unicode forms, HTML, PII, case, stop words, stems, spaces.

Every step works on a whole column at once (pyarrow compute kernels); Python sees only the texts
that need it (non-ASCII texts for unicode forms, texts with ``&`` for HTML entities) or each
distinct word once (stop words and stems).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from llmops_magics.data._config import Recipe

__all__ = ["clean"]


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


def clean(values: pd.Series, recipe: Recipe) -> Any:
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
