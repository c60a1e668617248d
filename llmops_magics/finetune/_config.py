"""The validated settings of one fine-tuning run."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from llmops_magics.finetune._errors import FineTuneConfigError

__all__ = ["METHODS", "PRECISIONS", "FineTuneConfig"]

METHODS = ("sft", "dpo")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
QUANTIZE = ("none", "4bit")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class FineTuneConfig:
    """Everything that decides a LoRA fine-tuning run; validated on creation, JSON round-trip.

    Data columns: either ``text_col`` (plain causal-LM text, loss on every token) or
    ``prompt_col`` + ``response_col`` (rendered through the chat template, loss on the response
    only). For ``method="dpo"`` the data has ``prompt``, ``chosen`` and ``rejected`` columns
    (names set by ``prompt_col``, ``chosen_col``, ``rejected_col``).

    Examples
    --------
    >>> cfg = FineTuneConfig(model="smollm2", prompt_col="question", response_col="answer")
    >>> FineTuneConfig.from_json(cfg.to_json()) == cfg
    True
    """

    model: str = field(default="smollm2", metadata=_help("base model spec (smollm2 or a folder)"))
    text_col: str | None = field(default=None, metadata=_help("column of plain training text"))
    prompt_col: str | None = field(default=None, metadata=_help("column of prompts"))
    response_col: str | None = field(default=None, metadata=_help("column of responses (SFT)"))
    system: str | None = field(default=None, metadata=_help("system message for chat templates"))
    lora_r: int = field(default=8, metadata=_help("LoRA rank, 1 to 512"))
    lora_alpha: int = field(default=16, metadata=_help("LoRA scaling alpha, 1 to 4096"))
    lora_dropout: float = field(default=0.05, metadata=_help("dropout on the LoRA input, [0, 1)"))
    target_modules: list[str] | None = field(
        default=None,
        metadata=_help("linear layer names to adapt (default q_proj,v_proj, else all linear)"),
    )
    lr: float = field(default=2e-4, metadata=_help("peak learning rate, in (0, 1]"))
    epochs: float = field(
        default=1.0, metadata=_help("passes over the data (ignored with max_steps)")
    )
    max_steps: int | None = field(default=None, metadata=_help("stop after this many steps"))
    batch_size: int = field(default=4, metadata=_help("rows per device batch"))
    grad_accum: int = field(default=1, metadata=_help("batches per optimizer step"))
    max_length: int = field(default=256, metadata=_help("tokens per row at most (truncated)"))
    seed: int = field(default=0, metadata=_help("seed for LoRA init, data order and dropout"))
    eval_steps: int = field(default=20, metadata=_help("evaluate every N steps (with eval data)"))
    save_steps: int = field(default=50, metadata=_help("checkpoint every N steps"))
    logging_steps: int = field(default=1, metadata=_help("log metrics every N steps"))
    warmup_steps: int = field(default=0, metadata=_help("linear warm-up steps"))
    weight_decay: float = field(default=0.0, metadata=_help("AdamW weight decay"))
    scheduler: str = field(default="linear", metadata=_help("learning-rate schedule"))
    precision: str = field(
        default="auto", metadata=_help("auto (bf16 where the hardware has it), bf16, fp16, fp32")
    )
    quantize: str = field(default="none", metadata=_help("'4bit' = QLoRA (CUDA + bitsandbytes)"))
    method: str = field(default="sft", metadata=_help("sft or dpo"))
    chosen_col: str = field(default="chosen", metadata=_help("DPO: column of preferred answers"))
    rejected_col: str = field(default="rejected", metadata=_help("DPO: column of worse answers"))
    beta: float = field(default=0.1, metadata=_help("DPO: strength of the KL penalty, > 0"))
    prompt_version: str | None = field(
        default=None, metadata=_help("version of the prompt template the data was made with")
    )
    save_total_limit: int = field(default=3, metadata=_help("checkpoints kept per run"))

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str):
            self.target_modules = [m.strip() for m in self.target_modules.split(",") if m.strip()]
        elif self.target_modules is not None:
            self.target_modules = list(self.target_modules)
        if self.method == "dpo" and self.prompt_col is None:
            self.prompt_col = "prompt"
        self.validate()

    # -- validation --------------------------------------------------------------------------

    def validate(self) -> FineTuneConfig:
        """Check every field; raise :class:`FineTuneConfigError` naming the field and the fix."""

        def need(name: str, ok: bool, expected: str, hint: str | None = None) -> None:
            if not ok:
                value = getattr(self, name)
                raise FineTuneConfigError(
                    name, f"{name}={value!r} is out of range: it must be {expected}.", hint=hint
                )

        def number(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FineTuneConfigError(
                    name, f"{name} must be a number, got {type(value).__name__} {value!r}."
                )
            return float(value)

        def integer(name: str) -> int:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise FineTuneConfigError(
                    name, f"{name} must be an integer, got {type(value).__name__} {value!r}."
                )
            return value

        if not isinstance(self.model, str) or not self.model.strip():
            raise FineTuneConfigError("model", "model must be a model spec such as 'smollm2'.")
        need("method", self.method in METHODS, f"one of {', '.join(METHODS)}")
        need("precision", self.precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}")
        need("quantize", self.quantize in QUANTIZE, f"one of {', '.join(QUANTIZE)}")
        need("scheduler", self.scheduler in SCHEDULERS, f"one of {', '.join(SCHEDULERS)}")
        lr = number("lr")
        need(
            "lr",
            math.isfinite(lr) and 0 < lr <= 1,
            "in (0, 1]",
            hint="LoRA usually trains well with 1e-4 to 1e-3 (default 2e-4).",
        )
        need(
            "lora_r", 1 <= integer("lora_r") <= 512, "an integer from 1 to 512", hint="Try 8 or 16."
        )
        need("lora_alpha", 1 <= integer("lora_alpha") <= 4096, "an integer from 1 to 4096")
        dropout = number("lora_dropout")
        need("lora_dropout", 0 <= dropout < 1, "in [0, 1)")
        epochs = number("epochs")
        need("epochs", math.isfinite(epochs) and 0 < epochs <= 1000, "in (0, 1000]")
        if self.max_steps is not None:
            need("max_steps", integer("max_steps") >= 1, "at least 1 (or None: run the epochs)")
        need("batch_size", 1 <= integer("batch_size") <= 4096, "an integer from 1 to 4096")
        need("grad_accum", 1 <= integer("grad_accum") <= 4096, "an integer from 1 to 4096")
        need("max_length", 8 <= integer("max_length") <= 131072, "an integer from 8 to 131072")
        need("seed", integer("seed") >= 0, "a non-negative integer")
        need("eval_steps", integer("eval_steps") >= 1, "at least 1")
        need("save_steps", integer("save_steps") >= 1, "at least 1")
        need("logging_steps", integer("logging_steps") >= 1, "at least 1")
        need("warmup_steps", integer("warmup_steps") >= 0, "0 or more")
        need("save_total_limit", integer("save_total_limit") >= 1, "at least 1")
        need("weight_decay", 0 <= number("weight_decay") < 1, "in [0, 1)")
        need("beta", 0 < number("beta") <= 100, "in (0, 100]")
        targets = self.target_modules
        if targets is not None and not (targets and all(isinstance(m, str) and m for m in targets)):
            raise FineTuneConfigError(
                "target_modules",
                f"target_modules must be a non-empty list of layer names, got {targets!r}.",
                hint="For example ['q_proj', 'v_proj'], or None for the default.",
            )
        if self.method == "sft":
            has_text = self.text_col is not None
            has_pair = self.prompt_col is not None or self.response_col is not None
            if has_text == has_pair:
                raise FineTuneConfigError(
                    "text_col",
                    "Give either text_col (plain text) or prompt_col and response_col "
                    "(prompt/response pairs), not both and not neither.",
                    hint="e.g. --text COL, or --prompt-col question --response-col answer.",
                )
            if has_pair and (self.prompt_col is None or self.response_col is None):
                missing = "response_col" if self.response_col is None else "prompt_col"
                raise FineTuneConfigError(
                    missing, "prompt_col and response_col go together; one is missing."
                )
        return self

    # -- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The config as a JSON string (:meth:`from_json` gives an equal config back)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FineTuneConfig:
        """A config from a dict; unknown keys are refused with the list of known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FineTuneConfigError(
                unknown[0],
                f"Unknown FineTuneConfig field(s): {', '.join(unknown)}.",
                hint=f"Known fields: {', '.join(sorted(known))}.",
            )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> FineTuneConfig:
        """The config that :meth:`to_json` wrote."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FineTuneConfigError("json", f"Not a FineTuneConfig JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise FineTuneConfigError("json", "A FineTuneConfig JSON must be an object.")
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> FineTuneConfig:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def params(self) -> dict[str, str]:
        """The fields as MLflow run parameters (strings, None as '')."""
        out = {}
        for key, value in self.to_dict().items():
            if isinstance(value, list):
                value = ",".join(value)
            out[key] = "" if value is None else str(value)
        return out
