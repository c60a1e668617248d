"""Everything a run needs before its MLflow run exists: checked data, the base model with its
LoRA layers, the token rows, and a factory for the method's trainer."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.finetune._config import FineTuneConfig
from llmops_magics.finetune._data import Collator, check_frame, tokenize_frame
from llmops_magics.finetune._errors import FineTuneConfigError
from llmops_magics.finetune._model import load_model, peft_model, resolve_base

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Inputs", "Prepared", "load_inputs", "planned_steps", "prepare", "training_args"]


@dataclass
class Inputs:
    """What every method starts from: the checked data and the base model's reference, spec
    (as the adapter config names it) and tokenizer."""

    config: FineTuneConfig
    ref: Any
    base_spec: str
    tokenizer: Any
    train_frame: pd.DataFrame
    eval_frame: pd.DataFrame | None

    def ready(self, **method: Any) -> Prepared:
        """The prepared run: these inputs and what the method adds (:class:`Prepared`)."""
        return Prepared(**vars(self), **method)


def load_inputs(
    config: FineTuneConfig, train_frame: pd.DataFrame, eval_frame: pd.DataFrame | None
) -> tuple[Inputs, Any]:
    """The run's inputs and its base model, loaded for training."""
    ref, base_spec = resolve_base(config)
    model, tokenizer = load_model(config, ref)
    return Inputs(config, ref, base_spec, tokenizer, train_frame, eval_frame), model


@dataclass
class Prepared(Inputs):
    """A run ready to start; ``make_trainer(args, callbacks)`` builds the method's trainer
    (``Trainer`` for SFT, TRL's ``DPOTrainer`` for DPO)."""

    n_train: int
    has_eval: bool
    make_trainer: Callable[[Any, list[Any]], Any]
    args_class: Any = None
    args_extra: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: JSON artifacts logged with the run (e.g. which ratings a DPO run learned from)
    artifacts: dict[str, Any] = field(default_factory=dict)
    truncated: int = 0


def prepare(config: FineTuneConfig, data: Any, eval_data: Any) -> Prepared:
    """Check the config and the data, load the base model and set up the trainer factory."""
    if not isinstance(config, FineTuneConfig):
        raise FineTuneConfigError(
            "config", f"config must be a FineTuneConfig, got {type(config).__name__}."
        )
    config.validate()
    if config.method == "dpo":
        from llmops_magics.finetune._dpo import prepare_dpo

        return prepare_dpo(config, data, eval_data)
    return _prepare_sft(config, data, eval_data)


def _prepare_sft(config: FineTuneConfig, data: Any, eval_data: Any) -> Prepared:
    train_frame = check_frame(data, config, name="data")
    eval_frame = None if eval_data is None else check_frame(eval_data, config, name="eval_data")
    inputs, model = load_inputs(config, train_frame, eval_frame)
    tokenizer = inputs.tokenizer
    train_rows = tokenize_frame(train_frame, tokenizer, config, name="data")
    eval_rows = (
        None
        if eval_frame is None
        else tokenize_frame(eval_frame, tokenizer, config, name="eval_data")
    )
    model = peft_model(model, config)

    def make_trainer(args: Any, callbacks: list[Any]) -> Any:
        from transformers import Trainer

        return Trainer(
            model=model,
            args=args,
            train_dataset=train_rows,
            eval_dataset=eval_rows,
            data_collator=Collator(tokenizer.pad_token_id),
            callbacks=callbacks,
        )

    return inputs.ready(
        n_train=len(train_rows),
        has_eval=eval_rows is not None,
        make_trainer=make_trainer,
        params={
            "n_train_rows": str(len(train_rows)),
            "n_eval_rows": str(len(eval_rows) if eval_rows else 0),
            "train_tokens": str(train_rows.tokens),
            "truncated_rows": str(train_rows.truncated),
            "attn_implementation": str(getattr(model.config, "_attn_implementation", "")),
            "base_dtype": str(model.dtype).removeprefix("torch."),
        },
        truncated=train_rows.truncated,
    )


def training_args(prepared: Prepared, out: Path, precision: str) -> Any:
    """The trainer's arguments (``TrainingArguments``, or the method's subclass)."""
    import torch
    from transformers import TrainingArguments

    config, has_eval = prepared.config, prepared.has_eval
    return (prepared.args_class or TrainingArguments)(
        output_dir=str(out),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=config.eval_steps if has_eval else None,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
        prediction_loss_only=True,
        **prepared.args_extra,
    )


def planned_steps(config: FineTuneConfig, n_rows: int) -> int:
    """The optimizer steps a run of ``n_rows`` rows will take."""
    if config.max_steps is not None:
        return config.max_steps
    per_epoch = math.ceil(math.ceil(n_rows / config.batch_size) / config.grad_accum)
    return max(1, math.ceil(per_epoch * config.epochs))
