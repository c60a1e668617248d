"""ROUGE through rouge-score's own scoring functions, made faster without changing a digit.

rouge-score spends most of its time in the Porter stemmer (called for every token of every text)
and in a pure-Python LCS table. Here the stem of each word is cached, each distinct text is
tokenised once, the ROUGE-L length comes from a bit-parallel LCS (the same integer as the table,
so the same floats follow), and long inputs are split in chunks over the CPU cores.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["ROUGE_TYPES", "rouge_scores"]

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
#: below this many pairs, starting worker processes costs more than it saves
_PARALLEL_MIN = 2000


class _CachedStemmer:
    """nltk's Porter stemmer with a word → stem cache (the stemmer is pure and slow)."""

    def __init__(self) -> None:
        from nltk.stem import porter

        self._stemmer = porter.PorterStemmer()
        self._cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        cached = self._cache.get(word)
        if cached is None:
            cached = self._cache[word] = self._stemmer.stem(word)
        return cached


class _Tokenizer:
    """rouge-score's default tokenisation (its own function), cached per text."""

    def __init__(self, use_stemmer: bool) -> None:
        self._stemmer = _CachedStemmer() if use_stemmer else None
        self._cache: dict[str, list[str]] = {}

    def tokenize(self, text: str) -> list[str]:
        from rouge_score import tokenize

        tokens = self._cache.get(text)
        if tokens is None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            tokens = self._cache[text] = tokenize.tokenize(text, self._stemmer)
        return tokens


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison-Dix / Hyyrö).

    Gives the same integer as rouge-score's dynamic-programming table in O(len(a)·len(b)/w).
    """
    if len(a) < len(b):
        a, b = b, a
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    row = 0
    full = (1 << len(a)) - 1
    for tok in b:
        m = masks.get(tok)
        if m is None:
            continue
        x = m | row
        shifted = (row << 1) | 1
        row = x & ((x - shifted) ^ x) & full
    return row.bit_count()


def _score_pair(
    tokenizer: _Tokenizer, types: Sequence[str], target: str, prediction: str
) -> list[float]:
    from rouge_score import rouge_scorer, scoring

    out: list[float] = []
    t_tok = tokenizer.tokenize(target)
    p_tok = tokenizer.tokenize(prediction)
    for kind in types:
        if kind == "rougeL":
            if not t_tok or not p_tok:
                out.append(0.0)
                continue
            lcs = _lcs_length(t_tok, p_tok)
            precision = lcs / len(p_tok)
            recall = lcs / len(t_tok)
            out.append(float(scoring.fmeasure(precision, recall)))
        elif kind == "rougeLsum":
            t_sents = [tokenizer.tokenize(s) for s in target.split("\n") if len(s)]
            p_sents = [tokenizer.tokenize(s) for s in prediction.split("\n") if len(s)]
            out.append(float(rouge_scorer._summary_level_lcs(t_sents, p_sents).fmeasure))
        else:
            n = int(kind[5:])
            score = rouge_scorer._score_ngrams(
                rouge_scorer._create_ngrams(t_tok, n), rouge_scorer._create_ngrams(p_tok, n)
            )
            out.append(float(score.fmeasure))
    return out


def _score_chunk(args: tuple[tuple[str, ...], bool, list[str], list[str]]) -> list[list[float]]:
    types, use_stemmer, targets, predictions = args
    tokenizer = _Tokenizer(use_stemmer)
    return [_score_pair(tokenizer, types, t, p) for t, p in zip(targets, predictions, strict=True)]


def _workers(n: int, processes: int | None) -> int:
    if processes is not None:
        return max(1, processes)
    if n < _PARALLEL_MIN or sys.platform != "linux":
        return 1  # fork is only safe and cheap on Linux; elsewhere one process
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, 8))


def rouge_scores(
    predictions: Sequence[str],
    references: Sequence[str],
    types: Sequence[str] = ROUGE_TYPES,
    *,
    use_stemmer: bool = True,
    processes: int | None = None,
) -> dict[str, list[float]]:
    """Per-example ROUGE F-measures, equal to ``RougeScorer(types, use_stemmer).score(ref, pred)``.

    Parameters
    ----------
    predictions, references
        Texts of equal length. ROUGE-Lsum splits sentences on newlines, as rouge-score does.
    types
        Any of ``rouge1``... ``rouge9``, ``rougeL``, ``rougeLsum``.
    use_stemmer
        Porter-stem words longer than three letters (rouge-score's option).
    processes
        Worker processes; by default one per core for 2,000 pairs or more, else none.
    """
    import re

    for kind in types:
        if kind not in ("rougeL", "rougeLsum") and not re.fullmatch(r"rouge[1-9]", kind):
            raise ValueError(f"unknown ROUGE type {kind!r}")
    types = tuple(types)
    n = len(predictions)
    workers = _workers(n, processes)
    refs, preds = list(references), list(predictions)
    if workers == 1:
        rows = _score_chunk((types, use_stemmer, refs, preds))
    else:
        rows = _parallel(types, use_stemmer, refs, preds, workers)
    return {kind: [row[k] for row in rows] for k, kind in enumerate(types)}


def _parallel(
    types: tuple[str, ...], use_stemmer: bool, refs: list[str], preds: list[str], workers: int
) -> list[list[float]]:
    import multiprocessing

    # fork: the workers inherit the imported modules, so they start in milliseconds. The main
    # process scores a share too instead of idling while it waits.
    ctx: Any = multiprocessing.get_context("fork")
    n = len(refs)
    bounds = [round(i * n / workers) for i in range(workers + 1)]
    chunks = [(types, use_stemmer, refs[a:b], preds[a:b]) for a, b in itertools.pairwise(bounds)]
    import nltk.stem.porter  # noqa: F401  (imported once, before the fork)
    import rouge_score.rouge_scorer  # noqa: F401

    with ctx.Pool(workers - 1) as pool:
        pending = pool.map_async(_score_chunk, chunks[1:])
        first = _score_chunk(chunks[0])
        rest = pending.get()
    rows = first
    for part in rest:
        rows.extend(part)
    return rows
