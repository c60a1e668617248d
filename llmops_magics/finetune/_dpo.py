"""Preference fine-tuning (DPO) with TRL's ``DPOTrainer`` on a LoRA adapter.

The preferences are ``prompt, chosen, rejected`` rows — the feedback stage's ``--export dpo``
file loads directly. When the rows carry lineage columns (``trace_id(s)``,
``assessment_id(s)``), the run records which ratings it learned from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from llmops_magics.errors import DataError
from llmops_magics.finetune._config import FineTuneConfig
from llmops_magics.finetune._data import check_frame, data_hash, render_prompt
from llmops_magics.finetune._model import lora_config, target_modules_for
from llmops_magics.finetune._prepare import Prepared, load_inputs
from llmops_magics.finetune._result import FineTuneResult
from llmops_magics.finetune._train import RunOptions, train

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["prepare_dpo", "read_preferences", "train_dpo"]

LINEAGE_COLUMNS = ("trace_id", "trace_ids", "assessment_id", "assessment_ids")
#: how many pairs, ratings and traces a DPO run learned from (tags written by this stage only)
PREFERENCE_PAIRS = "llmops.preference_pairs"
PREFERENCE_RATINGS = "llmops.preference_ratings"
PREFERENCE_TRACES = "llmops.preference_traces"


def read_preferences(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a preference file: JSONL (one ``{"prompt", "chosen", "rejected"}`` per line), JSON
    or CSV."""
    import pandas as pd

    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(
            f"No preference file at {str(file)!r}.",
            hint="Export one with %llmops feedback --export dpo PATH, or pass a DataFrame.",
        )
    try:
        if file.suffix == ".csv":
            return pd.read_csv(file)
        return pd.read_json(file, lines=file.suffix != ".json", dtype=False)
    except ValueError as exc:
        raise DataError(
            f"Cannot read the preference file {str(file)!r}: {exc}",
            hint="It must be JSONL with prompt, chosen and rejected fields on each line.",
        ) from exc


def _ids(frame: pd.DataFrame, column: str) -> list[str]:
    out: list[str] = []
    if column not in frame:
        return out
    for value in frame[column].tolist():
        if isinstance(value, list | tuple):
            out.extend(str(v) for v in value if v is not None)
        elif value is not None and value == value and str(value):
            out.append(str(value))
    return sorted(set(out))


def _lineage(frame: pd.DataFrame, digest: str) -> dict[str, Any]:
    return {
        "preferences_hash": digest,
        "n_pairs": len(frame),
        "trace_ids": sorted(set(_ids(frame, "trace_id") + _ids(frame, "trace_ids"))),
        "assessment_ids": sorted(set(_ids(frame, "assessment_id") + _ids(frame, "assessment_ids"))),
    }


def _dataset(frame: pd.DataFrame, config: FineTuneConfig, tokenizer: Any) -> Any:
    from datasets import Dataset

    prompts = frame[str(config.prompt_col)].tolist()
    chosen = frame[config.chosen_col].tolist()
    rejected = frame[config.rejected_col].tolist()
    rows: dict[str, list[Any]]
    if getattr(tokenizer, "chat_template", None):
        head: list[dict[str, str]] = (
            [{"role": "system", "content": config.system}] if config.system else []
        )
        rows = {
            "prompt": [[*head, {"role": "user", "content": p}] for p in prompts],
            "chosen": [[{"role": "assistant", "content": c}] for c in chosen],
            "rejected": [[{"role": "assistant", "content": r}] for r in rejected],
        }
    else:
        eos = tokenizer.eos_token or ""
        rows = {
            "prompt": [render_prompt(tokenizer, p, config.system) for p in prompts],
            "chosen": [c + eos for c in chosen],
            "rejected": [r + eos for r in rejected],
        }
    return Dataset.from_dict(rows)


def _check_pairs(frame: pd.DataFrame, config: FineTuneConfig, name: str) -> pd.DataFrame:
    same = frame[config.chosen_col] == frame[config.rejected_col]
    blank = (frame[config.chosen_col].str.strip() == "") | (
        frame[config.rejected_col].str.strip() == ""
    )
    usable = frame[~(same | blank)].reset_index(drop=True)
    if usable.empty:
        raise DataError(
            f"{name} has no usable preference pairs ({len(frame)} rows; every chosen answer is "
            "empty or equal to its rejected one).",
            hint="Export pairwise ratings with %llmops feedback --export dpo PATH.",
        )
    return usable


