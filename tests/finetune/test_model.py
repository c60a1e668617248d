"""The base model of a run: precision, loading options, LoRA targets, QLoRA's requirements."""

from __future__ import annotations

import pytest

from llmops_magics import finetune
from llmops_magics.finetune import FineTuneConfigError, FineTuneError


def test_unknown_target_modules_lists_linear_layers(pairs, ft_config, workspace):
    cfg = ft_config(target_modules=["q_proj", "attn_qkv"])
    with pytest.raises(FineTuneConfigError, match="attn_qkv") as info:
        finetune.train(cfg, pairs(), progress=False)
    for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert name in str(info.value)
    assert "lm_head" not in str(info.value)


def test_qlora_without_cuda_is_a_clear_error(pairs, ft_config, workspace):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(FineTuneError, match="QLoRA .*CUDA"):
        finetune.train(ft_config(quantize="4bit"), pairs(), progress=False)


def test_model_kwargs_per_precision(monkeypatch):
    """bf16 runs hold the frozen base in bf16, with eager attention on a CPU; fp32 is default."""
    import torch

    from llmops_magics.finetune._model import EAGER_MAX_LENGTH, model_kwargs

    assert model_kwargs("fp32", 256) == {"dtype": torch.float32}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert model_kwargs("bf16", 256) == {"dtype": torch.bfloat16, "attn_implementation": "eager"}
    assert model_kwargs("bf16", EAGER_MAX_LENGTH + 1) == {"dtype": torch.bfloat16}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert model_kwargs("bf16", 256) == {"dtype": torch.bfloat16}


def test_auto_precision_follows_the_hardware_and_the_model_size(monkeypatch):
    import torch

    from llmops_magics.finetune import _model

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(_model, "cpu_has_bf16", lambda: True)
    assert finetune.resolve_precision("auto", hidden_size=576) == "bf16"
    assert finetune.resolve_precision("auto", hidden_size=64) == "fp32"  # casts cost more
    monkeypatch.setattr(_model, "cpu_has_bf16", lambda: False)
    assert finetune.resolve_precision("auto", hidden_size=576) == "fp32"
    with pytest.raises(FineTuneConfigError, match="fp16") as info:
        finetune.resolve_precision("fp16")
    assert info.value.field == "precision"


def test_the_base_model_hash_is_the_models_content_hash(tiny_model):
    """Fine-tuning logs ModelRef.content_hash: the SHA-256 of the base's config and weights."""
    import hashlib

    from llmops_magics import models

    files = sorted(
        f
        for f in tiny_model.iterdir()
        if f.suffix in (".safetensors", ".bin") or f.name == "config.json"
    )
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.name}:{hashlib.sha256(f.read_bytes()).hexdigest()}\n".encode())
    assert models.resolve(str(tiny_model)).content_hash == digest.hexdigest()
