"""Merging an adapter into its base: a full model with the adapter's logits, written atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmops_magics import finetune, models, tracking
from llmops_magics.finetune import FineTuneError


def test_merge_writes_a_full_model_with_the_adapter_logits(trained, tmp_path, workspace):
    import torch
    from transformers import AutoModelForCausalLM

    result, _ = trained
    out = finetune.merge(result.spec, tmp_path / "merged")
    assert (
        Path(out.out, "config.json").exists() and not Path(out.out, "adapter_config.json").exists()
    )
    assert [p.name for p in tmp_path.iterdir()] == ["merged"]  # no temporary folder left
    merged = AutoModelForCausalLM.from_pretrained(out.out)
    loaded = models.load(result.spec)
    ids = loaded.tokenizer("What does the model do 3?", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(
            merged(input_ids=ids).logits, loaded.model(input_ids=ids).logits, atol=1e-4
        )
    run = tracking.tracker().get_run(result.run_id)
    assert run.data.tags["llmops.merged_to"] == out.out
    with pytest.raises(FineTuneError, match="not empty"):
        finetune.merge(result.spec, tmp_path / "merged")
    again = finetune.merge(result.spec, tmp_path / "merged", overwrite=True)
    assert Path(again.out, "model.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged"]
    with pytest.raises(FineTuneError, match="not a LoRA adapter"):
        finetune.merge(str(result.base_model), tmp_path / "m2")
