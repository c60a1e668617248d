"""The feedback store: the ratings frame, filters, DPO/SFT exports, two writers at once."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from llmops_magics import feedback
from llmops_magics.feedback import FeedbackError


def _pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt": ["p0", "p1", "p2", "p3"],
            "output_a": ["good 0", "bad 1", "x 2", "y 3"],
            "output_b": ["bad 0", "good 1", "z 2", "w 3"],
        }
    )


@pytest.fixture(scope="module")
def rated_store(tmp_path_factory):
    """Pairwise ratings by three raters, and star ratings of two models' outputs."""
    from llmops_magics import workspace

    root = tmp_path_factory.mktemp("feedback") / ".llmops"
    workspace.use(root)
    for rater, votes in {"ann": "abta", "bob": "abba", "cy": "a" + "b" + "t" + "b"}.items():
        panel = feedback.rate(_pairs(), mode="pairwise", rater=rater)
        for v in votes:
            panel.rate({"t": "tie"}.get(v, v))
    stars = pd.DataFrame(
        {
            "prompt": ["hi", "hi", "bye", "bye"],
            "output": ["hello!", "go away", "see you", "farewell"],
            "model": ["v1", "v2", "v1", "v2"],
        }
    )
    for rater, values in {"ann": [5, 1, 4, 4], "bob": [4, 2, 5, 3]}.items():
        panel = feedback.rate(stars, rater=rater)
        for v in values:
            panel.rate(v)
    thumbs = feedback.rate(stars.iloc[:2], mode="thumbs", rater="cy")
    thumbs.rate("up")
    thumbs.rate("down")
    workspace.use(None)
    return root


@pytest.fixture
def rated(rated_store):
    from llmops_magics import workspace

    workspace.use(rated_store)
    yield rated_store
    workspace.use(None)


def test_feedback_frame_holds_every_rating_with_its_trace(rated):
    frame = feedback.load_feedback()
    assert len(frame) == 12 + 8 + 2
    assert set(frame["rater"]) == {"ann", "bob", "cy"}
    assert frame["trace_id"].str.startswith("tr-").all()
    assert frame["time"].is_monotonic_increasing
    assert frame[frame["mode"] == "stars"].groupby("model")["value"].mean().to_dict() == {
        "v1": 4.5,
        "v2": 2.5,
    }
    assert len(feedback.load_feedback(model="v2")) == 4 + 1
    assert feedback.load_feedback(since="2000-01-01").shape == frame.shape
    assert feedback.load_feedback(since="2999-01-01").empty
    with pytest.raises(FeedbackError, match="as a date"):
        feedback.load_feedback(since="last tuesday")


def test_agreement_from_the_store(rated):
    result = feedback.agreement()
    frame = result.to_frame().set_index(["mode", "statistic"])
    assert frame.loc[("pairwise", "fleiss_kappa"), "raters"] == 3
    assert frame.loc[("pairwise", "fleiss_kappa"), "items"] == 4
    # stars: ann [5,1,4,4] vs bob [4,2,5,3] -> Cohen over 4 items
    expected = feedback.cohen_kappa([5, 1, 4, 4], [4, 2, 5, 3])
    assert frame.loc[("stars", "cohen_kappa"), "value"] == pytest.approx(expected, abs=1e-4)


