"""Loading models: the in-process cache, dtypes and devices, adapters on a shared base."""

from __future__ import annotations

import pytest

from llmops_magics import models


def test_loaded_models_stay_in_memory_until_the_folder_changes(tmp_path, tiny_model):
    import os
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    first = models.load(str(copy))
    assert models.load(str(copy)) is first
    config = copy / "config.json"
    os.utime(config, ns=(config.stat().st_atime_ns, config.stat().st_mtime_ns + 10**9))
    assert models.load(str(copy)) is not first
    assert str(first.model.device) == "cpu"


def test_bad_dtype_or_device(tiny_model):
    from llmops_magics.errors import GenerationError

    with pytest.raises(GenerationError, match="dtype='int8' is not supported"):
        models.load(str(tiny_model), dtype="int8")
    with pytest.raises(GenerationError, match="Cannot place the model on device 'cuda:7'"):
        models.load(str(tiny_model), device="cuda:7")
