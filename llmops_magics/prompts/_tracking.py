"""What a prompt run and a chain record in MLflow, through :mod:`llmops_magics.tracking`: a run
with its lineage tags, parameters and metrics, one trace per new generation (one per row for a
chain), and links to the prompt versions used."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking

if TYPE_CHECKING:
    import pandas as pd

    from llmops_magics.prompts._generation import Session
    from llmops_magics.prompts._registry import PromptVersion
    from llmops_magics.prompts._results import ChainRun, PromptRun

__all__ = ["log_chain", "log_prompt_run"]

#: the versions a prompt run compared (only this stage reads it)
PROMPT_VERSIONS = "llmops.prompt_versions"
#: MLflow's trace export queue holds 1,000 tasks (two per trace) and drops traces past that:
#: drain it well before
_FLUSH_EVERY = 200


def log_prompt_run(result: PromptRun, versions: list[PromptVersion], session: Session) -> None:
    """Record ``result`` as a ``prompt`` run; fill in the trace and run ids of new outputs."""
    tracker = tracking.tracker()
    tags = {
        tracking.PROMPT: result.name,
        PROMPT_VERSIONS: ",".join(str(v) for v in result.versions),
        tracking.DATA_HASH: result.data_hash,
    }
    with tracker.start_run("prompt", name=f"prompt {result.name}", tags=tags) as run:
        traces = _trace_fresh(session, run.id, tracker.traces)
        for r in result.records:
            if r["_key"] in traces:
                r["trace_id"], r["generation_run_id"] = traces[r["_key"]], run.id
        frame = result.to_frame()
        run.log_params(
            {
                "prompt": result.name,
                "versions": ",".join(str(v) for v in result.versions),
                "models": ",".join(result.models),
                "n_examples": result.n_examples,
                "reference": result.reference or "",
            }
            | session.params.params()
            | {"engine": session.engines_param(result.models)}  # the engine that ran, not auto
        )
        run.log_metrics(_metrics(result, frame))
        run.log_text(frame.to_json(orient="records", lines=True), "prompt_run.jsonl")
        for pv in versions:
            try:
                tracker.prompts.link(run.id, pv.uri)
            except Exception:  # lineage is a bonus; the run itself is stored
                run.set_tag(f"{tracking.PROMPT}_uri.v{pv.version}", pv.uri)
    if traces:
        # Traces are exported asynchronously; flush once so feedback can be attached at once
        # (a flush costs up to a second, so a fully cached re-run skips it).
        tracker.traces.flush()
        _store_traces(session, traces, run.id)
    result.run_id = run.id


def _metrics(result: PromptRun, frame: pd.DataFrame) -> dict[str, float]:
    """Counts and time, and per (model, version) the mean latency and scores."""
    metrics: dict[str, float] = {
        "generated": float(result.generated),
        "cached": float(result.cached),
        "total_s": result.total_s,
    }
    for (model, version), group in frame.groupby(["model", "version"]):
        tag = f"{_metric_name(str(model))}.v{version}"
        metrics[f"mean_latency_s.{tag}"] = float(group["latency_s"].mean())
        for metric in ("bleu", "rougeL"):
            value = group[metric].astype(float).mean()
            if not math.isnan(value):
                metrics[f"{metric}.{tag}"] = float(value)
    return metrics


def _trace_fresh(session: Session, run_id: str, traces: tracking.Traces) -> dict[str, str]:
    """One LLM span (its own trace) per generation this call made; returns key -> trace id."""
    found: dict[str, str] = {}
    for i, (key, f) in enumerate(session.fresh.items()):
        span = traces.span(
            f.step,
            span_type="LLM",
            inputs={"prompt": f.prompt},
            attributes={"model": f.spec, "prompt_uri": f"prompts:/{f.step}/{f.version}"}
            | session.params.to_dict()
            | {"engine": session.engine(f.spec)},
            tags={tracking.MODEL: f.spec, tracking.RUN_ID: run_id, tracking.PROMPT: f.step},
            start_time_ns=f.start_ns,
            run_id=run_id,
        )
        span.end(
            outputs={"text": f.gen.output},
            attributes={
                "prompt_tokens": f.gen.prompt_tokens,
                "completion_tokens": f.gen.completion_tokens,
            },
            end_time_ns=f.end_ns,
        )
        found[key] = span.trace_id
        _drain(traces, i)
    return found


def _drain(traces: tracking.Traces, index: int) -> None:
    if (index + 1) % _FLUSH_EVERY == 0:
        traces.flush()


def _store_traces(session: Session, traces: dict[str, str], run_id: str) -> None:
    """Record in the cache which trace and run hold each new generation."""
    items = []
    for key, f in session.fresh.items():
        gen = dataclasses.replace(f.gen, trace_id=traces.get(key), run_id=run_id)
        items.append((key, f.spec, f.prompt, gen))
    session.cache.put_many(items)


def _metric_name(model: str) -> str:
    short = model.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_\-. ]", "_", short)[:60]


# --- chains ----------------------------------------------------------------------------------


def log_chain(result: ChainRun, session: Session, digest: str) -> None:
    """Record ``result`` as a ``chain`` run with one trace per row and model."""
    tracker = tracking.tracker()
    traces = tracker.traces
    title = " → ".join(result.steps)
    tags = {tracking.DATA_HASH: digest}
    first: dict[str, str] = {}  # a new generation points at the first chain trace using it
    with tracker.start_run("chain", name=f"chain {title}", tags=tags) as run:
        run.log_params(
            {"steps": ",".join(result.steps), "models": ",".join(result.models)}
            | {"n_examples": result.n_examples}
            | session.params.params()
            | {"engine": session.engines_param(result.models)}  # the engine that ran, not auto
        )
        for spec in result.models:
            ids = [
                _trace_row(tracker, session, result, spec, i, run.id)
                for i in range(len(session.rows))
            ]
            result.trace_ids[spec] = ids
            for i, trace_id in enumerate(ids):
                for s in session.steps.get(spec, []):
                    first.setdefault(s.cells[i].key, trace_id)
        for r in result.records:
            r["trace_id"] = result.trace_ids[r["model"]][r["example"]]
        run.log_text(result.to_frame().to_json(orient="records", lines=True), "chain_run.jsonl")
    traces.flush()
    _store_traces(session, {k: v for k, v in first.items() if k in session.fresh}, run.id)
    result.run_id = run.id


def _trace_row(
    tracker: tracking.Tracker,
    session: Session,
    result: ChainRun,
    spec: str,
    i: int,
    run_id: str,
) -> str:
    """The trace of row ``i`` with model ``spec``: a CHAIN root span, one LLM span per step."""
    steps = session.steps.get(spec, [])
    traces = tracker.traces
    root = traces.span(
        f"chain {' → '.join(result.steps)}",
        span_type="CHAIN",
        inputs={k: _jsonable(v) for k, v in session.rows[i].items()},
        attributes={
            "model": spec,
            "engine": session.engine(spec),
            "steps": json.dumps(result.steps),
        },
        tags={tracking.MODEL: spec, tracking.RUN_ID: run_id, tracking.STAGE: "chain"},
        start_time_ns=steps[0].start_ns,
        run_id=run_id,
    )
    for s in steps:
        cell = s.cells[i]
        span = traces.span(
            s.name,
            parent=root,
            inputs={"prompt": s.prompts[i]},
            attributes={
                "prompt_uri": f"prompts:/{s.name}/{s.version}",
                "model": spec,
                "cached": cell.cached,
            },
            start_time_ns=s.start_ns,
        )
        span.end(
            outputs={"text": cell.gen.output},
            attributes={
                "prompt_tokens": cell.gen.prompt_tokens,
                "completion_tokens": cell.gen.completion_tokens,
            },
            end_time_ns=max(s.end_ns, s.start_ns + 1),
        )
    root.end(outputs={"output": steps[-1].cells[i].gen.output}, end_time_ns=steps[-1].end_ns + 1)
    _drain(traces, i)
    return str(root.trace_id)


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
