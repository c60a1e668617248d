"""Eval runs in the workspace's store: one run per evaluated system, with its lineage tags,
scores and per-example statistics; and a past run read back as a baseline."""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking

if TYPE_CHECKING:
    from llmops_magics.evaluation._result import EvalResult
    from llmops_magics.evaluation._systems import System

__all__ = ["BASELINE", "EVAL_ROLE", "GENERATE_RUN", "STATS", "load_baseline", "log_runs"]

STAGE = "eval"
#: model or baseline
EVAL_ROLE = tracking.PREFIX + "eval_role"
#: the generation run (with one trace per prompt) whose outputs an eval run scored
GENERATE_RUN = tracking.PREFIX + "generate_run_id"
#: the baseline an eval run was compared with (a model spec or an eval run id)
BASELINE = tracking.PREFIX + "baseline"
#: per-example statistics, predictions and references: what a later baseline resamples
STATS = "eval/stats.json"
EXAMPLES = "eval/examples.json"
SUMMARY = "eval/summary.json"

_BASELINE_HINT = "--baseline takes a model spec or the run id of a past %llmops eval."


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def load_baseline(run_id: str, references: list[Any], names: list[str]) -> System:
    """The system that past eval run ``run_id`` scored, for a paired comparison; it must have
    been made on the same references, in the same order."""
    import numpy as np

    from llmops_magics.evaluation._errors import EvaluationError
    from llmops_magics.evaluation._systems import System

    t = tracking.tracker()
    run = t.get_run(run_id, stage=STAGE, error=EvaluationError, hint=_BASELINE_HINT)
    tags = run.data.tags
    try:
        payload = t.load_json(run_id, STATS)
    except Exception as exc:
        raise EvaluationError(f"Run {run_id} has no readable {STATS} artifact: {exc}") from exc
    if payload["references"] != [_text(r) for r in references]:
        raise EvaluationError(
            f"The baseline run {run_id} was evaluated on other examples "
            f"({len(payload['references'])} rows, data {tags.get(tracking.DATA_HASH)}).",
            hint="A paired comparison needs the same references in the same order.",
        )
    stats = {
        n: np.asarray(payload["stats"][n], dtype=float) for n in names if n in payload["stats"]
    }
    return System(
        f"run {run_id[:8]} ({tags.get(tracking.MODEL, '?')})",
        "baseline",
        payload.get("predictions") or [],
        stats,
        payload.get("trace_ids") or [],
        run_id=run_id,
    )


def log_runs(
    result: EvalResult,
    systems: list[System],
    base: System | None,
    frame: Any,
    params: dict[str, Any],
) -> None:
    """Log one eval run per system (and per baseline model), filling ``result.run_ids``."""
    from llmops_magics.data import keep

    t = tracking.tracker()
    keep(frame)  # the data by its hash (the runs' DATA_HASH), so a run can be redone
    loggable = systems + ([base] if base is not None and base.run_id is None else [])
    for s in loggable:
        with t.start_run(
            STAGE, name=f"eval {s.name}", tags=_tags(result, s), params=_params(result, s, params)
        ) as run:
            run.log_metrics(_metrics(result, s.name))
            mine = [r for r in result.rows if r["model"] == s.name]
            run.log_dict(
                {
                    "references": [_text(r["reference"]) for r in mine],
                    "predictions": [_text(p) for p in s.predictions],
                    "trace_ids": s.trace_ids,
                    "stats": {n: s.stats[n].tolist() for n in result.metrics if n in s.stats},
                },
                STATS,
            )
            run.log_dict({"rows": mine}, EXAMPLES)
            run.log_dict(
                {
                    "summary": [r for r in result.summary if r["model"] == s.name],
                    "bias": [b for b in result.bias if b["model"] == s.name],
                },
                SUMMARY,
            )
            # lineage by tag is kept either way; the input record is a convenience of the UI
            with contextlib.suppress(Exception):
                name = f"eval data {result.data_hash}"
                run.log_inputs({"eval": (frame, name, result.data_hash)})
        s.run_id = run.id
        result.run_ids[s.name] = run.id
    result.tracking_uri = t.uri


def _tags(result: EvalResult, s: System) -> dict[str, str]:
    tags = {tracking.MODEL: s.name, EVAL_ROLE: s.role, tracking.DATA_HASH: result.data_hash}
    if result.prompt_version:
        tags[tracking.PROMPT_VERSION] = result.prompt_version
    if s.generate_run_id:
        tags[GENERATE_RUN] = s.generate_run_id
    if result.baseline and s.role != "baseline":
        tags[BASELINE] = result.baseline
    return tags


def _params(result: EvalResult, s: System, params: dict[str, Any]) -> dict[str, Any]:
    out = {
        "model": s.name,
        "metrics": ",".join(result.metrics),
        "n_examples": result.n_examples,
        "bootstrap": result.bootstrap,
        "seed": result.seed,
        "baseline": result.baseline or "",
    } | params
    out |= s.engine  # the engine that generated and its compute type, not "auto"
    if "perplexity" in result.metrics and not s.name.startswith("column "):
        from llmops_magics.evaluation._perplexity import precision_for

        # the precision perplexity ran in for this system's model (auto resolves per machine)
        out["perplexity_precision"] = precision_for(s.name, params.get("precision") or "auto")
    return out


def _metrics(result: EvalResult, model: str) -> dict[str, float]:
    """Scores, interval bounds, deltas and p-values, and bias gaps of one system."""
    keys = (("score", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high"))
    values: dict[str, float] = {}
    for row in result.summary:
        if row["model"] != model:
            continue
        m = row["metric"]
        named = [(k, m + suffix) for k, suffix in keys] + [
            ("delta", f"delta_{m}"),
            ("p_value", f"p_{m}"),
        ]
        for key, name in named:
            if row.get(key) is not None and math.isfinite(row[key]):
                values[name] = float(row[key])
    for row in result.bias:
        if row["model"] == model and math.isfinite(row["gap"]):
            values[f"bias_gap_{row['metric']}"] = float(row["gap"])
    return values
