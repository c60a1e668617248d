"""Chains: stored prompts run in order, each reading earlier ones' outputs, one trace per row."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from llmops_magics import progress as _progress
from llmops_magics.errors import LlmopsError
from llmops_magics.models import GenerationParams
from llmops_magics.prompts._config import ChainConfig, settings
from llmops_magics.prompts._generation import Session
from llmops_magics.prompts._results import ChainRun
from llmops_magics.prompts._rows import check_models, read_rows
from llmops_magics.prompts._tracking import log_chain

__all__ = ["chain"]


def chain(
    steps: Sequence[str],
    data: Any = None,
    *,
    config: ChainConfig | None = None,
    params: GenerationParams | None = None,
    namespace: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    progress: _progress.ProgressOption = None,
    **options: Any,
) -> ChainRun:
    """Run stored prompts in order; each may read earlier ones as ``{{ outputs.NAME }}``.

    Each step is batched over the rows; a row's steps are recorded as spans of one MLflow trace
    (one trace per row and model). Prompts that a step reads but the chain does not name run
    first, as extra steps.

    Parameters
    ----------
    steps
        Prompt names, in order (the latest version of each is used).
    data, params, progress
        As for :func:`~llmops_magics.prompts.run`.
    namespace, variables
        Stored prompts read data columns and ``variables`` only (copied in as data), never the
        notebook's ``namespace``: a stored version may be someone else's.
    config
        The chain's options (:class:`ChainConfig`: ``models``, ``limit``, ``track``).
    **options
        Single fields of ``config`` or ``params``, overriding them.
    """
    started = time.perf_counter()
    names = list(steps)
    if not names:
        raise LlmopsError("A chain needs at least one prompt.", hint="%llmops chain A B --data df")
    cfg, gen = settings(ChainConfig, config, params, options)
    specs = check_models(cfg.models)
    rows, columns, digest = read_rows(data, cfg.limit)
    session = Session(rows, columns, namespace or {}, gen, variables=variables, progress=progress)
    for name in names:
        session.prompt(name)[1].check()  # every step exists and compiles before any generation
    for spec in specs:
        for name in names:
            session.step(name, spec)
    result = ChainRun(
        steps=names,
        models=specs,
        records=_records(session, specs),
        n_examples=len(rows),
        generated=session.generated,
    )
    if cfg.track:
        log_chain(result, session, digest)
    result.total_s = time.perf_counter() - started
    return result


def _records(session: Session, specs: list[str]) -> list[dict[str, Any]]:
    """One record per (model, step, example), in the order the steps ran."""
    records: list[dict[str, Any]] = []
    for spec in specs:
        for s in session.steps.get(spec, []):
            for i, (prompt, cell) in enumerate(zip(s.prompts, s.cells, strict=True)):
                g = cell.gen
                records.append(
                    {
                        "example": i,
                        "model": spec,
                        "step": s.name,
                        "version": s.version,
                        "prompt": prompt,
                        "output": g.output,
                        "latency_s": round(g.latency_s, 4),
                        "prompt_tokens": g.prompt_tokens,
                        "tokens": g.completion_tokens,
                        "cached": cell.cached,
                        "trace_id": None,
                    }
                )
    return records
