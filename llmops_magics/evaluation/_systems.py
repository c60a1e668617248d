"""Generation and scoring: each model (or column of predictions) becomes a :class:`System`
with its per-example statistics for every metric."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress
from llmops_magics.evaluation import metrics as _metrics

if TYPE_CHECKING:
    import numpy as np

    from llmops_magics.models import GenerationParams

__all__ = ["System", "Task"]


@dataclass
class System:
    """One model (or prediction column) being scored: its predictions and statistics."""

    name: str
    role: str  # "model" or "baseline"
    predictions: list[Any]
    stats: dict[str, np.ndarray]
    trace_ids: list[str] = field(default_factory=list)
    generate_run_id: str | None = None
    run_id: str | None = None
    #: the engine that generated (``engine`` and ``compute_type``: ``auto`` resolved); empty
    #: when nothing was generated here (a prediction column, an endpoint's model)
    engine: dict[str, str] = field(default_factory=dict)


@dataclass
class Task:
    """What every system is scored on, and how its predictions are generated."""

    names: list[str]
    references: list[Any]
    prompts: list[str] | None
    params: GenerationParams
    precision: str = "auto"
    track: bool = True
    progress: _progress.ProgressOption = None
    #: an open :class:`~llmops_magics.executor.Executor` (Dask): generation and scoring then
    #: run in shards on its workers
    executor: Any = None

    def stats(
        self,
        predictions: Sequence[Any],
        references: Sequence[Any] | None = None,
        *,
        model: str | None = None,
    ) -> dict[str, np.ndarray]:
        """Per-example statistics of each metric (model metrics score ``model``)."""
        from llmops_magics.evaluation._score import compute_stats

        refs = self.references if references is None else references
        context = {"progress": self.progress, "precision": self.precision}
        text_names = [n for n in self.names if _metrics.get(n).kind != "model"]
        out = compute_stats(text_names, predictions, refs) if text_names else {}
        for n in self.names:
            if _metrics.get(n).kind == "model":
                out[n] = _metrics.get(n).stats(predictions, refs, model=model, **context)
        return {n: out[n] for n in self.names}

    def generate(
        self,
        spec: str,
        role: str = "model",
        prompts: Sequence[str] | None = None,
        references: Sequence[Any] | None = None,
    ) -> System:
        """Generate with ``spec`` (batched, traced) and score what it says.

        ``prompts`` and ``references`` default to the task's (the bias probe gives swapped ones).
        """
        from llmops_magics import models

        items = self.prompts if prompts is None else prompts
        assert items is not None, "generation needs prompts"
        if self.executor is not None:
            from llmops_magics.evaluation._shards import score_rows

            refs = self.references if references is None else references
            texts, stats, run_id = score_rows(self, spec, list(items), None, list(refs))
            engine = models.engine_params(self.params.engine, spec)
            return System(spec, role, texts, stats, [], run_id, engine=engine)
        out = models.generate(
            list(items), model=spec, params=self.params, track=self.track, progress=self.progress
        )
        stats = self.stats(out.texts, references, model=spec)
        engine = models.engine_params(self.params.engine, spec)
        return System(spec, role, out.texts, stats, list(out.trace_ids), out.run_id, engine=engine)

    def column(self, name: str, predictions: list[Any], model: str | None) -> System:
        """Score predictions given in the data (``model`` only scores the model metrics)."""
        if self.executor is not None and model is not None:
            from llmops_magics.evaluation._shards import score_rows

            _, stats, _ = score_rows(self, model, None, predictions, list(self.references))
            return System(name, "model", predictions, stats)
        return System(name, "model", predictions, self.stats(predictions, model=model))
