"""Vectorised text primitives shared by profiling and preparation.

Everything here works on whole columns at once (pyarrow compute kernels and numpy), never with a
Python loop over rows: words and their ids, n-gram counts, MinHash signatures and LSH groups, PII
patterns. Heavy imports happen inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "PII_KINDS",
    "Words",
    "arrow_text",
    "luhn_ok",
    "minhash_signatures",
    "near_duplicate_components",
    "ngram_counts",
    "pii_scan",
    "ranges",
    "split_words",
    "token_counts",
]


#: PII patterns (RE2 syntax), applied in this order: a URL may hold an e-mail address, and a
#: card number would otherwise also read as a phone number.
PII_PATTERNS: dict[str, str] = {
    "url": r"(?i)\b(?:https?://|www\.)[^\s<>\"']+",
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    "ip": r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b",
    "card": r"\b\d(?:[ -]?\d){12,18}\b",
    "phone": r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\b\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}\b",
}
PII_KINDS = tuple(PII_PATTERNS)
PII_PLACEHOLDERS = {k: f"[{k.upper()}]" for k in PII_KINDS}

_U64 = 0xFFFFFFFFFFFFFFFF


def arrow_text(values: pd.Series) -> Any:
    """The column as a pyarrow string array: non-text and missing cells become empty strings."""
    import pyarrow as pa

    if values.dtype == object:
        values = values.where(values.map(lambda v: isinstance(v, str)), "")
    values = values.fillna("").astype("str")
    arr = pa.array(values.array)  # zero-copy for pandas' pyarrow-backed str dtype
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


@dataclass
class Words:
    """The words of many texts: flat word ids, per-text offsets and the vocabulary."""

    ids: np.ndarray  # int64, one per word, texts back to back
    offsets: np.ndarray  # int64, len(texts) + 1
    vocab: np.ndarray  # object array of the distinct words; ids index into it
    doc: np.ndarray  # int64, the text each word belongs to
    tokens: np.ndarray  # int64, whitespace-separated tokens per text (punctuation included)

    @property
    def lengths(self) -> np.ndarray:
        """Words per text."""
        import numpy as np

        return np.diff(self.offsets)


#: punctuation trimmed from both ends of a word (ASCII and the common typographic marks)
_PUNCT = (
    "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'"
    "\u201c\u201d\u2018\u2019\u2014\u2013\u2026\u00ab\u00bb\u00bf\u00a1"
)


def split_words(arr: Any) -> Words:
    """Lower-case, split on whitespace, trim punctuation from each word, encode the words.

    A word is a whitespace-separated token without the punctuation around it ("Hello," and
    "hello" are one word; "don't" and "well-made" stay whole); tokens that are only punctuation
    are dropped. Whitespace splitting and trimming are plain pyarrow kernels, several times
    faster than a regular-expression split.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lower = pc.utf8_lower(arr)
    ascii_only = pc.all(pc.string_is_ascii(lower)).as_py() is not False
    lists = pc.ascii_split_whitespace(lower) if ascii_only else pc.utf8_split_whitespace(lower)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    raw = lists.flatten()
    flat = pc.utf8_trim(raw, _PUNCT)
    counts: Any = np.diff(np.asarray(lists.offsets, dtype=np.int64))
    doc = np.repeat(np.arange(len(counts)), counts)
    # an empty text splits into one empty token: count only real ones
    real = np.asarray(pc.greater(pc.binary_length(raw), 0), dtype=bool)
    tokens = counts if real.all() else np.bincount(doc[real], minlength=len(counts))
    keep = np.asarray(pc.greater(pc.utf8_length(flat), 0), dtype=bool)
    if not keep.all():
        doc = doc[keep]
        counts = np.bincount(doc, minlength=len(counts))
        flat = flat.filter(pa.array(keep))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if len(flat) == 0:
        return Words(np.zeros(0, np.int64), offsets, np.zeros(0, dtype=object), doc, tokens)
    encoded = pc.dictionary_encode(flat)
    ids = np.asarray(encoded.indices, dtype=np.int64)
    vocab = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    return Words(ids, offsets, vocab, doc, tokens)


