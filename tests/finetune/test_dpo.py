"""Preference fine-tuning (DPO): the loss learns the preferences, the run records the ratings."""

from __future__ import annotations

import math

import pytest

from llmops_magics import finetune, models, tracking
from llmops_magics.errors import DataError
from llmops_magics.finetune import FineTuneConfig


def test_dpo_learns_preferences_and_records_lineage(tiny_model, workspace, tmp_path):
    import pandas as pd

    rows = pd.DataFrame(
        {
            "prompt": [f"What does the model do {i}?" for i in range(12)],
            "chosen": ["The model learns short questions."] * 12,
            "rejected": ["Numbers 0123456789 %$#@!"] * 12,
            "trace_ids": [[f"tr-{i}"] for i in range(12)],
            "assessment_ids": [[f"as-{i}", f"bs-{i}"] for i in range(12)],
        }
    )
    path = tmp_path / "prefs.jsonl"
    rows.to_json(path, orient="records", lines=True)
    cfg = FineTuneConfig(model=str(tiny_model), method="dpo", max_steps=4, lr=5e-3, eval_steps=2)
    result = finetune.train_dpo(cfg, str(path), rows.head(4), progress=False, run_name="dpo x")
    assert result.method == "dpo" and result.status == "finished"
    hist = result.history
    assert hist["train_loss"].iloc[0] == pytest.approx(math.log(2), abs=1e-3)
    assert hist["train_loss"].iloc[-1] < 0.6
    assert result.eval_loss is not None and result.eval_loss < math.log(2)
    t = tracking.tracker()
    run = t.get_run(result.run_id, stage="finetune")
    assert run.info.run_name == "dpo x"
    assert run.data.tags[tracking.METHOD] == "dpo"
    assert run.data.tags["llmops.preference_ratings"] == "24"
    assert run.data.tags["llmops.preference_traces"] == "12"
    assert run.data.tags["llmops.preference_pairs"] == "12"
    lineage = t.load_json(result.run_id, "preferences_lineage.json")
    assert lineage["n_pairs"] == 12 and "as-3" in lineage["assessment_ids"]
    assert models.resolve(result.spec).base == str(tiny_model)


def test_dpo_bad_preferences(tiny_model, workspace, tmp_path):
    import pandas as pd

    cfg = FineTuneConfig(model=str(tiny_model), method="dpo", max_steps=2)
    with pytest.raises(DataError, match="no column 'chosen'"):
        finetune.train_dpo(cfg, pd.DataFrame({"prompt": ["a"], "answer": ["b"]}), progress=False)
    same = pd.DataFrame({"prompt": ["a"], "chosen": ["b"], "rejected": ["b"]})
    with pytest.raises(DataError, match="no usable preference pairs"):
        finetune.train_dpo(cfg, same, progress=False)
    with pytest.raises(DataError, match="No preference file"):
        finetune.train_dpo(cfg, str(tmp_path / "missing.jsonl"), progress=False)
