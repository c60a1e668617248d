"""prepare() / apply(): each cleaning step, filter and split on frames with known answers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from llmops_magics.data import PreparedDataset, Recipe, apply, content_hash, prepare
from llmops_magics.errors import DataError

FOX = "the quick brown fox jumps over the lazy dog near the river bank today"


def prep(df: pd.DataFrame, text: str | list[str] = "text", **kw: object) -> PreparedDataset:
    kw.setdefault("log", False)
    kw.setdefault("progress", False)
    kw.setdefault("split", [1.0, 0.0, 0.0])
    return prepare(df, text, **kw)  # type: ignore[arg-type]


def texts(result: PreparedDataset, column: str = "text") -> list[str]:
    frame = result.to_frame().sort_values("source_row")
    return frame[column].tolist()


def test_unicode_html_whitespace_and_lowercase() -> None:
    full_width = "\uff26\uff55\uff4c\uff4c"  # "Full" in full-width letters
    raw = ["<p>Caf\u00e9 &amp; \ufb01sh</p>", full_width + "   width\n\tspaces ", "<br/>Plain"]
    df = pd.DataFrame({"text": raw})
    assert texts(prep(df)) == ["Café & fish", "Full width spaces", "Plain"]
    assert texts(prep(df, lowercase=True)) == ["café & fish", "full width spaces", "plain"]
    kept = prep(df, normalize=None, strip_html=False, collapse_whitespace=False)
    assert texts(kept) == df["text"].tolist()


def test_stop_words_and_stemming_like_the_classic_pipeline() -> None:
    df = pd.DataFrame({"text": ["The cats are running quickly!", "A dog was barking"]})
    assert texts(prep(df, remove_stop_words=True)) == ["cats running quickly!", "dog barking"]
    assert texts(prep(df, remove_stop_words=True, stem=True)) == ["cat run quickli", "dog bark"]


def test_pii_redaction() -> None:
    df = pd.DataFrame({"text": ["Mail ann@example.com or call +1 555-123-4567 at 10.0.0.1"]})
    assert texts(prep(df, redact_pii=True)) == ["Mail [EMAIL] or call [PHONE] at [IP]"]


def test_empty_exact_and_near_dedup() -> None:
    df = pd.DataFrame(
        {"text": [FOX, "<b></b>", None, FOX, " " + FOX + " ", FOX + " again", "other text here"]}
    )
    r = prep(df)
    steps = {s["step"]: s["removed"] for s in r.steps}
    assert steps["drop empty"] == 2  # the tag-only text is empty once cleaned; None is missing
    assert steps["exact dedup"] == 2  # identical once whitespace is collapsed
    assert texts(r) == [FOX, FOX + " again", "other text here"]
    near = prep(df, near_dedup=True)
    assert {s["step"]: s["removed"] for s in near.steps}["near dedup"] == 1
    assert texts(near) == [FOX, "other text here"]
    assert near.to_frame().sort_values("source_row")["source_row"].tolist() == [0, 6]
    kept = prep(df, dedup=False)
    assert len(kept.to_frame()) == 5


def test_length_filters() -> None:
    df = pd.DataFrame({"text": ["a", "bb cc", "dd ee ff gg", "x" * 50]})
    assert texts(prep(df, min_chars=2, max_chars=20)) == ["bb cc", "dd ee ff gg"]
    assert texts(prep(df, min_words=2)) == ["bb cc", "dd ee ff gg"]
    assert texts(prep(df, max_words=1)) == ["a", "x" * 50]


def test_seeded_split_sizes_and_reproducibility() -> None:
    df = pd.DataFrame({"text": [f"text number {i}" for i in range(100)]})
    a = prep(df, split=[0.8, 0.1, 0.1], seed=1)
    assert (len(a.train), len(a.validation), len(a.test)) == (80, 10, 10)
    b = prep(df, split=[0.8, 0.1, 0.1], seed=1)
    c = prep(df, split=[0.8, 0.1, 0.1], seed=2)
    assert a.train["source_row"].tolist() == b.train["source_row"].tolist()
    assert a.content_hash == b.content_hash
    assert a.train["source_row"].tolist() != c.train["source_row"].tolist()
    assert a.content_hash != c.content_hash
    two = prep(df, split=[0.7, 0.3])
    assert (len(two.train), len(two.validation), len(two.test)) == (70, 30, 0)
    everything = sorted(a.to_frame()["source_row"])
    assert everything == list(range(100))


def test_stratified_split_keeps_proportions() -> None:
    df = pd.DataFrame(
        {"text": [f"review {i}" for i in range(100)], "label": ["pos"] * 80 + ["neg"] * 20}
    )
    r = prep(df, split=[0.5, 0.25, 0.25], stratify="label", seed=0)
    for split, n in (("train", 50), ("validation", 25), ("test", 25)):
        counts = r[split]["label"].value_counts().to_dict()
        assert counts == {"pos": n * 4 // 5, "neg": n // 5}


def test_chat_formatting_and_token_filter(tiny_model) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    df = pd.DataFrame({"q": ["What is AI?", "How are you?"], "a": ["A field.", "Fine " * 40]})
    r = prep(df, ["q", "a"], prompt="q", response="a", model=str(tiny_model), system="Be brief.")
    expected = tok.apply_chat_template(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is AI?"},
            {"role": "assistant", "content": "A field."},
        ],
        tokenize=False,
    )
    assert texts(r, "formatted")[0] == expected
    lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts(r, "formatted")]
    limit = min(lengths)
    short = prep(
        df,
        ["q", "a"],
        prompt="q",
        response="a",
        model=str(tiny_model),
        system="Be brief.",
        max_tokens=limit,
    )
    assert texts(short, "q") == ["What is AI?"]


def test_recipe_json_apply_save_load(tmp_path) -> None:
    df = pd.DataFrame(
        {"text": [f"<i>Text</i> {i % 40}" for i in range(60)], "label": ["a", "b"] * 30}
    )
    r = prep(df, lowercase=True, near_dedup=True, split=[0.6, 0.2, 0.2], stratify="label", seed=4)
    data = json.loads(r.recipe.to_json())
    assert data["lowercase"] is True and data["split"] == [0.6, 0.2, 0.2]
    assert Recipe.from_json(r.recipe.to_json()) == r.recipe
    again = apply(r.recipe, df, log=False, progress=False)
    assert again.content_hash == r.content_hash
    assert r.input_hash == content_hash(df)
    folder = r.save(tmp_path / "prepared")
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "recipe.json",
        "test.parquet",
        "train.parquet",
        "validation.parquet",
    ]
    loaded = PreparedDataset.load(folder)
    assert loaded.content_hash == r.content_hash
    assert loaded.train.equals(r.train)
    from_file = apply(folder / "recipe.json", df, log=False, progress=False)
    assert from_file.content_hash == r.content_hash
    with pytest.raises(DataError, match="already exists"):
        r.save(folder)
    r.save(folder, overwrite=True)
    # a changed file is noticed
    tampered = loaded.train.copy()
    tampered.loc[0, "text"] = "changed"
    tampered.to_parquet(folder / "train.parquet", index=False)
    with pytest.raises(DataError, match="do not match their manifest"):
        PreparedDataset.load(folder)


def test_failed_save_leaves_nothing(tmp_path) -> None:
    r = prep(pd.DataFrame({"text": ["a", "b"], "obj": [object(), object()]}))
    with pytest.raises(Exception):  # noqa: B017 - pyarrow cannot store arbitrary objects
        r.save(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_prep_is_logged_with_both_hashes(workspace) -> None:
    from llmops_magics import tracking

    df = pd.DataFrame({"text": ["one", "two", "three", "four"]})
    r = prepare(df, "text", split=[0.5, 0.5], progress=False)
    t = tracking.tracker()
    run = t.get_run(str(r.run_id), stage="prep")
    assert run.info.status == "FINISHED"
    assert run.data.tags[tracking.DATA_HASH] == r.content_hash
    assert run.data.tags[tracking.INPUT_HASH] == content_hash(df)
    assert run.data.metrics["rows_train"] == 2.0
    assert run.data.metrics["removed_exact_dedup"] == 0.0
    assert run.data.params["split"] == "[0.5, 0.5]" and run.data.params["model"] == ""
    assert t.load_json(str(r.run_id), "steps.json")["steps"] == r.steps
    assert Recipe.from_json(t.load_json(str(r.run_id), "recipe.json")) == r.recipe


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        ("not a frame", {}, "must be a pandas DataFrame"),
        (pd.DataFrame({"text": []}), {}, "empty"),
        (pd.DataFrame({"text": ["a"]}), {"split": [0.5, 0.6]}, "must sum to 1"),
        (pd.DataFrame({"text": ["a"]}), {"split": [1.0]}, "2 or 3"),
        (pd.DataFrame({"body": ["a"]}), {}, "no column 'text'"),
        (pd.DataFrame({"text": [1, 2]}), {}, "holds no text"),
        (pd.DataFrame({"text": ["a", 2]}), {}, "mixes text"),
        (pd.DataFrame({"text": [None, "  "]}), {}, "every value is empty"),
        (pd.DataFrame({"text": ["a"]}), {"prompt": "text"}, "go together"),
        (pd.DataFrame({"text": ["a"]}), {"stratify": "label"}, "no stratify column"),
        (pd.DataFrame({"text": ["a"]}), {"colour": "red"}, "Unknown option"),
        (pd.DataFrame({"text": ["a"]}), {"min_chars": 5}, "No rows are left"),
        (pd.DataFrame({"text": ["a"]}), {"normalize": "NFX"}, "normalize"),
    ],
)
def test_bad_input(data, kwargs, message) -> None:
    with pytest.raises(DataError, match=message):
        prep(data, **kwargs)


def test_huge_text_warns() -> None:
    from llmops_magics.data import DataWarning

    with pytest.warns(DataWarning, match="1 MB"):
        r = prep(pd.DataFrame({"text": ["word " * 250_000, "small"]}))
    assert len(r.train) == 2
