"""Training sets from ratings: DPO preference pairs and SFT demonstrations, written as JSONL."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from llmops_magics import feedback, tracking
from llmops_magics.feedback import FeedbackError


def test_dpo_export_loads_into_a_trl_preference_dataset(rated, tmp_path):
    datasets = pytest.importorskip("datasets")
    data_utils = pytest.importorskip("trl.data_utils")
    path = tmp_path / "prefs.jsonl"
    result = feedback.export("dpo", path)
    recorded = tracking.tracker().get_run(result.run_id, stage="feedback")  # lineage reads it
    assert recorded.data.tags["llmops.export.format"] == "dpo"
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
    session = feedback.open_session(
        pd.DataFrame({"prompt": ["p"], "output": ["o"]}), mode="thumbs", rater="ann"
    )
    session.rate("down")
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


def test_export_options_whole_and_a_failed_write_keeps_the_old_file(rated, tmp_path, monkeypatch):
    from llmops_magics.feedback import _export

    path = tmp_path / "sft.jsonl"
    result = feedback.export("sft", path, options=feedback.ExportOptions(min_stars=3.5))
    assert result.rows == 3
    before = path.read_text()

    def broken(record):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_export, "_plain", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        feedback.export("sft", path)
    assert path.read_text() == before  # replaced whole or not at all
    assert [p.name for p in tmp_path.iterdir()] == ["sft.jsonl"]  # no partial file left
