"""The data stage's subcommands: data, eda and prep (flags generated from EdaConfig and Recipe)."""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd
import pytest
from IPython.core.error import UsageError

from llmops_magics.config import given
from llmops_magics.data import EdaConfig, EdaReport, Recipe
from llmops_magics.magics._commands import build_parser


def test_data_magic(ip):
    frame = ip.run_line_magic("llmops", "data rotten_tomatoes --limit 10 --seed 1 -o reviews")
    assert ip.user_ns["reviews"] is frame
    assert len(frame) == 10 and set(frame["label"]) <= {"fresh", "rotten", "plot"}


def test_magic_eda(ip) -> None:
    from IPython.core.error import UsageError

    ip.user_ns["df"] = pd.DataFrame({"text": ["a b", "a b", "c d e"], "y": ["p", "p", "n"]})
    r = ip.run_line_magic("llmops", "eda df --text text --label y --no-log -o rep")
    assert isinstance(r, EdaReport) and ip.user_ns["rep"] is r
    assert r.duplicates["exact_duplicate_rows"] == 1
    assert r.labels is not None and r.labels["counts"] == {"p": 2, "n": 1}
    with pytest.raises(UsageError, match="--against-text goes with --against"):
        ip.run_line_magic("llmops", "eda df --text text --against-text q")
    with pytest.raises(UsageError, match="at least 1"):
        ip.run_line_magic("llmops", "eda df --text text --max-tokens 0")
    panel = ip.run_line_magic("llmops", "eda df --text text --no-log --panel")
    assert "Overview" in panel.tab_titles


def test_magic_prep(ip, tmp_path) -> None:
    from IPython.core.error import UsageError

    ip.user_ns["df"] = pd.DataFrame(
        {"text": [f"Item {i}" for i in range(20)], "label": ["x", "y"] * 10}
    )
    r = ip.run_line_magic(
        "llmops",
        f"prep df --text text --lower --split 0.5,0.5 --stratify label --seed 3 "
        f"--save {tmp_path / 'out'} --no-log -o prepared",
    )
    assert ip.user_ns["prepared"] is r
    assert (len(r.train), len(r.validation)) == (10, 10)
    assert r.train["text"].str.islower().all()
    again = ip.run_line_magic("llmops", f"prep df --recipe {tmp_path / 'out'} --no-log")
    assert again.content_hash == r.content_hash
    with pytest.raises(UsageError, match="--text COL"):
        ip.run_line_magic("llmops", "prep df")
    with pytest.raises(UsageError, match="not both"):
        ip.run_line_magic("llmops", f"prep df --text text --recipe {tmp_path / 'out'}")
    with pytest.raises(UsageError, match="fractions separated by commas"):
        ip.run_line_magic("llmops", "prep df --text text --split a,b")


def test_magic_prep_refuses_options_with_a_recipe_and_names_bad_flags(ip, tmp_path) -> None:
    ip.user_ns["df"] = pd.DataFrame({"text": [f"Item {i}" for i in range(10)]})
    ip.run_line_magic("llmops", f"prep df --text text --save {tmp_path / 'r'} --no-log")
    with pytest.raises(UsageError, match="leave out its options"):
        ip.run_line_magic("llmops", f"prep df --recipe {tmp_path / 'r'} --lower --no-log")
    with pytest.raises(UsageError, match=r"--threshold: near_threshold=1\.5 .* \(0, 1\]"):
        ip.run_line_magic("llmops", "prep df --text text --threshold 1.5 --no-log")
    with pytest.raises(UsageError, match="--min-chars: min_chars=-1 .* at least 0"):
        ip.run_line_magic("llmops", "prep df --text text --min-chars -1 --no-log")
    with pytest.raises(UsageError, match="--response: prompt and response go together"):
        ip.run_line_magic("llmops", "prep df --text text --prompt text --no-log")
    with pytest.raises(UsageError, match="--normalize: normalize='NFX'"):
        ip.run_line_magic("llmops", "prep df --text text --normalize nfx --no-log")
    with pytest.raises(UsageError, match="--top: top=0 is out of range"):
        ip.run_line_magic("llmops", "eda df --text text --top 0 --no-log")


def test_magic_prep_uses_the_session_model_for_tokens(ip, tiny_model) -> None:
    ip.user_ns["df"] = pd.DataFrame({"text": ["short", "a much longer text " * 20]})
    ip.run_line_magic("config", f"LlmopsMagics.default_model = {str(tiny_model)!r}")
    try:
        r = ip.run_line_magic("llmops", "prep df --text text --max-tokens 30 --split 1,0 --no-log")
    finally:
        ip.run_line_magic("config", "LlmopsMagics.default_model = 'smollm2'")
    assert r.recipe.model == str(tiny_model)
    assert r.train["text"].tolist() == ["short"]


# Every flag users knew before the options moved into the configs, and the value it gives.
EDA_FLAGS = {
    "model": (["-m", "tiny"], "tiny"),
    "max_tokens": (["--max-tokens", "9"], 9),
    "minimal": (["--minimal"], True),
    "near_threshold": (["--threshold", "0.5"], 0.5),
    "top": (["--top", "3"], 3),
}
PREP_FLAGS = {
    "text": (["--text", "u"], ["t", "u"]),
    "normalize": (["--normalize", "none"], None),
    "strip_html": (["--keep-html"], False),
    "collapse_whitespace": (["--keep-whitespace"], False),
    "lowercase": (["--lower"], True),
    "remove_stop_words": (["--stop-words"], True),
    "stem": (["--stem"], True),
    "redact_pii": (["--redact-pii"], True),
    "dedup": (["--keep-duplicates"], False),
    "near_dedup": (["--near-dedup"], True),
    "near_threshold": (["--threshold", "0.7"], 0.7),
    "min_chars": (["--min-chars", "2"], 2),
    "max_chars": (["--max-chars", "20"], 20),
    "min_words": (["--min-words", "1"], 1),
    "max_words": (["--max-words", "9"], 9),
    "max_tokens": (["--max-tokens", "64"], 64),
    "model": (["--model", "tiny"], "tiny"),
    "prompt": (["--prompt", "q", "--response", "a"], "q"),
    "response": (["--response", "a", "--prompt", "q"], "a"),
    "system": (["--system", "Be brief."], "Be brief."),
    "output_column": (["--output-column", "chat"], "chat"),
    "split": (["--split", "0.5,0.5"], [0.5, 0.5]),
    "seed": (["--seed", "3"], 3),
    "stratify": (["--stratify", "label"], "label"),
}


@pytest.mark.parametrize(
    ("words", "cls", "flags"),
    [
        (["eda", "df", "--text", "t"], EdaConfig, EDA_FLAGS),
        (["prep", "df", "--text", "t"], Recipe, PREP_FLAGS),
    ],
    ids=["eda", "prep"],
)
def test_the_old_flags_fill_the_config_fields(words, cls, flags) -> None:
    parser = build_parser(argparse.ArgumentParser)
    with_flags = {f.name for f in dataclasses.fields(cls) if f.metadata.get("cli", True)}
    assert set(flags) == with_flags  # a new option gets a line here
    base = {"text": ["t"]} if cls is Recipe else {}
    assert given(parser.parse_args(words), cls) == base  # nothing else given
    for name, (extra, expected) in flags.items():
        config = cls(**given(parser.parse_args(words + extra), cls))
        assert getattr(config, name) == expected, name
