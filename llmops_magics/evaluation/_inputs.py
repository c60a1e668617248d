"""The data of an evaluation: which columns hold prompts, references and predictions, which
metrics apply to them, and checks that give one clear message per problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmops_magics.evaluation import metrics as _metrics
from llmops_magics.evaluation._config import EvalConfig
from llmops_magics.evaluation._errors import InputMismatchError

__all__ = [
    "PROMPT_COLUMNS",
    "REFERENCE_COLUMNS",
    "Inputs",
    "is_run_id",
    "prompt_version",
    "read_inputs",
]

#: where prompts and references are looked for when their columns are not named
PROMPT_COLUMNS = ("prompt", "question", "input", "text")
REFERENCE_COLUMNS = ("reference", "answer", "target", "label", "output")


@dataclass
class Inputs:
    """Prompts, references and (when given) predictions, checked, with the metrics to run."""

    reference_col: str
    references: list[Any]
    names: list[str]
    prompts: list[str] | None = None
    predictions: list[Any] | None = None

    @property
    def labels(self) -> bool:
        """Whether every metric compares labels (not texts)."""
        return all(_metrics.get(n).kind == "label" for n in self.names)


def is_run_id(text: str) -> bool:
    """Whether ``text`` looks like an MLflow run id (32 hex digits) rather than a model spec."""
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def read_inputs(frame: Any, config: EvalConfig) -> Inputs:
    """Pick the columns, choose the metrics and check the values of ``frame``."""
    from llmops_magics.data import pick_column
    from llmops_magics.evaluation._score import check_pairs, check_texts, is_missing

    ref_col = pick_column(frame, config.reference_col, REFERENCE_COLUMNS, "reference")
    raw = frame[ref_col].tolist()
    labels = not all(isinstance(v, str) for v in raw if not is_missing(v))
    names = config.metric_names(labels=labels)
    inputs = Inputs(ref_col, _check_references(raw, ref_col, names), names)
    baseline_model = config.baseline is not None and not is_run_id(config.baseline)
    if config.prediction_col is None or baseline_model:
        column = pick_column(frame, config.prompt_col, PROMPT_COLUMNS, "prompt")
        inputs.prompts = check_texts(frame[column].tolist(), "prompts")
    if config.prediction_col is not None:
        pred_col = pick_column(frame, config.prediction_col, (), "prediction")
        inputs.predictions, _ = check_pairs(
            frame[pred_col].tolist(), inputs.references, labels=inputs.labels
        )
    return inputs


def _check_references(raw: list[Any], column: str, names: list[str]) -> list[Any]:
    from llmops_magics.evaluation._score import check_texts, missing_rows, non_text_rows

    missing = missing_rows(raw)
    if missing:
        raise InputMismatchError(
            f"The reference column {column!r} has {len(missing)} missing value(s) (NaN) of "
            f"{len(raw)} rows, at rows {missing[:10]}.",
            column=column,
            rows=missing,
            hint=f"Drop them first: df.dropna(subset=[{column!r}]).",
        )
    text_metrics = [n for n in names if _metrics.get(n).kind != "label"]
    if not text_metrics:
        return raw
    not_text = non_text_rows(raw)
    if not_text:
        first = not_text[0]
        which = ", ".join(text_metrics)
        raise InputMismatchError(
            f"The reference column {column!r} holds non-text values (e.g. row {first}: "
            f"{raw[first]!r}), which {which} cannot score.",
            column=column,
            rows=not_text,
            hint="For label columns use --metrics macro_f1; else convert with .astype(str).",
        )
    return check_texts(raw, f"references in column {column!r}")


def prompt_version(frame: Any, config: EvalConfig) -> str | None:
    """The prompt version for lineage: the config's, else the data's ``attrs``."""
    if config.prompt_version:
        return config.prompt_version
    attrs = getattr(frame, "attrs", {}) or {}
    for key in ("llmops.prompt_version", "prompt_version"):
        if attrs.get(key) is not None:
            return str(attrs[key])
    return None
