"""Generation over a large list of prompts on an executor: the prompts in shards, each shard
generated on a worker that loads the model once and keeps it (``models.load`` caches it in the
worker's process), the outputs stitched back in the input order.

The job is one ``generate`` run; each shard is its child run, tagged with the worker's host.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmops_magics.executor._executor import Executor, open_executor
from llmops_magics.executor._shards import map_shards

if TYPE_CHECKING:
    from llmops_magics.models import GenerationParams, GenerationResult

__all__ = ["GENERATE_REQUIRES", "generate_shard", "generate_shards"]

#: what a worker needs to generate with a local model
GENERATE_REQUIRES = ("llmops-magics", "torch", "transformers")
#: the tag of the engine that ran (the one ``models.generate`` writes)
ENGINE_TAG = "llmops.engine"


def generate_shard(job: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """On a worker: ``(text, prompt_tokens, completion_tokens, latency_s, finish_reason,
    start_ns, engine)`` for each prompt of the shard, in its order."""
    from llmops_magics import executor as executor_mod
    from llmops_magics import models

    params = models.GenerationParams.from_json(job["params"])
    start = time.time_ns()
    out = models.generate(
        job["rows"], model=job["model"], params=params, track=False, progress=False
    )
    executor_mod.log(f"{len(out)} prompts generated")
    return [
        (
            out.texts[i],
            out.prompt_tokens[i],
            out.completion_tokens[i],
            out.latency_s[i],
            out.finish_reasons[i],
            start,
            out.engine,
        )
        for i in range(len(out))
    ]


def generate_shards(
    prompts: str | Sequence[str],
    model: str = "smollm2",
    params: GenerationParams | None = None,
    *,
    executor: str | Executor = "local",
    track: bool = True,
    traces: bool = True,
    tags: Mapping[str, str] | None = None,
    shards: int | None = None,
    say: Any = None,
) -> GenerationResult:
    """:func:`llmops_magics.models.generate` on an executor: the same texts, in the order of
    ``prompts``, generated in shards by the executor's workers.

    >>> generate_shards(["Hi"], "smollm2", executor="dask-local:2")  # doctest: +SKIP

    Parameters
    ----------
    prompts, model, params
        As for :func:`~llmops_magics.models.generate`.
    executor
        ``local`` (this process: exactly ``models.generate``), ``dask-local[:N]``, a scheduler
        address, or an executor already open (:func:`open_executor`). Every worker is checked
        for the packages and the model before any shard is submitted.
    track
        The job is a ``generate`` run; each shard its child run, tagged with the worker.
    traces
        With ``track``: one trace per prompt in the job's run (a caller that traces the outputs
        it keeps itself passes False).
    tags
        More tags of the job's run (e.g. the prompt it generates for).
    shards
        How many shards (default: two per worker).
    say
        Where the executor's lines go (the dashboard link, the shards' lines).
    """
    from llmops_magics import models

    items = models.check_prompts(prompts)
    params = params or models.GenerationParams()
    if isinstance(executor, Executor):
        return _generate(items, model, params, executor, track, traces, tags, shards)
    if not executor or str(executor) == "local":
        return models.generate(items, model=model, params=params, track=track)
    remote = models.resolve(model).is_remote  # nothing to check on the workers
    with open_executor(
        executor, say=say, requires=GENERATE_REQUIRES, models=() if remote else [model]
    ) as ex:
        return _generate(items, model, params, ex, track, traces, tags, shards)


def _generate(
    items: list[str],
    model: str,
    params: GenerationParams,
    ex: Executor,
    track: bool,
    traces: bool,
    tags: Mapping[str, str] | None,
    shards: int | None,
) -> GenerationResult:
    from llmops_magics import models, tracking

    started = time.perf_counter()
    job = {"model": model, "params": params.to_json()}
    run_tags = {tracking.MODEL: model, "llmops.executor": ex.spec.text, **dict(tags or {})}
    if not track:
        rows = map_shards(ex, generate_shard, items, args=job, shards=shards)
        return _result(items, model, params, rows, time.perf_counter() - started)
    tracker = tracking.tracker()
    with tracker.start_run(
        "generate", name=f"generate {model} (sharded)", tags=run_tags, owned=True
    ) as run:
        run.log_params({"model": model, "n_prompts": len(items)} | params.params())
        rows = map_shards(
            ex,
            generate_shard,
            items,
            args=job,
            stage="generate-shard",
            parent_run=run.id,
            tags={tracking.MODEL: model},
            shards=shards,
        )
        result = _result(items, model, params, rows, time.perf_counter() - started)
        run.set_tags({ENGINE_TAG: result.engine})
        run.log_metrics(
            {
                "total_s": result.total_s,
                "tokens_per_s": result.tokens_per_s,
                "completion_tokens": float(sum(result.completion_tokens)),
                "mean_latency_s": sum(result.latency_s) / max(1, len(result)),
            }
        )
        if traces:
            spans = [(r[5], r[5] + max(int(r[3] * 1e9), 1)) for r in rows]
            attributes = {"model": model, "engine": result.engine} | result.params
            models.trace_generations(tracker, result, spans, run.id, attributes)
        run.log_dict({"rows": result.to_frame().to_dict(orient="records")}, "generations.json")
    if traces:
        tracker.traces.flush()
    result.run_id = run.id
    result.tracking_uri = tracker.uri
    return result


def _result(
    items: list[str],
    model: str,
    params: GenerationParams,
    rows: list[tuple[Any, ...]],
    total_s: float,
) -> GenerationResult:
    from llmops_magics import models

    return models.GenerationResult(
        model=model,
        prompts=items,
        texts=[r[0] for r in rows],
        prompt_tokens=[r[1] for r in rows],
        completion_tokens=[r[2] for r in rows],
        latency_s=[r[3] for r in rows],
        finish_reasons=[r[4] for r in rows],
        params=params.to_dict(),
        total_s=total_s,
        engine=rows[0][6] if rows else "",
    )
