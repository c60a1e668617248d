"""A store of tagged runs, traces and ratings whose lineage graph is known, written through
:mod:`llmops_magics.tracking` with the tags the stages write (no training: milliseconds a run).

Used by the lineage tests and its benchmark (``chains=900`` makes about 10,000 nodes).
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["MISSING_RUN", "lineage_chain", "lineage_store"]

#: a run id that no store holds: the chain's eval names it as its baseline (a dangling link)
MISSING_RUN = "f" * 32


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lineage_chain(
    t: Any,
    i: int = 0,
    *,
    salt: str = "",
    pipeline: bool = True,
    raw: str | None = None,
    baseline: str = MISSING_RUN,
) -> dict[str, str]:
    """One chain in the store of tracker ``t``: raw data → eda, prep (recipe, prepared set,
    splits) → sweep → trial → fine-tune (adapter) → generate → eval (a baseline that is gone),
    all inside a pipeline run. Returns the ids by name (``raw``, ``train``, ``eval_data`` are
    data hashes; ``salt`` makes them differ from other stores' chains). ``raw`` shares one raw
    data hash between chains; ``baseline`` is the run the eval names as its baseline."""
    from llmops_magics import tracking as tr

    ids = {"raw": raw or _hash(f"raw{i}{salt}"), "prepared": _hash(f"prepared{i}{salt}")}
    ids |= {s: _hash(f"{s}{i}{salt}") for s in ("train", "validation", "test")}
    ids["eval_data"] = ids["test"]
    pipe = t.start_run("pipeline", name=f"pipeline demo {i}") if pipeline else None
    in_pipe = (
        (lambda stage: {tr.PIPELINE_RUN: pipe.id, tr.PIPELINE_STAGE: stage})
        if pipe
        else (lambda stage: {})
    )
    with t.start_run("eda", tags={tr.DATA_HASH: ids["raw"]} | in_pipe("eda")) as run:
        ids["eda"] = run.id
    splits = {f"{tr.SPLIT_HASH}.{s}": ids[s] for s in ("train", "validation", "test")}
    prep_tags = {tr.DATA_HASH: ids["prepared"], tr.INPUT_HASH: ids["raw"]} | splits
    with t.start_run("prep", tags=prep_tags | in_pipe("prep"), params={"seed": i}) as run:
        ids["prep"] = run.id
    sweep = t.start_run("sweep", tags={tr.STUDY: f"s{i}"})
    trial = t.start_run("trial", tags={tr.STUDY: f"s{i}"}, parent=sweep.id)
    ft_tags = {
        tr.DATA_CONTENT_HASH: ids["train"],
        tr.EVAL_DATA_CONTENT_HASH: ids["validation"],
        tr.DATA_HASH: hashlib.sha256(b"rows").hexdigest(),
        tr.BASE_MODEL: "smollm2",
        tr.PROMPT_VERSION: "qa/1",
        tr.METHOD: "sft",
        tr.CHECKPOINT_DIR: "/nowhere",
    }
    with t.start_run("finetune", tags=ft_tags | in_pipe("finetune"), parent=trial.id) as run:
        ids["finetune"] = run.id
    trial.end()
    sweep.end()
    ids["sweep"], ids["trial"] = sweep.id, trial.id
    spec = f"run:{ids['finetune']}"
    with t.start_run("generate", tags={tr.MODEL: spec}) as run:
        ids["generate"] = run.id
    eval_tags = {
        tr.MODEL: spec,
        tr.DATA_HASH: ids["eval_data"],
        tr.PREFIX + "generate_run_id": ids["generate"],
        tr.PREFIX + "baseline": baseline,
    }
    with t.start_run("eval", tags=eval_tags | in_pipe("evaluate")) as run:
        ids["eval"] = run.id
    if pipe is not None:
        pipe.log_params({"finetune.train_hash": ids["train"], "finetune.max_rows": "8"})
        pipe.set_tags({"llmops.outputs.prep.train_hash": ids["train"]})
        pipe.end()
        ids["pipeline"] = pipe.id
    return ids


def lineage_store(*, chains: int = 1, rating: bool = True) -> dict[str, str]:
    """Chains in the active workspace's store and, on the first, a trace of the generate run
    rated 5 stars. Returns the first chain's ids (plus ``trace`` and ``assessment``)."""
    import uuid

    from llmops_magics import tracking as tr

    t = tr.tracker()
    salt = uuid.uuid4().hex
    first = lineage_chain(t, 0, salt=salt)
    for i in range(1, chains):
        lineage_chain(t, i, salt=salt)
    if rating:
        spec = f"run:{first['finetune']}"
        span = t.traces.span(
            "generate", inputs={"prompt": "hi"}, tags={tr.MODEL: spec}, run_id=first["generate"]
        )
        span.end(outputs={"text": "hello"})
        t.traces.flush()
        first["trace"] = span.trace_id
        made = t.traces.log_feedback(span.trace_id, name="llmops.stars", value=5, rater="ann")
        first["assessment"] = made.assessment_id
    return first
