"""``evaluate``: generate (or take) predictions, score them with intervals, compare with a
baseline, probe counterfactual bias, and log everything to MLflow with lineage.

Each step has its module: the inputs (``_inputs``), generation and scoring (``_systems``),
intervals and deltas (``_intervals``), the bias probe (``_bias``), the runs (``_tracking``) and the
result (``_result``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmops_magics import executor as executor_mod
from llmops_magics import progress as _progress
from llmops_magics.evaluation._config import EvalConfig
from llmops_magics.evaluation._result import EvalResult

if TYPE_CHECKING:
    from llmops_magics.evaluation._systems import System, Task
    from llmops_magics.models import GenerationParams

__all__ = ["EvalResult", "evaluate"]


def evaluate(
    data: Any,
    model: str | Sequence[str] | None = None,
    *,
    config: EvalConfig | None = None,
    params: GenerationParams | None = None,
    prompt_col: str | None = None,
    reference_col: str | None = None,
    prediction_col: str | None = None,
    metrics: str | Sequence[str] | None = None,
    baseline: str | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
    counterfactual: Any = None,
    max_new_tokens: int | None = None,
    batch_size: int | None = None,
    system: str | None = None,
    chat: bool | None = None,
    prompt_version: str | None = None,
    track: bool | None = None,
    progress: _progress.ProgressOption = None,
    precision: str | None = None,
    executor: str | None = None,
) -> EvalResult:
    """Evaluate one or more models (or a column of predictions) on a DataFrame.

    Parameters
    ----------
    data
        A DataFrame with prompts and references (and optionally predictions).
    model
        Model spec(s): predictions are generated (batched, traced) when no ``prediction_col``
        is given; perplexity is computed from the model on the references.
    config
        An :class:`EvalConfig` with every setting below; the keywords given change single
        fields of it (None: the config's value, else the default).
    params
        Decoding settings (:class:`~llmops_magics.models.GenerationParams`);
        ``max_new_tokens``, ``batch_size``, ``system`` and ``chat`` change single fields of
        it. Its seed is the evaluation's ``seed``.
    prompt_col, reference_col, prediction_col
        Column names; prompt and reference columns are guessed (``prompt``/``question``/...,
        ``reference``/``answer``/...) when not given.
    metrics
        ``"bleu,rouge"`` or a list; registered names or groups (``rouge`` = ROUGE-1/2/L/Lsum).
        Default: BLEU, ROUGE, chrF, F1, exact match, plus perplexity when a model is given;
        macro-F1 when the references are labels rather than text.
    baseline
        A model spec (generated and scored like the models) or the run id of a past eval of
        the same data: every metric gets a delta, its interval and a paired bootstrap p-value.
    bootstrap
        Bootstrap replicates for the 95% intervals (default 1000; 0 turns intervals off).
    seed
        Seed of the bootstrap and of sampling, if any (default 0).
    counterfactual
        Term pairs (``"he:she,his:her"``, a file, a dict): the probe swaps them in prompts and
        references and reports each metric's gap (swapped - original) with an interval.
    max_new_tokens, batch_size, system, chat
        Generation settings (see :func:`llmops_magics.models.generate`).
    prompt_version
        The prompt version the prompts came from, for lineage (default: ``data.attrs``).
    track
        Log one MLflow run per model (and the generations with their traces); default on.
    progress
        Progress of generation and perplexity: None = when there is more than one batch;
        False = never.
    precision
        Perplexity's precision: ``auto`` (default: bf16 where the hardware has it, for models
        of hidden size 256 or more), ``fp32`` or ``bf16``; see :func:`token_losses`. Each run
        logs the precision used as ``perplexity_precision``.
    executor
        Where generation and the model metrics run: ``local`` (default, this process),
        ``dask-local:N`` or a Dask scheduler address: the rows in shards, each worker loading
        the model once, the results in the input order (see ``docs/scaleout.md``).

    Raises
    ------
    EvalConfigError
        A setting out of range or ruled out by another (``.field`` names it).
    """
    options = {
        "models": model,
        "prompt_col": prompt_col,
        "reference_col": reference_col,
        "prediction_col": prediction_col,
        "metrics": metrics,
        "baseline": baseline,
        "bootstrap": bootstrap,
        "seed": seed,
        "counterfactual": counterfactual,
        "precision": precision,
        "prompt_version": prompt_version,
        "track": track,
        "executor": executor,
    }
    generation = {
        "max_new_tokens": max_new_tokens,
        "batch_size": batch_size,
        "system": system,
        "chat": chat,
    }
    cfg = _given(config or EvalConfig, options)
    return _run(data, cfg, params=_given(params, generation, seed=cfg.seed), progress=progress)


def _given(base: Any, values: dict[str, Any], **always: Any) -> Any:
    """``base`` (a config, or a config class for its defaults) with the values given."""
    from llmops_magics.models import GenerationParams

    changes = {k: v for k, v in values.items() if v is not None} | always
    if base is None:
        base = GenerationParams
    return base(**changes) if isinstance(base, type) else base.replace(**changes)


def _run(
    data: Any,
    config: EvalConfig,
    *,
    params: GenerationParams | None = None,
    progress: _progress.ProgressOption = None,
) -> EvalResult:
    """Evaluate as ``config`` says: the steps of :func:`evaluate`, once the settings are
    checked."""
    from llmops_magics import data as data_mod
    from llmops_magics import models
    from llmops_magics.evaluation._inputs import is_run_id, read_inputs

    started = time.perf_counter()
    frame = data_mod.require_frame(data, name="data")
    inputs = read_inputs(frame, config)
    baseline = config.baseline
    specs = [*config.models, *([baseline] if baseline and not is_run_id(baseline) else [])]
    for spec in specs:
        models.resolve(spec)  # fails now, before any work, for a spec with no weights
    # the workers are checked for our packages and the models before any work
    with executor_mod.open_executor(
        config.executor, requires=("llmops-magics", "torch", "transformers"), models=specs
    ) as ex:
        return _evaluate(frame, inputs, config, params, progress, ex, started)


def _evaluate(
    frame: Any,
    inputs: Any,
    config: EvalConfig,
    params: GenerationParams | None,
    progress: _progress.ProgressOption,
    ex: Any,
    started: float,
) -> EvalResult:
    """The steps of :func:`evaluate` once the inputs are read and the executor is open."""
    from llmops_magics import data as data_mod
    from llmops_magics import models
    from llmops_magics.evaluation._bootstrap import Resampler
    from llmops_magics.evaluation._inputs import prompt_version
    from llmops_magics.evaluation._intervals import example_rows, summarise
    from llmops_magics.evaluation._systems import Task

    baseline = config.baseline
    task = Task(
        inputs.names,
        inputs.references,
        inputs.prompts,
        params or models.GenerationParams(seed=config.seed),
        precision=config.precision,
        track=config.track,
        progress=progress,
        executor=ex if ex.spec.distributed else None,
    )
    systems = _systems(task, config, inputs.predictions)
    base = _baseline(task, config)
    n = len(task.references)
    resampler = Resampler(n, config.bootstrap, config.seed) if config.bootstrap else None
    result = EvalResult(
        models=[s.name for s in systems],
        metrics=task.names,
        summary=summarise(systems, base, task.names, resampler),
        rows=[],
        bias=_bias(task, config, systems, resampler),
        baseline=baseline,
        data_hash=data_mod.content_hash(frame),
        prompt_version=prompt_version(frame, config),
        bootstrap=config.bootstrap,
        seed=config.seed,
        n_examples=len(task.references),
        stats={s.name: s.stats for s in systems},
    )
    every = systems + ([base] if base else [])
    result.rows = example_rows(every, task.prompts, task.references, task.names)
    result.total_s = time.perf_counter() - started
    if config.track:
        from llmops_magics.evaluation._tracking import log_runs

        log_runs(result, systems, base, frame, _run_params(config, inputs.reference_col, task))
    result.total_s = time.perf_counter() - started
    return result


def _systems(task: Task, config: EvalConfig, predictions: list[Any] | None) -> list[System]:
    """The scored systems: the prediction column, or each model's generations."""
    if predictions is None:
        return [task.generate(spec) for spec in config.models]
    model = config.models[0] if config.models else None
    return [task.column(model or f"column {config.prediction_col}", predictions, model)]


def _baseline(task: Task, config: EvalConfig) -> System | None:
    """The baseline: a past eval run read back, or a model generated and scored here."""
    from llmops_magics.evaluation._inputs import is_run_id

    if config.baseline is None:
        return None
    if is_run_id(config.baseline):
        from llmops_magics.evaluation._tracking import load_baseline

        return load_baseline(config.baseline, task.references, task.names)
    return task.generate(config.baseline, "baseline")


def _bias(task: Task, config: EvalConfig, systems: list[System], resampler: Any) -> list[Any]:
    swapper = config.swapper()
    if swapper is None:
        return []
    from llmops_magics.evaluation._bias import probe

    return [row for s in systems for row in probe(s, swapper, task, resampler)]


def _run_params(config: EvalConfig, reference_col: str, task: Task) -> dict[str, Any]:
    """What each eval run logs as parameters besides its scores: columns and decoding."""
    return {
        "prompt_col": config.prompt_col,
        "reference_col": reference_col,
        "prediction_col": config.prediction_col,
        "precision": config.precision,
        **task.params.to_dict(),
    }
