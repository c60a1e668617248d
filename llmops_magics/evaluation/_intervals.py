"""The summary rows: each system's corpus score with its bootstrap interval and, against a
baseline, the delta with its paired interval and p-value; and the per-example rows."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from llmops_magics.evaluation import metrics as _metrics

if TYPE_CHECKING:
    import numpy as np

    from llmops_magics.evaluation._bootstrap import Resampler
    from llmops_magics.evaluation._systems import System

__all__ = ["example_rows", "summarise"]

_NO_DELTA = {
    "baseline_score": math.nan,
    "delta": math.nan,
    "delta_low": math.nan,
    "delta_high": math.nan,
    "p_value": math.nan,
}


def summarise(
    systems: list[System], base: System | None, names: list[str], resampler: Resampler | None
) -> list[dict[str, Any]]:
    """One row per system and metric: score, 95% interval, n (and the deltas to ``base``).

    Every system and the baseline are resampled with the same draws (a paired bootstrap).
    """
    from llmops_magics.evaluation._bootstrap import interval, replicate_sums

    every = systems + ([base] if base else [])
    reps: dict[str, np.ndarray] = {}
    if resampler is not None:
        joined = {
            f"{i}|{n}": s.stats[n] for i, s in enumerate(every) for n in names if n in s.stats
        }
        reps = replicate_sums(joined, resampler)
    rows: list[dict[str, Any]] = []
    for i, s in enumerate(every):
        for n in names:
            if n not in s.stats:
                continue
            ci = interval(s.stats[n], _metrics.get(n).score, reps.get(f"{i}|{n}"))
            row: dict[str, Any] = {
                "model": s.name,
                "role": s.role,
                "metric": n,
                "score": ci.score,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "n": len(s.stats[n]),
            }
            if base is not None and s is not base:
                j = len(every) - 1
                row.update(_delta(s, base, n, reps.get(f"{i}|{n}"), reps.get(f"{j}|{n}")))
            rows.append(row)
    return rows


def _delta(
    ours: System,
    base: System,
    name: str,
    ours_reps: np.ndarray | None,
    base_reps: np.ndarray | None,
) -> dict[str, float]:
    """The baseline's score and the paired delta (NaN where the baseline lacks the metric)."""
    from llmops_magics.evaluation._bootstrap import paired

    if name not in base.stats:
        return dict(_NO_DELTA)
    metric = _metrics.get(name)
    base_score = metric.score(base.stats[name].sum(axis=0))
    if ours_reps is None or base_reps is None:
        ours_score = metric.score(ours.stats[name].sum(axis=0))
        return _NO_DELTA | {"baseline_score": base_score, "delta": ours_score - base_score}
    test = paired(ours.stats[name], base.stats[name], metric.score, ours_reps, base_reps)
    return {
        "baseline_score": base_score,
        "delta": test.delta,
        "delta_low": test.low,
        "delta_high": test.high,
        "p_value": test.p_value,
    }


def example_rows(
    systems: list[System], prompts: list[str] | None, references: list[Any], names: list[str]
) -> list[dict[str, Any]]:
    """One row per system and example: prompt, prediction, reference, each metric, trace id."""
    rows: list[dict[str, Any]] = []
    for s in systems:
        values = {n: _metrics.get(n).example(s.stats[n]) for n in names if n in s.stats}
        for i, ref in enumerate(references):
            row: dict[str, Any] = {
                "model": s.name,
                "row": i,
                "prompt": prompts[i] if prompts is not None else None,
                "prediction": s.predictions[i] if s.predictions else None,
                "reference": ref,
            }
            for n in names:
                row[n] = float(values[n][i]) if n in values else math.nan
            row["trace_id"] = s.trace_ids[i] if s.trace_ids else ""
            rows.append(row)
    return rows