def prepare_dpo(config: FineTuneConfig, data: Any, eval_data: Any) -> Prepared:
    """Check the preferences, load the base model and set up the ``DPOTrainer`` factory."""
    train_full = check_frame(data, config, name="preferences")
    train_frame = _check_pairs(train_full, config, "preferences")
    eval_frame = None
    if eval_data is not None:
        eval_frame = _check_pairs(
            check_frame(eval_data, config, name="eval_data"), config, "eval_data"
        )
    inputs, model = load_inputs(config, train_frame, eval_frame)
    tokenizer = inputs.tokenizer
    targets = target_modules_for(model, config)
    lengths = [
        len(tokenizer(render_prompt(tokenizer, p, config.system))["input_ids"])
        for p in train_frame[str(config.prompt_col)].tolist()
    ]
    too_long = [i for i, n in enumerate(lengths) if n >= config.max_length]
    if too_long:
        raise DataError(
            f"max_length={config.max_length} is below the prompt length of {len(too_long)} of "
            f"{len(train_frame)} preference rows (longest prompt: {max(lengths)} tokens).",
            rows=too_long,
            hint=f"Raise --max-length to at least {max(lengths) + 16}, or drop the long rows.",
        )
    train_ds = _dataset(train_frame, config, tokenizer)
    eval_ds = None if eval_frame is None else _dataset(eval_frame, config, tokenizer)
    source = data if hasattr(data, "columns") else train_full
    lineage = _lineage(source, data_hash(train_frame))

    def make_trainer(args: Any, callbacks: list[Any]) -> Any:
        from trl import DPOTrainer

        lora = lora_config(config, targets)
        return DPOTrainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            processing_class=tokenizer,
            callbacks=callbacks,
            peft_config=lora,
        )

    from trl import DPOConfig

    tags = {
        PREFERENCE_PAIRS: str(len(train_frame)),
        PREFERENCE_RATINGS: str(len(lineage["assessment_ids"])),
        PREFERENCE_TRACES: str(len(lineage["trace_ids"])),
    }
    return inputs.ready(
        n_train=len(train_ds),
        has_eval=eval_ds is not None,
        make_trainer=make_trainer,
        args_class=DPOConfig,
        args_extra={
            "beta": config.beta,
            "max_length": config.max_length,
            "gradient_checkpointing": False,
        },
        params={
            "n_train_rows": str(len(train_ds)),
            "n_eval_rows": str(len(eval_ds) if eval_ds is not None else 0),
            "dropped_pairs": str(len(train_full) - len(train_frame)),
        },
        tags=tags,
        artifacts={"preferences_lineage.json": lineage},
    )


def train_dpo(
    config: FineTuneConfig,
    preferences: Any,
    eval_preferences: Any = None,
    **options: Unpack[RunOptions],
) -> FineTuneResult:
    """Train a LoRA adapter with DPO on ``prompt, chosen, rejected`` preferences.

    Same run layout, panel, checkpoints and ``run:<id>`` spec as :func:`train`; the run also
    logs ``preferences_lineage.json`` (content hash, trace and assessment ids) when the
    preferences carry those columns.

    Parameters
    ----------
    config
        A :class:`FineTuneConfig`; its ``method`` is set to ``"dpo"``.
    preferences, eval_preferences
        DataFrames or paths to JSONL files (:func:`read_preferences`).
    **options
        The keyword options of :func:`train`: ``callbacks``, ``parent_run_id``, ``run_name``,
        ``tags``, ``progress``.
    """
    if isinstance(preferences, str | os.PathLike):
        preferences = read_preferences(preferences)
    if isinstance(eval_preferences, str | os.PathLike):
        eval_preferences = read_preferences(eval_preferences)
    if config.method != "dpo":
        config = config.replace(
            method="dpo", text_col=None, response_col=None, prompt_col=config.prompt_col or "prompt"
        )
    return train(config, preferences, eval_preferences, **options)