def token_counts(arr: Any) -> np.ndarray:
    """Whitespace-separated tokens per text (pyarrow's split keeps empty edge tokens: not these)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = pc.utf8_split_whitespace(arr)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    counts: Any = np.diff(np.asarray(lists.offsets, dtype=np.int64))
    real = np.asarray(pc.greater(pc.binary_length(lists.flatten()), 0), dtype=bool)
    if real.all():
        return np.asarray(counts, dtype=np.int64)
    doc = np.repeat(np.arange(len(counts)), counts)
    return np.bincount(doc[real], minlength=len(counts)).astype(np.int64)


def _fmix(x: np.ndarray, kind: Any, shifts: tuple[int, int, int], mult: tuple[int, int]) -> Any:
    """MurmurHash3's finaliser: xor-shift, multiply, xor-shift, multiply, xor-shift."""
    x = x ^ (x >> kind(shifts[0]))
    x = x * kind(mult[0])
    x = x ^ (x >> kind(shifts[1]))
    x = x * kind(mult[1])
    return x ^ (x >> kind(shifts[2]))


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: a fast, well-mixing bijection on uint64 arrays."""
    import numpy as np

    return _fmix(x, np.uint64, (33, 33, 33), (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53))


def word_hashes(vocab: np.ndarray) -> np.ndarray:
    """A stable 64-bit hash of each distinct word (pandas' SipHash with its fixed key)."""
    import numpy as np
    import pandas as pd

    if len(vocab) == 0:
        return np.zeros(0, np.uint64)
    return np.asarray(pd.util.hash_array(vocab, categorize=False), dtype=np.uint64)


def ngram_counts(
    ids: np.ndarray, doc: np.ndarray, n: int, vocab: np.ndarray, *, top: int = 20
) -> list[tuple[str, int]]:
    """The ``top`` most frequent word n-grams (within a text) and their counts.

    Ties are broken by the n-gram text so the answer is deterministic.
    """
    import numpy as np
    import pandas as pd

    if len(ids) < n or top < 1:
        return []
    m = len(ids) - n + 1
    starts = np.flatnonzero(doc[:m] == doc[n - 1 :]) if n > 1 else np.arange(m)
    if len(starts) == 0:
        return []
    v = max(len(vocab), 1)
    if n == 1:  # word ids are small: count them directly
        tally = np.bincount(ids, minlength=v)
        k = min(top, v)
        cut = max(int(np.partition(tally, v - k)[v - k]), 1)
        cands = np.flatnonzero(tally >= cut)
        pairs = [(str(vocab[i]), int(tally[i])) for i in cands]
        pairs.sort(key=lambda t: (-t[1], t[0]))
        return pairs[:top]
    if float(v) ** n < 2.0**62:
        keys = ids[starts].astype(np.int64)
        for i in range(1, n):
            keys = keys * np.int64(v) + ids[starts + i]
    else:  # a huge vocabulary: combine by hashing (collisions are astronomically rare)
        h = ids[starts].astype(np.uint64)
        for i in range(1, n):
            h = _fmix64(h * np.uint64(1000003) ^ ids[starts + i].astype(np.uint64))
        keys = h.view(np.int64)
    counts = pd.Series(keys).value_counts()
    # keep everything tied with the last of the top ones, then sort by (-count, text)
    cutoff = int(counts.iloc[min(top, len(counts)) - 1])
    best = counts[counts >= cutoff].iloc[: top * 20]
    # the first position of each chosen n-gram, in one pass over the keys
    chosen = best.index.to_numpy()
    hit = np.flatnonzero(np.isin(keys, chosen))
    uniq, first = np.unique(keys[hit], return_index=True)
    position = dict(zip(uniq.tolist(), starts[hit[first]].tolist(), strict=True))
    found: list[tuple[str, int]] = []
    for key, count in zip(chosen.tolist(), best.to_numpy().tolist(), strict=True):
        j = position[key]
        found.append((" ".join(str(w) for w in vocab[ids[j : j + n]]), int(count)))
    found.sort(key=lambda t: (-t[1], t[0]))
    return found[:top]


#: odd multipliers that combine the word hashes of a shingle (position-dependent)
_SHINGLE_MULT = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)


