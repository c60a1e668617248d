"""Adapter folders load on their base; several adapters share one base in memory."""

from __future__ import annotations

import json

import pytest

from llmops_magics import models
from llmops_magics.errors import ModelNotFoundError
from llmops_magics.models import _load


def _make_adapter(base: str, dest, seed: int) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(
        model,
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    peft_model.save_pretrained(dest)
    config = json.loads((dest / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(base)
    (dest / "adapter_config.json").write_text(json.dumps(config))
    return str(dest)


def _logits(spec: str):
    import torch

    loaded = models.load(spec)
    ids = loaded.tokenizer("hello world", return_tensors="pt").input_ids
    with torch.no_grad():
        return loaded.model(input_ids=ids).logits


def test_adapters_share_the_base_and_switch(tiny_model, tmp_path):
    tiny_model = str(tiny_model)
    models.clear_cache()
    _load.load_counts.clear()
    a = _make_adapter(tiny_model, tmp_path / "a", seed=1)
    b = _make_adapter(tiny_model, tmp_path / "b", seed=2)
    base_logits = _logits(tiny_model)
    a_logits = _logits(a)
    b_logits = _logits(b)
    assert models.resolve(a).is_adapter and models.resolve(a).base == str(tiny_model)
    assert not (a_logits - base_logits).abs().max() < 1e-4
    assert not (a_logits - b_logits).abs().max() < 1e-4
    # switching back gives exactly the same numbers: adapters are swapped, not merged
    assert (_logits(tiny_model) - base_logits).abs().max() == 0
    assert (_logits(a) - a_logits).abs().max() == 0
    assert sum(_load.load_counts.values()) == 1  # the base was read from disk once


def test_generate_with_an_adapter(tiny_model, tmp_path, workspace):
    a = _make_adapter(tiny_model, tmp_path / "a", seed=3)
    out = models.generate(["hi"], model=a, max_new_tokens=4, track=False)
    assert len(out.texts) == 1


def test_adapter_without_base_is_refused(tiny_model, tmp_path):
    a = _make_adapter(tiny_model, tmp_path / "a", seed=1)
    cfg = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = None
    (tmp_path / "a" / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelNotFoundError, match="base_model_name_or_path"):
        models.resolve(a)
