"""Loading models: the in-process cache, dtypes and devices, adapters on a shared base."""

from __future__ import annotations

import json

import pytest

from llmops_magics import models
from llmops_magics.errors import ModelNotFoundError
from llmops_magics.models import _load
from llmops_magics.testing import make_tiny_adapter


def test_loaded_models_stay_in_memory_until_the_folder_changes(tmp_path, tiny_model):
    import os
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    first = models.load(str(copy))
    assert models.load(str(copy)) is first
    config = copy / "config.json"
    # newer than every file of the folder (their times are copied from the tiny model's)
    newest = max(f.stat().st_mtime_ns for f in copy.iterdir() if f.is_file())
    os.utime(config, ns=(config.stat().st_atime_ns, newest + 10**9))
    assert models.load(str(copy)) is not first
    assert str(first.model.device) == "cpu"


def test_bad_dtype_or_device(tiny_model):
    from llmops_magics.errors import GenerationError

    with pytest.raises(GenerationError, match="dtype='int8' is not supported"):
        models.load(str(tiny_model), dtype="int8")
    with pytest.raises(GenerationError, match="Cannot place the model on device 'cuda:7'"):
        models.load(str(tiny_model), device="cuda:7")


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
    a = make_tiny_adapter(tiny_model, tmp_path / "a", seed=1)
    b = make_tiny_adapter(tiny_model, tmp_path / "b", seed=2)
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
    a = make_tiny_adapter(tiny_model, tmp_path / "a", seed=3)
    out = models.generate(["hi"], model=a, max_new_tokens=4, track=False)
    assert len(out.texts) == 1


def test_adapter_without_base_is_refused(tiny_model, tmp_path):
    a = make_tiny_adapter(tiny_model, tmp_path / "a", seed=1)
    cfg = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = None
    (tmp_path / "a" / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelNotFoundError, match="base_model_name_or_path"):
        models.resolve(a)
