"""The profile's word-level steps: vocabulary and n-grams, near duplicates, PII.

Each takes the :class:`~llmops_magics.data._profile.Draft` that the earlier steps filled (the
texts split into words, the distinct texts) and adds its sections to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmops_magics.data._profile import Draft

__all__ = ["near_duplicates", "pii", "words"]

#: per-label n-grams are kept for this many labels at most (the most frequent)
_MAX_LABELS = 20


def words(draft: Draft) -> None:
    """Vocabulary, top 1/2/3-grams without stop words, and top 1/2-grams per label."""
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc

    from llmops_magics.data import _text as T
    from llmops_magics.data._stopwords import ENGLISH_STOP_WORDS

    w, valid, top = draft.words, draft.valid, draft.config.top
    assert w is not None
    total_words = len(w.ids)
    non_ascii = ~np.asarray(pc.string_is_ascii(draft.arr), dtype=bool) & valid
    draft.vocabulary = {
        "total_words": total_words,
        "vocabulary_size": len(w.vocab),
        "type_token_ratio": float(len(w.vocab) / total_words) if total_words else 0.0,
        "non_ascii_texts": int(non_ascii.sum()),
        "non_ascii_share": float(non_ascii.sum() / max(valid.sum(), 1)),
    }
    stop = np.asarray(pd.Series(w.vocab).isin(ENGLISH_STOP_WORDS), dtype=bool)
    keep = ~stop[w.ids] if len(w.ids) else np.zeros(0, bool)
    ids_k, doc_k = w.ids[keep], w.doc[keep]
    for k in (1, 2, 3):
        draft.top_ngrams[str(k)] = T.ngram_counts(ids_k, doc_k, k, w.vocab, top=top)
    if draft.labels is None or draft.label_values is None:
        return
    per: dict[str, dict[str, list[tuple[str, int]]]] = {}
    lab_codes, lab_names = pd.factorize(draft.label_values.to_numpy())
    tok_lab = lab_codes[doc_k]
    for name in list(draft.labels["counts"])[:_MAX_LABELS]:
        sel = tok_lab == int(np.flatnonzero(lab_names == name)[0])
        per[name] = {
            str(k): T.ngram_counts(ids_k[sel], doc_k[sel], k, w.vocab, top=top) for k in (1, 2)
        }
    draft.labels["top_ngrams"] = per


def near_duplicates(draft: Draft) -> None:
    """Groups of distinct texts with a MinHash-estimated Jaccard similarity over the threshold.

    Only distinct texts are compared; every row of a grouped text joins its group, whose id is
    the first row of the group's first distinct text.
    """
    import numpy as np

    from llmops_magics.data import _text as T

    cfg, exact = draft.config, draft.exact
    assert draft.words is not None
    hv, offsets = T.shingles(draft.words, cfg.shingle_size)
    first_rows = exact.first_rows
    counts = np.diff(offsets)[first_rows]
    idx = T.ranges(offsets[first_rows], counts)
    sub_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sig = T.minhash_signatures(hv[idx], sub_off, num_perm=cfg.num_perm)
    comp = T.near_duplicate_components(sig, threshold=cfg.near_threshold, valid=counts > 0)
    sizes = np.bincount(comp)
    grouped = sizes[comp] > 1
    comp_first = np.full(len(sizes), -1, np.int64)
    order = np.argsort(first_rows, kind="stable")
    for_first = comp[order]
    _, pos = np.unique(for_first, return_index=True)
    comp_first[for_first[pos]] = first_rows[order][pos]
    group_of_code = np.full(len(exact.first_row_of_code), -1, np.int64)
    group_of_code[exact.uniq[grouped]] = comp_first[comp[grouped]]
    draft.near_group[exact.valid_rows] = group_of_code[exact.codes[exact.valid_rows]]
    draft.duplicates.update(
        {
            "near_duplicate_texts": int((sizes[sizes > 1] - 1).sum()),
            "near_duplicate_groups": int((sizes > 1).sum()),
            "near_duplicate_rows": int((draft.near_group >= 0).sum()),
            "near_threshold": cfg.near_threshold,
            "num_perm": cfg.num_perm,
            "shingle_size": cfg.shingle_size,
        }
    )


def pii(draft: Draft) -> None:
    """Matches of each PII kind (e-mail, phone, URL, IP, card) and the rows holding them."""
    import numpy as np

    from llmops_magics.data import _text as T

    counts, _ = T.pii_scan(draft.arr)
    draft.pii = {}
    for kind, c in counts.items():
        c = np.where(draft.valid, c, 0)
        draft.pii_counts[kind] = c
        rows = np.flatnonzero(c)
        draft.pii[kind] = {
            "matches": int(c.sum()),
            "rows": len(rows),
            "example_rows": [int(r) for r in rows[:5]],
        }
