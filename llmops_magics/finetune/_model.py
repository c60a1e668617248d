"""The base model of a run: which one, in which precision, and the LoRA layers put on it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from llmops_magics.finetune._config import FineTuneConfig
from llmops_magics.finetune._errors import FineTuneConfigError, FineTuneError

__all__ = [
    "BF16_MIN_HIDDEN",
    "EAGER_MAX_LENGTH",
    "cpu_has_bf16",
    "hidden_size",
    "linear_layer_names",
    "load_model",
    "lora_config",
    "model_kwargs",
    "peft_model",
    "resolve_base",
    "resolve_precision",
    "target_modules_for",
]

#: below this hidden size, CPU bf16 autocast costs more in casts than it saves in matmuls
BF16_MIN_HIDDEN = 256
#: longest sequences for which CPU bf16 training uses eager attention (its score matrices
#: grow with the square of the length)
EAGER_MAX_LENGTH = 1024


# --- precision -------------------------------------------------------------------------------


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), so autocast pays off."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


def resolve_precision(precision: str, *, hidden_size: int | None = None) -> str:
    """The precision a run uses.

    ``auto`` gives bf16 on a CUDA GPU that supports it (else fp16), and on a CPU with native
    bf16 (AVX512-BF16 or AMX) for models with ``hidden_size`` of at least 256 — on toy models
    the casts cost more than the faster matmuls save; fp32 everywhere else.
    """
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        big_enough = hidden_size is None or hidden_size >= BF16_MIN_HIDDEN
        return "bf16" if cpu_has_bf16() and big_enough else "fp32"
    if precision == "fp16" and not cuda:
        raise FineTuneConfigError(
            "precision",
            "precision='fp16' needs a CUDA GPU; this machine has none.",
            hint="Use precision='auto' (bf16 where the CPU supports it) or 'fp32'.",
        )
    return precision


def hidden_size(path: str | Path) -> int | None:
    """The ``hidden_size`` in a model folder's ``config.json`` (None when unknown)."""
    try:
        value = json.loads((Path(path) / "config.json").read_text()).get("hidden_size")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int) else None


def model_kwargs(precision: str, max_length: int) -> dict[str, Any]:
    """How the base model is loaded for a run in ``precision``.

    Under bf16 the frozen base weights are stored in bf16: they are never updated, so they need
    no float32 master copy, and autocast does not re-cast them at every matrix product. The LoRA
    weights, their optimizer state and the saved adapter stay float32 (peft's
    ``autocast_adapter_dtype``). On a CPU, bf16 training also uses eager attention: PyTorch's
    fused CPU attention is slow to differentiate in bf16, and on SmolLM2 at 128-256 tokens a
    LoRA step with eager attention is about 1.2x faster (``benchmarks/finetune.md``). GPUs keep
    the default fused attention.
    """
    import torch

    if precision != "bf16":
        return {"dtype": torch.float32}
    out: dict[str, Any] = {"dtype": torch.bfloat16}
    if not torch.cuda.is_available() and max_length <= EAGER_MAX_LENGTH:
        out["attn_implementation"] = "eager"
    return out


# --- loading ---------------------------------------------------------------------------------


def resolve_base(config: FineTuneConfig) -> tuple[Any, str]:
    """The base model's ``ModelRef`` and the spec written into the adapter config (the name of
    an embedded model, else the folder's absolute path)."""
    from llmops_magics import models

    ref = models.resolve(config.model)
    if ref.is_adapter:
        raise FineTuneError(
            f"The model {config.model!r} is a LoRA adapter; fine-tuning starts from a full model.",
            hint=f"Merge it first (%llmops merge {config.model} --out DIR) and train on DIR, or "
            f"train on its base {ref.base!r}.",
        )
    spec = config.model if ref.kind == "embedded" else str(ref.path)
    return ref, spec


def load_model(config: FineTuneConfig, ref: Any) -> tuple[Any, Any]:
    """The base model (in the run's precision, or 4-bit for QLoRA) and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmops_magics.models import without_hf_bars

    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    tokenizer = AutoTokenizer.from_pretrained(ref.path, **kwargs)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    with without_hf_bars():
        if config.quantize == "4bit":
            return _load_4bit(ref, kwargs), tokenizer
        precision = resolve_precision(config.precision, hidden_size=hidden_size(ref.path))
        model = AutoModelForCausalLM.from_pretrained(
            ref.path, **model_kwargs(precision, config.max_length), **kwargs
        )
    return model, tokenizer


def _load_4bit(ref: Any, kwargs: dict[str, Any]) -> Any:
    import torch

    cuda = torch.cuda.is_available()
    if not cuda or importlib.util.find_spec("bitsandbytes") is None:
        missing = "the bitsandbytes package" if cuda else "a CUDA GPU"
        raise FineTuneError(
            f"QLoRA (4-bit) needs a CUDA GPU and bitsandbytes; this machine lacks {missing}.",
            hint="Train plain LoRA instead (leave out --qlora / quantize='4bit'): on CPU it "
            "runs in bf16 where supported, else fp32"
            + (". Install it: pip install bitsandbytes." if cuda else "."),
        )
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    model = AutoModelForCausalLM.from_pretrained(ref.path, quantization_config=quant, **kwargs)
    return prepare_model_for_kbit_training(model)


# --- LoRA ------------------------------------------------------------------------------------


def linear_layer_names(model: Any) -> list[str]:
    """The names (last path part) of the model's linear layers, the valid LoRA targets."""
    import torch

    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name
    }
    names.discard("lm_head")
    return sorted(names)


def target_modules_for(model: Any, config: FineTuneConfig) -> list[str]:
    """The LoRA target layers: the config's (checked against the model) or the default."""
    linear = linear_layer_names(model)
    if config.target_modules is None:
        default: list[str] = [m for m in ("q_proj", "v_proj") if m in linear]
        return default or linear
    unknown = [m for m in config.target_modules if m not in linear]
    if unknown:
        raise FineTuneConfigError(
            "target_modules",
            f"Unknown target module(s) {', '.join(unknown)} for {config.model!r}.",
            hint=f"Its linear layers are: {', '.join(linear)}.",
        )
    return list(config.target_modules)


def lora_config(config: FineTuneConfig, targets: list[str]) -> Any:
    """peft's ``LoraConfig`` of the run, after seeding (the LoRA A matrices are drawn from the
    run's seed when the adapter is made)."""
    from peft import LoraConfig
    from transformers import set_seed

    set_seed(config.seed)
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )


def peft_model(model: Any, config: FineTuneConfig) -> Any:
    """``model`` with fresh LoRA layers on the target modules."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config(config, target_modules_for(model, config)))
