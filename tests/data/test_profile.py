"""profile(): each statistic against small frames whose answers are known by hand."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from llmops_magics.data import DataWarning, EdaConfig, EdaReport, content_hash, profile
from llmops_magics.errors import DataError

FOX = "the quick brown fox jumps over the lazy dog near the river bank today"


def run(df: pd.DataFrame, text: str = "text", **kw: object) -> EdaReport:
    kw.setdefault("log", False)
    kw.setdefault("progress", False)
    return profile(df, text, **kw)  # type: ignore[arg-type]


def test_quality_counts() -> None:
    df = pd.DataFrame({"text": ["good text", None, "", "   ", 42, "more text", np.nan]})
    r = run(df)
    assert r.quality == {
        "rows": 7,
        "missing": 2,
        "empty": 1,
        "whitespace_only": 1,
        "non_string": 1,
        "valid": 2,
        "huge_texts": 0,
    }
    assert r.rows == 7
    assert r.content_hash == content_hash(df)


def test_lengths_and_iqr_outliers() -> None:
    texts = ["aaaa bbbb"] * 4 + ["x" * 100]
    texts = [f"{t}{i}" if i < 4 else t for i, t in enumerate(texts)]  # distinct texts
    r = run(pd.DataFrame({"text": texts}))
    chars = r.lengths["chars"]
    assert chars["count"] == 5
    assert chars["min"] == 10 and chars["max"] == 100
    assert chars["q1"] == 10 and chars["q3"] == 10 and chars["median"] == 10
    assert chars["upper_fence"] == 10 and chars["outliers"] == 1
    assert r.lengths["words"]["mean"] == pytest.approx((2 * 4 + 1) / 5)
    out = r.outliers("chars")
    assert out["row"].tolist() == [4]
    assert out["chars"].tolist() == [100]
    with pytest.raises(DataError, match="tokens"):
        r.outliers("tokens")


def test_exact_duplicates() -> None:
    df = pd.DataFrame({"text": ["a b", "c d", "a b", "e", "a b", "c d", "  "]})
    r = run(df)
    assert r.duplicates["distinct_texts"] == 3
    assert r.duplicates["exact_duplicate_rows"] == 3
    assert r.duplicates["exact_duplicate_groups"] == 2
    groups = r.exact_duplicates()
    assert groups["text"].tolist() == ["a b", "c d"]
    assert groups["count"].tolist() == [3, 2]
    assert groups["rows"].tolist() == [[0, 2, 4], [1, 5]]


def test_near_duplicates_group_similar_texts_only() -> None:
    df = pd.DataFrame(
        {
            "text": [
                FOX,
                "A completely different sentence about cooking pasta with fresh tomato sauce",
                FOX + " again",
                FOX.upper(),  # same words: a near duplicate, not an exact one
                "short one",
            ]
        }
    )
    r = run(df)
    assert r.duplicates["exact_duplicate_rows"] == 0
    assert r.duplicates["near_duplicate_groups"] == 1
    assert r.duplicates["near_duplicate_texts"] == 2
    near = r.near_duplicates()
    assert near["row"].tolist() == [0, 2, 3]
    assert set(near["group"]) == {0}


def test_labels_distribution_imbalance_and_per_label() -> None:
    df = pd.DataFrame(
        {"text": ["aa", "bbbb", "cccccc", "dd"], "label": ["pos", "pos", "pos", "neg"]}
    )
    r = run(df, label="label")
    assert r.labels is not None
    assert r.labels["counts"] == {"pos": 3, "neg": 1}
    assert r.labels["imbalance_ratio"] == 3.0
    assert r.labels["per_label_lengths"]["pos"]["chars_mean"] == 4.0
    assert r.labels["per_label_lengths"]["neg"]["chars_max"] == 2.0
    assert r.labels["top_ngrams"]["neg"]["1"] == [("dd", 1)]


def test_top_words_ngrams_vocabulary_stop_words_removed() -> None:
    df = pd.DataFrame(
        {"text": ["The cat sat on the mat.", "The cat ran!", "A dog sat — the dog barked"]}
    )
    r = run(df, top=3)
    assert r.top_ngrams["1"] == [("cat", 2), ("dog", 2), ("sat", 2)]
    # bigrams within each text once stop words are gone; ties in alphabetical order
    assert r.top_ngrams["2"] == [("cat ran", 1), ("cat sat", 1), ("dog barked", 1)]
    assert r.top_ngrams["3"][0] == ("cat sat mat", 1)
    assert ("the", 4) not in r.top_ngrams["1"]
    assert r.vocabulary is not None
    # words: the cat sat on the mat / the cat ran / a dog sat the dog barked
    assert r.vocabulary["total_words"] == 15
    assert r.vocabulary["vocabulary_size"] == 9
    assert r.vocabulary["type_token_ratio"] == pytest.approx(9 / 15)
    assert r.vocabulary["non_ascii_texts"] == 1
    assert r.vocabulary["non_ascii_share"] == pytest.approx(1 / 3)


def test_pii_counts_and_examples() -> None:
    df = pd.DataFrame(
        {
            "text": [
                "write to ann@example.com or bob@test.org",
                "call +1 555-123-4567 today",
                "see https://example.com/page and www.test.org",
                "server 192.168.0.1 is down",
                "card 4111 1111 1111 1111 ok",
                "not a card 1234 5678 9012 3456",
                "nothing here",
            ]
        }
    )
    r = run(df)
    assert r.pii is not None
    assert {k: v["matches"] for k, v in r.pii.items()} == {
        "url": 2,
        "email": 2,
        "ip": 1,
        "card": 1,
        "phone": 1,
    }
    assert r.pii["email"]["example_rows"] == [0]
    assert r.pii["card"]["example_rows"] == [4]
    rows = r.pii_rows("phone")
    assert rows["row"].tolist() == [1] and rows["phone"].tolist() == [1]


def test_contamination_against_a_second_frame() -> None:
    train = pd.DataFrame({"text": [FOX, "Cooking pasta with fresh tomato sauce is a joy"]})
    evalset = pd.DataFrame(
        {
            "q": [
                "COOKING pasta with fresh  tomato sauce is a joy",  # exact after normalising
                FOX + " again",  # near
                "an unrelated question about the weather tomorrow morning",
            ]
        }
    )
    r = run(train, against=evalset, against_text="q")
    assert r.contamination is not None
    assert r.contamination["exact_overlap"] == 1
    assert r.contamination["near_overlap"] == 2
    assert r.contamination["overlap_share"] == pytest.approx(2 / 3)
    assert r.contaminated()["row"].tolist() == [0, 1]
    assert r.contaminated()["exact"].tolist() == [True, False]


def test_tokens_and_truncation_after_chat_template(tiny_model) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    texts = ["What is AI?", "The model learns short questions today. " * 3, "How are you?"]
    r = run(pd.DataFrame({"text": texts}), model=str(tiny_model), max_tokens=20)
    raw = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    templated = [
        len(
            tok(
                tok.apply_chat_template(
                    [{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True
                ),
                add_special_tokens=False,
            )["input_ids"]
        )
        for t in texts
    ]
    assert r._detail is not None
    assert r._detail.table["tokens"].tolist() == raw
    assert r._detail.table["templated_tokens"].tolist() == templated
    assert r.tokens is not None
    assert r.tokens["truncated"] == sum(t > 20 for t in templated)
    assert r.tokens["truncation_rate"] == pytest.approx(sum(t > 20 for t in templated) / 3)
    assert r.lengths["tokens"]["max"] == max(raw)


def test_minimal_mode_skips_the_expensive_parts() -> None:
    r = run(pd.DataFrame({"text": ["a b", "a b", " c "], "y": [1, 1, 2]}), label="y", minimal=True)
    full = run(pd.DataFrame({"text": ["a b", "a b", " c "], "y": [1, 1, 2]}))
    assert r._detail is not None and full._detail is not None
    assert r._detail.table["words"].tolist() == full._detail.table["words"].tolist() == [2, 2, 1]
    assert r.duplicates["exact_duplicate_rows"] == 1
    assert r.labels is not None and r.labels["counts"] == {"1": 2, "2": 1}
    assert r.vocabulary is None and r.pii is None and r.top_ngrams == {}


def test_report_views_dict_frame_html() -> None:
    df = pd.DataFrame({"text": [FOX, FOX + " again", "bob@x.com"], "label": ["a", "b", "a"]})
    r = run(df, label="label")
    d = r.to_dict()
    assert json.loads(json.dumps(d))["quality"]["valid"] == 3
    assert "_detail" not in d
    frame = r.to_frame()
    assert list(frame.columns) == ["section", "statistic", "value"]
    assert frame.set_index("statistic").loc["valid", "value"] == 3
    assert r.metrics()["quality.valid"] == 3.0
    html = r._repr_html_()
    for title in ("Overview", "Lengths", "Duplicates", "Labels", "Words", "PII"):
        assert f">{title}</label>" in html
    assert "data:image/png;base64," in html
    assert set(r.figures()) >= {"lengths", "labels", "words", "pii"}
    assert [title for title, _ in r.sections(with_figures=False)] == [
        "Overview",
        "Lengths",
        "Duplicates",
        "Labels",
        "Words",
        "PII",
    ]


def test_profile_is_logged_with_the_content_hash(workspace) -> None:
    from llmops_magics import tracking

    df = pd.DataFrame({"text": ["one text", "two texts"]})
    r = profile(df, "text", progress=False)
    assert r.run_id
    t = tracking.tracker()
    assert r.tracking_uri == t.uri
    run_ = t.get_run(r.run_id, stage="eda")
    assert run_.info.status == "FINISHED"
    assert run_.data.tags[tracking.DATA_HASH] == content_hash(df)
    assert run_.data.tags["llmops.text_column"] == "text"
    assert run_.data.metrics["quality.valid"] == 2.0
    assert run_.data.params["near_threshold"] == "0.8"
    assert run_.data.params["model"] == ""
    assert t.load_json(r.run_id, "eda_report.json")["quality"]["valid"] == 2
    assert list(r.timings)[-1] == "logging"


def test_steps_are_timed_and_shown_on_the_eda_channel(capsys) -> None:
    df = pd.DataFrame({"text": [FOX, "other words here", FOX]})
    r = run(df)
    assert list(r.timings) == ["checks", "lengths", "duplicates", "words", "near duplicates", "pii"]
    assert all(v >= 0 for v in r.timings.values())
    assert capsys.readouterr().err == ""  # progress=False: nothing
    minimal = profile(df, "text", log=False, progress="plain", minimal=True)
    assert list(minimal.timings) == ["checks", "lengths", "duplicates"]
    assert "eda" in capsys.readouterr().err  # the text bar (left behind as nothing but text)


def test_a_config_or_its_fields_as_keywords() -> None:
    df = pd.DataFrame({"text": [FOX, FOX + " again", "x y z"]})
    by_config = run(df, config=EdaConfig(near_threshold=0.5, top=2))
    by_keywords = run(df, near_threshold=0.5, top=2)
    assert by_config.to_dict() | {"elapsed_s": 0, "timings": {}} == by_keywords.to_dict() | {
        "elapsed_s": 0,
        "timings": {},
    }
    assert by_config.params["near_threshold"] == 0.5 and len(by_config.top_ngrams["1"]) == 2
    over = run(df, config=EdaConfig(top=2), top=1)  # keywords win over the config
    assert len(over.top_ngrams["1"]) == 1
    with pytest.raises(DataError, match="Unknown option"):
        run(df, colour="red")
    with pytest.raises(DataError, match="config must be a EdaConfig"):
        run(df, config={"top": 2})


def test_no_widget_is_imported_in_a_plain_process() -> None:
    code = (
        "import sys\n"
        "import pandas as pd\n"
        "import llmops_magics.data as data\n"
        "r = data.profile(pd.DataFrame({'text': ['a b', 'a b', 'c']}), 'text', log=False)\n"
        "assert r.duplicates['exact_duplicate_rows'] == 1\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'ipywidgets'\n"
        "       or m.startswith('llmops_magics.widgets') or m == 'tqdm.notebook']\n"
        "print(bad)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("data", "column", "message"),
    [
        (["a", "b"], "text", "must be a pandas DataFrame"),
        (pd.DataFrame({"text": []}), "text", "empty"),
        (pd.DataFrame({"text": ["a"]}), "body", "no column 'body'"),
        (pd.DataFrame({"text": [1.5, 2.0]}), "text", "holds no text: float"),
        (pd.DataFrame({"text": ["", None, " "]}), "text", "every value is empty or missing"),
    ],
)
def test_bad_input_gives_clear_errors(data, column, message) -> None:
    with pytest.raises(DataError, match=message):
        run(data, column)


def test_other_bad_input() -> None:
    df = pd.DataFrame({"text": ["a"]})
    with pytest.raises(DataError, match="no label column 'lab'"):
        run(df, label="lab")
    with pytest.raises(DataError, match="max_tokens"):
        run(df, max_tokens=0)
    with pytest.raises(DataError, match="against"):
        run(df, against=pd.DataFrame({"other": ["x"]}))


def test_mixed_column_is_reported_and_huge_text_warns() -> None:
    mixed = run(pd.DataFrame({"text": ["a", 3, "b"]}))
    assert mixed.quality["non_string"] == 1 and mixed.quality["valid"] == 2
    with pytest.warns(DataWarning, match="1 MB or more"):
        r = run(pd.DataFrame({"text": ["x " * 600_000, "small"]}))
    assert r.quality["huge_texts"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(pd.DataFrame({"text": ["fine"]}))
