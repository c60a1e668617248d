"""EdaConfig and Recipe: the data stage's options, checked on creation, errors naming the field."""

from __future__ import annotations

import pytest

from llmops_magics.config import ConfigError
from llmops_magics.data import DataConfigError, EdaConfig, Recipe
from llmops_magics.errors import DataError


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"max_tokens": 0}, "max_tokens", "max_tokens=0 is out of range: it must be at least 1"),
        ({"near_threshold": 0.0}, "near_threshold", r"must be in \(0, 1\]"),
        ({"near_threshold": 1.5}, "near_threshold", r"must be in \(0, 1\]"),
        ({"top": 0}, "top", "top=0 is out of range"),
        ({"num_perm": 0}, "num_perm", "at least 1"),
        ({"shingle_size": 5}, "shingle_size", r"in \[1, 4\]"),
        ({"minimal": "yes"}, "minimal", "minimal must be of type bool"),
        ({"max_tokens": 2.5}, "max_tokens", "max_tokens must be an integer"),
    ],
)
def test_eda_config_errors_name_the_field(values, field, message) -> None:
    with pytest.raises(DataConfigError, match=message) as info:
        EdaConfig(**values)
    assert info.value.field == field
    assert isinstance(info.value, DataError) and isinstance(info.value, ConfigError)


def test_eda_config_defaults_round_trip_and_model_default() -> None:
    cfg = EdaConfig()
    assert (cfg.near_threshold, cfg.num_perm, cfg.shingle_size, cfg.top) == (0.8, 64, 3, 20)
    assert cfg.model is None and not cfg.minimal
    assert EdaConfig(max_tokens=128).model == "smollm2"  # a truncation rate needs a tokenizer
    assert EdaConfig(max_tokens=128, model="x").model == "x"
    again = EdaConfig.from_json(EdaConfig(top=5, minimal=True).to_json())
    assert again == EdaConfig(top=5, minimal=True)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"text": []}, "text", "text must name one or more columns"),
        ({"normalize": "NFX"}, "normalize", "normalize='NFX' is out of range"),
        ({"split": [1.0]}, "split", "2 or 3 non-negative fractions"),
        ({"split": [0.5, 0.6]}, "split", "must sum to 1"),
        ({"split": [0.0, 1.0]}, "split", "train fraction"),
        ({"near_threshold": 0}, "near_threshold", r"\(0, 1\]"),
        ({"min_chars": -1}, "min_chars", "at least 0"),
        ({"max_tokens": 0}, "max_tokens", "at least 1"),
        ({"seed": -1}, "seed", "at least 0"),
        ({"prompt": "q"}, "response", "go together"),
        ({"response": "a"}, "prompt", "go together"),
        ({"prompt": "q", "response": "a", "stem": True}, "stem", "unfit for chat"),
        ({"dedup": 1}, "dedup", "dedup must be of type bool"),
    ],
)
def test_recipe_errors_name_the_field(values, field, message) -> None:
    with pytest.raises(DataConfigError, match=message) as info:
        Recipe(**({"text": ["t"]} | values))
    assert info.value.field == field


def test_recipe_canonical_forms() -> None:
    r = Recipe("t", normalize="nfc", split="0.6,0.4")
    assert r.text == ["t"] and r.normalize == "NFC" and r.split == [0.6, 0.4]
    assert Recipe(["t"], normalize="none").normalize is None
    assert Recipe(["t"], normalize=None).normalize is None
    assert Recipe(["t"], split=[1, 0]).split == [1.0, 0.0]
    assert Recipe(["t"], max_tokens=9).model == "smollm2"
    assert Recipe(["t"], prompt="q", response="a", model="m").model == "m"


def test_recipe_json_round_trip_and_unknown_fields(tmp_path) -> None:
    r = Recipe(["q", "a"], lowercase=True, split=[0.7, 0.3], stratify="label", seed=4)
    assert Recipe.from_json(r.to_json()) == r
    assert Recipe.from_json(r.to_dict()) == r
    assert r.to_json().startswith('{\n  "collapse_whitespace": true')  # indented, sorted
    assert Recipe.load(r.save(tmp_path / "recipe.json")) == r
    with pytest.raises(DataConfigError, match="Unknown Recipe field") as info:
        Recipe.from_json({"text": ["t"], "colour": "red"})
    assert info.value.field == "colour"
    assert r.replace(seed=5).seed == 5
    with pytest.raises(DataConfigError, match="seed"):
        r.replace(seed=-2)
