"""The validated settings of one fine-tuning run."""

from __future__ import annotations

from dataclasses import dataclass

from llmops_magics.config import Config, option
from llmops_magics.finetune._errors import FineTuneConfigError

__all__ = ["METHODS", "PRECISIONS", "FineTuneConfig"]

METHODS = ("sft", "dpo")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
QUANTIZE = ("none", "4bit")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")


@dataclass
class FineTuneConfig(Config):
    """Everything that decides a LoRA fine-tuning run; validated on creation, JSON round-trip.

    Data columns: either ``text_col`` (plain causal-LM text, loss on every token) or
    ``prompt_col`` + ``response_col`` (rendered through the chat template, loss on the response
    only). For ``method="dpo"`` the data has ``prompt``, ``chosen`` and ``rejected`` columns
    (names set by ``prompt_col``, ``chosen_col``, ``rejected_col``).

    Each field is also a flag of ``%llmops finetune`` (and a fixed setting of ``%llmops sweep``),
    generated from the field: ``lora_alpha`` is ``--lora-alpha N``.

    Examples
    --------
    >>> cfg = FineTuneConfig(model="smollm2", prompt_col="question", response_col="answer")
    >>> FineTuneConfig.from_json(cfg.to_json()) == cfg
    True
    """

    model: str = option(
        "smollm2",
        help="base model spec (default: the session's default_model)",
        short="-m",
        metavar="SPEC",
    )
    text_col: str | None = option(
        None, help="column of plain text (loss on every token)", flag="--text", metavar="COL"
    )
    prompt_col: str | None = option(
        None, help="column of prompts (with --response-col)", metavar="COL"
    )
    response_col: str | None = option(
        None, help="column of responses (the loss is on these)", metavar="COL"
    )
    system: str | None = option(None, help="system message for the chat template")
    lora_r: int = option(8, help="LoRA rank", minimum=1, maximum=512, hint="Try 8 or 16.")
    lora_alpha: int = option(16, help="LoRA scaling alpha", minimum=1, maximum=4096)
    lora_dropout: float = option(
        0.05, help="dropout on the LoRA input, in [0, 1)", minimum=0.0, maximum=0.999999
    )
    target_modules: list[str] | None = option(
        None,
        help="linear layers to adapt, e.g. q_proj v_proj (default q_proj,v_proj, else all linear)",
        metavar="NAME",
    )
    lr: float = option(
        2e-4,
        help="peak learning rate, in (0, 1]",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        hint="LoRA usually trains well with 1e-4 to 1e-3 (default 2e-4).",
    )
    epochs: float = option(
        1.0,
        help="passes over the data (ignored with --max-steps)",
        minimum=0.0,
        maximum=1000.0,
        exclusive_minimum=True,
    )
    max_steps: int | None = option(None, help="stop after N optimizer steps", minimum=1)
    batch_size: int = option(4, help="rows per device batch", minimum=1, maximum=4096)
    grad_accum: int = option(1, help="batches per optimizer step", minimum=1, maximum=4096)
    max_length: int = option(
        256, help="tokens per row at most (truncated)", minimum=8, maximum=131072
    )
    seed: int = option(0, help="seed for LoRA init, data order and dropout", minimum=0)
    eval_steps: int = option(20, help="evaluate every N steps (with eval data)", minimum=1)
    save_steps: int = option(50, help="checkpoint every N steps", minimum=1)
    logging_steps: int = option(1, help="log metrics every N steps", minimum=1)
    warmup_steps: int = option(0, help="linear warm-up steps", minimum=0)
    weight_decay: float = option(
        0.0, help="AdamW weight decay, in [0, 1)", minimum=0.0, maximum=0.999999
    )
    scheduler: str = option("linear", help="learning-rate schedule", choices=SCHEDULERS)
    precision: str = option(
        "auto", help="auto (bf16 where the hardware has it), bf16, fp16, fp32", choices=PRECISIONS
    )
    quantize: str = option(
        "none",
        help="'4bit' = QLoRA (CUDA + bitsandbytes)",
        choices=QUANTIZE,
        shortcuts={"--qlora": "4bit"},
    )
    method: str = option("sft", help="sft or dpo", choices=METHODS)
    chosen_col: str = option("chosen", help="DPO: column of preferred answers", metavar="COL")
    rejected_col: str = option("rejected", help="DPO: column of worse answers", metavar="COL")
    beta: float = option(
        0.1,
        help="DPO: strength of the KL penalty",
        minimum=0.0,
        maximum=100.0,
        exclusive_minimum=True,
    )
    prompt_version: str | None = option(
        None, help="version of the prompt template the data came from"
    )
    save_total_limit: int = option(3, help="checkpoints kept per run", minimum=1)

    error_class = FineTuneConfigError

    def canonicalize(self) -> None:
        """Split comma-separated ``target_modules`` ("q_proj,v_proj"); DPO prompts default to
        the ``prompt`` column."""
        targets = self.target_modules
        if isinstance(targets, str):
            targets = [targets]
        if isinstance(targets, list | tuple):
            self.target_modules = [
                m.strip() for item in targets for m in str(item).split(",") if m.strip()
            ] or list(targets)
        if self.method == "dpo" and self.prompt_col is None:
            self.prompt_col = "prompt"

    def check(self) -> None:
        """Rules between fields: a model, the data columns, a useful learning rate."""
        if not self.model.strip():
            self.fail("model", "model must be a model spec such as 'smollm2'.")
        targets = self.target_modules
        if targets is not None and not (targets and all(targets)):
            self.fail(
                "target_modules",
                f"target_modules must be a non-empty list of layer names, got {targets!r}.",
                hint="For example ['q_proj', 'v_proj'], or None for the default.",
            )
        if self.method != "sft":
            return
        has_text = self.text_col is not None
        has_pair = self.prompt_col is not None or self.response_col is not None
        if has_text == has_pair:
            self.fail(
                "text_col",
                "Give either text_col (plain text) or prompt_col and response_col "
                "(prompt/response pairs), not both and not neither.",
                hint="e.g. --text COL, or --prompt-col question --response-col answer.",
            )
        if has_pair and (self.prompt_col is None or self.response_col is None):
            missing = "response_col" if self.response_col is None else "prompt_col"
            self.fail(missing, "prompt_col and response_col go together; one is missing.")
