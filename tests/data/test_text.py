"""The vectorised text primitives agree with datasketch and with plain Python."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmops_magics.data import _text as T


def test_minhash_signatures_equal_datasketch() -> None:
    from datasketch import MinHash

    texts = pd.Series(["the cat sat on the mat", "a b", "", "one two three four five six"])
    words = T.split_words(T.arrow_text(texts))
    hv, offsets = T.shingles(words, 3)
    sig = T.minhash_signatures(hv, offsets, num_perm=64, seed=1)
    for i in range(len(texts)):
        m = MinHash(num_perm=64, seed=1, scheme="affine32", hashfunc=lambda x: x)
        for h in hv[offsets[i] : offsets[i + 1]]:
            m.update(int(h))
        assert np.array_equal(sig[i], m.hashvalues), i
    assert (sig[2] == 0xFFFFFFFF).all()  # no words, no shingles


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [32, 64, 128])
def test_lsh_parameters_equal_datasketch(threshold: float, num_perm: int) -> None:
    from datasketch.lsh import _optimal_param

    assert T.lsh_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_permutations_equal_datasketch() -> None:
    from datasketch import MinHash

    a, b = T.affine32_permutations(64, 7)
    pa_, pb = MinHash(num_perm=64, seed=7, scheme="affine32").permutations
    assert np.array_equal(a, pa_) and np.array_equal(b, pb)


def test_split_words_and_shingle_counts() -> None:
    words = T.split_words(T.arrow_text(pd.Series(["Hello, World!  hello", "\u2014 x \u2014", ""])))
    assert words.lengths.tolist() == [3, 1, 0]
    assert words.tokens.tolist() == [3, 3, 0]
    assert [words.vocab[i] for i in words.ids] == ["hello", "world", "hello", "x"]
    _, offsets = T.shingles(words, 3)
    assert np.diff(offsets).tolist() == [1, 1, 0]  # 3 words: one 3-gram; 1 word: one shingle


def test_ranges_match_python() -> None:
    starts = np.array([5, 0, 9, 2])
    counts = np.array([2, 0, 3, 1])
    expected = [5, 6, 9, 10, 11, 2]
    assert T.ranges(starts, counts).tolist() == expected


def test_luhn() -> None:
    assert T.luhn_ok("4111 1111 1111 1111")
    assert not T.luhn_ok("4111 1111 1111 1112")
    assert not T.luhn_ok("1234")