def shingles(words: Words, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of each text's word ``n``-grams (a shorter text: one shingle of all words).

    A shingle's hash is the top 32 bits of a position-weighted sum of its words' 64-bit SipHash
    values. Returns the flat shingle hashes and per-text offsets into them.
    """
    import numpy as np

    if not 1 <= n <= len(_SHINGLE_MULT):
        raise ValueError(f"shingle size must be 1..{len(_SHINGLE_MULT)}, got {n}")
    hv = word_hashes(words.vocab)[words.ids] if len(words.ids) else np.zeros(0, np.uint64)
    doc = words.doc
    total = len(hv)
    lengths = words.lengths
    hv_pad = np.concatenate([hv, np.zeros(n, np.uint64)])
    doc_pad = np.concatenate([doc, np.full(n, -1, dtype=doc.dtype)])
    key = hv * np.uint64(_SHINGLE_MULT[0])
    for i in range(1, n):
        part = hv_pad[i : i + total] * np.uint64(_SHINGLE_MULT[i])
        # words past the end of the text contribute nothing (short texts)
        part[doc_pad[i : i + total] != doc] = 0
        key += part
    full = doc_pad[n - 1 : n - 1 + total] == doc
    starts = words.offsets[:-1]
    valid = full
    short_docs = (lengths > 0) & (lengths < n)
    if short_docs.any():
        valid = full.copy()
        valid[starts[short_docs]] = True
    key = (key[valid] >> np.uint64(32)).astype(np.uint32)
    counts = np.bincount(doc[valid], minlength=len(lengths))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return key, offsets


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
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


def affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's ``affine32`` permutation parameters (same generator, same draws).

    Written out because importing datasketch pulls in scipy.integrate (over a second); a test
    checks that the values equal ``MinHash(num_perm, seed, scheme="affine32").permutations``.
    """
    import numpy as np

    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (datasketch pre-mixes inputs with it)."""
    import numpy as np

    return _fmix(h, np.uint32, (16, 13, 16), (0x85EBCA6B, 0xC2B2AE35))


def minhash_signatures(
    hv: np.ndarray, offsets: np.ndarray, *, num_perm: int = 64, seed: int = 1
) -> np.ndarray:
    """MinHash signatures of many shingle sets at once, identical to datasketch's.

    ``hv`` holds 32-bit shingle hashes, text ``i`` owning ``hv[offsets[i]:offsets[i+1]]``. The
    permutations are datasketch's (``MinHash(num_perm, seed, scheme="affine32")``), so row ``i``
    equals a datasketch ``MinHash`` updated with the same hashes; a text without shingles gets
    the maximum value everywhere. Returns a ``(texts, num_perm)`` uint32 array.
    """
    import numpy as np

    a, b = affine32_permutations(num_perm, seed)
    n_docs = len(offsets) - 1
    sig = np.full((n_docs, num_perm), 0xFFFFFFFF, dtype=np.uint32)
    counts = np.diff(offsets)
    mixed = _fmix32(hv.astype(np.uint32, copy=False))
    # Chunks of about a million shingles keep the temporaries cache-friendly.
    doc = 0
    while doc < n_docs:
        end = int(np.searchsorted(offsets, offsets[doc] + 1_000_000, side="right")) - 1
        end = min(max(end, doc + 1), n_docs)
        lo, hi = int(offsets[doc]), int(offsets[end])
        nonempty = np.flatnonzero(counts[doc:end] > 0)
        if hi > lo and len(nonempty):
            chunk = mixed[lo:hi]
            starts = (offsets[doc:end][nonempty] - lo).astype(np.int64)
            rows = doc + nonempty
            out = np.empty((len(rows), num_perm), np.uint32)
            phv = np.empty(hi - lo, np.uint32)
            for j in range(num_perm):
                np.multiply(chunk, a[j], out=phv)
                np.add(phv, b[j], out=phv)
                out[:, j] = np.minimum.reduceat(phv, starts)
            sig[rows] = out
        doc = end
    return sig


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows per band for a Jaccard ``threshold``.

    The same choice as datasketch's ``MinHashLSH`` (equal weights on false positives and false
    negatives), integrated with numpy instead of scipy; a test compares the two.
    """
    import numpy as np

    s = np.linspace(0.0, 1.0, 2001)

    def area(lo: float, hi: float, b: int, r: int, below: bool) -> float:
        x = s[(s >= lo) & (s <= hi)] if hi > lo else np.array([lo, hi])
        y = 1 - (1 - x ** float(r)) ** float(b)
        y = y if below else 1 - y
        return float(np.trapezoid(y, x)) if len(x) > 1 else 0.0

    best, params = float("inf"), (1, num_perm)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = area(0.0, threshold, b, r, True)
            fn = area(threshold, 1.0, b, r, False)
            err = 0.5 * fp + 0.5 * fn
            if err < best:
                best, params = err, (b, r)
    return params


def near_duplicate_components(
    sig: np.ndarray, *, threshold: float = 0.8, valid: np.ndarray | None = None
) -> np.ndarray:
    """Group texts whose estimated Jaccard similarity reaches ``threshold`` (LSH banding).

    Texts that share a band bucket are candidates; a candidate is linked to its bucket's first
    text when their signatures agree on at least ``threshold`` of the positions. Returns a
    component label per text (texts alone in their component have a label of their own).
    """
    import numpy as np
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, num_perm = sig.shape
    if n == 0:
        return np.zeros(0, np.int64)
    bands, rows = lsh_params(threshold, num_perm)
    idx = np.arange(n) if valid is None else np.flatnonzero(valid)
    sub = sig[idx]
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    mult = np.random.default_rng(0).integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
    positions = np.arange(len(idx))
    for band in range(bands):
        key = np.zeros(len(idx), np.uint64)
        for j, col in enumerate(range(band * rows, (band + 1) * rows)):
            key += sub[:, col].astype(np.uint64) * mult[j]
        codes, _ = pd.factorize(key)
        # factorize numbers buckets in order of first appearance, so a text opens its bucket
        # exactly when its code exceeds every code before it
        opens = np.empty(len(codes), bool)
        opens[0] = True
        opens[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
        first = np.flatnonzero(opens)[codes]
        cand = np.flatnonzero(first != positions)
        if len(cand) == 0:
            continue
        agree = (sub[cand] == sub[first[cand]]).mean(axis=1)
        ok = agree >= threshold
        src.append(idx[cand[ok]])
        dst.append(idx[first[cand[ok]]])
    if not src:
        return np.arange(n)
    s = np.concatenate(src)
    d = np.concatenate(dst)
    graph = coo_matrix((np.ones(len(s), np.int8), (s, d)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def luhn_ok(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn checksum that payment cards use."""
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


#: Python re checks for the kinds RE2 cannot pin down alone (lookarounds, checksums)
_PY_PATTERNS: dict[str, str] = {
    "card": PII_PATTERNS["card"],
    # not part of a longer run of digit groups (a card-like number that failed Luhn)
    "phone": r"(?<![\d-])(?<!\d[ .])" + PII_PATTERNS["phone"] + r"(?![ .-]?\d)",
}


def pii_scan(arr: Any, *, redact: bool = False) -> tuple[dict[str, np.ndarray], Any]:
    """Count PII matches per text and kind; optionally replace them with placeholders.

    Kinds are scanned in :data:`PII_PATTERNS` order and each kind's matches are masked before the
    next is counted, so one string is counted once. RE2 finds candidates for the whole column;
    card-like numbers then count only when they pass the Luhn checksum, and phone numbers only
    when they are not part of a longer run of digit groups (checked in Python, only on the few
    texts with a candidate). Returns ``({kind: counts per text}, text with matches replaced)``.
    """
    import re

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    counts: dict[str, np.ndarray] = {}
    current = arr
    for kind, pattern in PII_PATTERNS.items():
        found = np.array(pc.count_substring_regex(current, pattern), dtype=np.int64)
        placeholder = PII_PLACEHOLDERS[kind]
        if kind in _PY_PATTERNS and found.any():
            rx = re.compile(_PY_PATTERNS[kind])
            check = luhn_ok if kind == "card" else (lambda m: True)
            rows = np.flatnonzero(found)
            values = current.take(pa.array(rows)).to_pylist()

            def mask(m: re.Match[str], placeholder: str = placeholder, check: Any = check) -> str:
                return placeholder if check(m.group()) else m.group()

            fixed = []
            for i, text in zip(rows, values, strict=True):
                found[i] = sum(1 for m in rx.finditer(text) if check(m.group()))
                fixed.append(rx.sub(mask, text))
            if found.any():
                py = current.to_pylist()
                for i, text in zip(rows, fixed, strict=True):
                    py[i] = text
                current = pa.array(py, type=current.type)
        elif found.any():
            current = pc.replace_substring_regex(current, pattern, placeholder)
        counts[kind] = found
    return counts, (current if redact else arr)
