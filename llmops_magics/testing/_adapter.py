"""A tiny random LoRA adapter on a local base model, for tests of adapters and their caches."""

from __future__ import annotations

import json
import os
from pathlib import Path

from llmops_magics.files import atomic_write

__all__ = ["make_tiny_adapter"]


def make_tiny_adapter(
    base_path: str | os.PathLike[str], out_path: str | os.PathLike[str], *, seed: int = 0
) -> str:
    """Write a random LoRA adapter (r=4 on ``q_proj``/``v_proj``) of ``base_path`` to ``out_path``.

    The adapter's weights are not zero (``init_lora_weights=False``), so it changes what the base
    model generates; another ``seed`` gives other weights. Its ``adapter_config.json`` names the
    base folder, so the result works as a model spec on its own.

    Parameters
    ----------
    base_path
        A local model folder, e.g. the one :func:`make_tiny_model` wrote.
    out_path
        The adapter's folder (created; an adapter already there is overwritten).
    seed
        The seed of the random LoRA weights.

    Returns
    -------
    str
        ``out_path`` as a model spec.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    dest = Path(out_path)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_path)
    lora = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    get_peft_model(model, lora).save_pretrained(str(dest))
    config_file = dest / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = str(base_path)
    atomic_write(config_file, json.dumps(config))
    return str(dest)
