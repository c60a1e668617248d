"""Evaluation of a large frame on an executor: the rows in shards, each shard generated (or
taken from the predictions) and scored on a worker that loads the model once and keeps it
(``models.load`` caches it in the worker's process); statistics stitched in the input order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmops_magics import executor as executor_mod

if TYPE_CHECKING:
    from llmops_magics.evaluation._systems import Task

__all__ = ["score_rows", "score_shard"]


def score_shard(job: Mapping[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """On a worker: ``(prediction, {metric: statistics})`` for each row of the shard."""
    from llmops_magics import models
    from llmops_magics.evaluation._systems import Task

    prompts = [r[0] for r in job["rows"]]
    references = [r[2] for r in job["rows"]]
    params = models.GenerationParams.from_json(job["params"])
    if job["generate"]:
        texts = models.generate(
            prompts, model=job["model"], params=params, track=False, progress=False
        ).texts
    else:
        texts = [r[1] for r in job["rows"]]
    task = Task(
        list(job["names"]), references, None, params, precision=job["precision"], track=False
    )
    task.progress = False
    stats = task.stats(texts, references, model=job["model"])
    executor_mod.log(f"{len(texts)} rows scored")
    return [(texts[i], {n: stats[n][i] for n in task.names}) for i in range(len(texts))]


def score_rows(
    task: Task,
    model: str | None,
    prompts: Sequence[str] | None,
    predictions: Sequence[Any] | None,
    references: Sequence[Any],
) -> tuple[list[Any], dict[str, Any], str | None]:
    """Generate with ``model`` (or take ``predictions``) and score, in shards on
    ``task.executor``: the predictions, the statistics of each metric in the input order, and
    the generation's MLflow run (each shard a child run of it, tagged with its worker)."""
    import numpy as np

    rows = [
        (
            prompts[i] if prompts is not None else None,
            predictions[i] if predictions is not None else None,
            references[i],
        )
        for i in range(len(references))
    ]
    job = {
        "model": model,
        "generate": predictions is None,
        "params": task.params.to_json(),
        "names": list(task.names),
        "precision": task.precision,
    }
    parent = _generate_run(model, len(rows)) if task.track and predictions is None else None
    try:
        out = executor_mod.map_shards(
            task.executor,
            score_shard,
            rows,
            args=job,
            stage="generate-shard",
            parent_run=parent.id if parent else None,
            tags={"llmops.model": model or ""},
        )
    except BaseException:
        if parent is not None:
            parent.end("FAILED")
        raise
    if parent is not None:
        parent.log_metrics({"n_prompts": len(rows)})
        parent.end()
    stats = {n: np.asarray([row[1][n] for row in out]) for n in task.names}
    return [row[0] for row in out], stats, parent.id if parent else None


def _generate_run(model: str | None, n: int) -> Any:
    from llmops_magics import tracking

    return tracking.tracker().start_run(
        "generate",
        name=f"generate {model} (sharded)",
        tags={tracking.MODEL: model or ""},
        params={"n_prompts": n},
    )
