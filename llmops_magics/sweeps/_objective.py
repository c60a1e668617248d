"""What one trial runs: a LoRA fine-tune (the default) or any importable Python function."""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib
import io
from collections.abc import Callable, Mapping
from typing import Any

from llmops_magics.sweeps._errors import SweepError
from llmops_magics.sweeps._tracking import ATTR_RUN_ID, ATTR_STEPS

__all__ = [
    "call_objective",
    "decode_frame",
    "encode_frame",
    "frame_hash",
    "objective_ref",
    "resolve_objective",
    "run_finetune_trial",
]


def _lookup(module: str, qualname: str) -> Any:
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def objective_ref(func: Callable[..., Any]) -> str | None:
    """``"module:qualname"`` when ``func`` can be imported back by another process, else None."""
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return None
    try:
        found = _lookup(module, qualname)
    except Exception:
        return None
    return f"{module}:{qualname}" if found is func else None


def resolve_objective(ref: str) -> Callable[..., Any]:
    """Import the function that ``"module:qualname"`` names."""
    module, _, qualname = ref.partition(":")
    try:
        found = _lookup(module, qualname)
    except Exception as exc:
        raise SweepError(
            f"Cannot import the sweep's objective {ref!r}: {exc}",
            hint="Run the worker where that module is importable (same code, same PYTHONPATH).",
        ) from None
    if not callable(found):
        raise SweepError(f"The sweep's objective {ref!r} is not callable.")
    return found


# --- data travels with the study, so that a worker on another machine has it ----------------


def encode_frame(frame: Any) -> str:
    """A DataFrame as compact text (gzip'd JSON records, base64) to store with the study."""
    raw = frame.to_json(orient="split", index=False, date_format="iso").encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def decode_frame(text: str) -> Any:
    """The DataFrame that :func:`encode_frame` stored."""
    import pandas as pd

    raw = gzip.decompress(base64.b64decode(text)).decode()
    return pd.read_json(io.StringIO(raw), orient="split")


def frame_hash(text: str) -> str:
    """A short content hash of an encoded frame (lineage and resume checks)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- the fine-tune objective ---------------------------------------------------------------


def _pruning_callback(trial: Any, metric: str) -> Any:
    """A ``TrainerCallback`` that reports ``metric`` at each evaluation and stops pruned trials."""
    from transformers import TrainerCallback

    class OptunaPruning(TrainerCallback):
        def __init__(self) -> None:
            self.pruned = False
            self.reported: dict[int, float] = {}

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            metrics = kwargs.get("metrics") or {}
            value = metrics.get(metric, metrics.get(f"eval_{metric}"))
            if value is None:
                return control
            step = int(state.global_step)
            self.reported[step] = float(value)
            trial.report(float(value), step)
            if trial.should_prune():
                self.pruned = True
                control.should_training_stop = True
            return control

    return OptunaPruning()


def run_finetune_trial(
    trial: Any,
    params: Mapping[str, Any],
    *,
    fixed: Mapping[str, Any],
    data: Any,
    eval_data: Any,
    metric: str,
    parent_run_id: str | None,
    tags: Mapping[str, str],
) -> float:
    """Fine-tune with ``fixed`` settings and the trial's ``params``; return the metric.

    Raises ``optuna.TrialPruned`` when the pruner stopped the training early.
    """
    import optuna

    from llmops_magics import finetune

    config = finetune.FineTuneConfig(**{**fixed, **params})
    callback = _pruning_callback(trial, metric)
    result = finetune.train(
        config,
        data,
        eval_data,
        callbacks=[callback],
        parent_run_id=parent_run_id,
        run_name=f"trial {trial.number}",
        tags=dict(tags),
        progress=False,
    )
    trial.set_user_attr(ATTR_RUN_ID, result.run_id)
    trial.set_user_attr(ATTR_STEPS, int(result.global_step))
    if result.status == "interrupted":
        raise KeyboardInterrupt
    if callback.pruned:
        raise optuna.TrialPruned(f"pruned at step {result.global_step}")
    value = _metric_value(result, metric)
    if value is None:
        raise SweepError(
            f"The fine-tune run {result.run_id} reported no {metric!r}.",
            hint="Give evaluation data (or a metric the run logs, e.g. --metric train_loss).",
        )
    return value


def call_objective(objective: Callable[..., Any], params: dict[str, Any], trial: Any) -> float:
    """``objective(params, trial)``, which must return a number."""
    value = objective(params, trial)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SweepError(
            f"The objective returned {value!r}; it must return a number.",
            hint="Return the metric to optimise, e.g. the evaluation loss.",
        )
    return float(value)


def _metric_value(result: Any, metric: str) -> float | None:
    direct = getattr(result, metric, None)
    if isinstance(direct, (int, float)) and not isinstance(direct, bool):
        return float(direct)
    history = getattr(result, "history", None)
    for name in (metric, f"eval_{metric}"):
        if history is not None and hasattr(history, "columns") and name in history.columns:
            values = history[name].dropna()
            if len(values):
                return float(values.iloc[-1])
    return None