def test_dpo_export_loads_into_a_trl_preference_dataset(rated, tmp_path):
    datasets = pytest.importorskip("datasets")
    data_utils = pytest.importorskip("trl.data_utils")
    path = tmp_path / "prefs.jsonl"
    result = feedback.export("dpo", path)
    # pairwise, majority vote: p0 -> a (3 votes), p1 -> b (3), p2 -> b (bob; two ties),
    # p3 -> a (ann, bob) over b (cy). Stars: hi (4.5 vs 1.5) and bye (4.5 vs 3.5): a pair each.
    assert result.rows == 6 and result.sources == {"pairwise": 4, "stars": 2}
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(ds.column_names)
    rows = {r["prompt"]: r for r in ds}
    assert (rows["p0"]["chosen"], rows["p0"]["rejected"]) == ("good 0", "bad 0")
    assert (rows["p1"]["chosen"], rows["p1"]["rejected"]) == ("good 1", "bad 1")
    assert (rows["p2"]["chosen"], rows["p3"]["chosen"]) == ("z 2", "y 3")
    assert (rows["hi"]["chosen"], rows["hi"]["rejected"]) == ("hello!", "go away")
    assert (rows["bye"]["chosen"], rows["bye"]["rejected"]) == ("see you", "farewell")
    # lineage the fine-tune run logs: which traces and assessments each pair came from
    assert len(rows["p0"]["assessment_ids"]) == 3 and rows["p0"]["raters"] == ["ann", "bob", "cy"]
    assert all(t.startswith("tr-") for t in rows["hi"]["trace_ids"])
    # what DPOTrainer does to a standard preference example before tokenising
    example = data_utils.maybe_extract_prompt(ds[0])
    assert not data_utils.is_conversational(example)
    assert all(isinstance(example[k], str) for k in ("prompt", "chosen", "rejected"))
    unpaired = data_utils.unpair_preference_dataset(
        ds.select_columns(["prompt", "chosen", "rejected"])
    )
    assert len(unpaired) == 2 * len(ds) and set(unpaired["label"]) == {True, False}


def test_sft_export_keeps_highly_rated_outputs(rated, tmp_path):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "sft.jsonl"
    result = feedback.export("sft", path)
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    pairs = sorted(zip(ds["prompt"], ds["response"], strict=True))
    # hello! 4.5 stars and thumbs up, see you 4.5; farewell 3.5 and go away 1.5 stay out
    assert pairs == [("bye", "see you"), ("hi", "hello!")]
    assert ds["completion"] == ds["response"]  # TRL's SFTTrainer reads prompt/completion
    assert result.rows == 2
    assert {r["response"]: r["thumbs_up"] for r in ds} == {"hello!": 1, "see you": 0}
    before = path.read_text()
    with pytest.raises(FeedbackError, match="Nothing to export"):
        feedback.export("sft", path, min_stars=5)
    assert path.read_text() == before
    lenient = feedback.export("sft", path, min_stars=3.5)
    assert lenient.rows == 3
    assert "go away" not in path.read_text()  # its thumbs down and 1.5 stars keep it out
    assert json.loads(path.read_text().splitlines()[0])["raters"]


def test_export_with_nothing_to_export_writes_nothing(fresh_workspace, tmp_path):
    panel = feedback.rate(
        pd.DataFrame({"prompt": ["p"], "output": ["o"]}), mode="thumbs", rater="ann"
    )
    panel.rate("down")
    path = tmp_path / "prefs.jsonl"
    path.write_text("old content\n")
    with pytest.raises(FeedbackError, match="Nothing to export as dpo"):
        feedback.export("dpo", path)
    with pytest.raises(FeedbackError, match="Nothing to export as sft"):
        feedback.export("sft", path)
    assert path.read_text() == "old content\n"  # the earlier file is untouched
    with pytest.raises(FeedbackError, match="min_stars"):
        feedback.export("sft", path, min_stars=6)
    with pytest.raises(FeedbackError, match="min_margin"):
        feedback.export("dpo", path, min_margin=0)
    with pytest.raises(FeedbackError, match="Unknown export format"):
        feedback.export("ppo", path)
    with pytest.raises(FeedbackError, match="does not exist"):
        feedback.export("sft", tmp_path / "missing" / "x.jsonl")
    assert [p.name for p in tmp_path.glob("*prefs*")] == ["prefs.jsonl"]  # no temp files left


def test_feedback_magic_and_export(rated, ip, tmp_path):
    from llmops_magics import workspace

    workspace.use(rated)  # the ip fixture switched to the shared workspace
    frame = ip.run_line_magic("llmops", "feedback --mode thumbs")
    assert frame["value"].tolist() == ["up", "down"]
    out = tmp_path / "p.jsonl"
    result = ip.run_line_magic("llmops", f"feedback --export dpo {out}")
    assert result.rows == 6 and out.exists()
    agree = ip.run_line_magic("llmops", "feedback --agreement --mode pairwise")
    assert set(agree.to_frame()["statistic"]) == {"fleiss_kappa", "krippendorff_alpha_nominal"}
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="dpo or sft"):
        ip.run_line_magic("llmops", f"feedback --export kto {out}")
