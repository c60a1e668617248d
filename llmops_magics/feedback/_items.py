"""Items to rate: normalising sources and giving every item a trace in the workspace store."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from llmops_magics import tracking
from llmops_magics.feedback._errors import FeedbackError, SourceError
from llmops_magics.feedback._names import ITEM_KEY, ITEM_KIND, RATED, SOURCE_TRACES
from llmops_magics.feedback._values import MODES
from llmops_magics.progress import ProgressOption, channel

__all__ = ["Item", "ensure_traces", "items_from_source"]

_PROMPT_COLUMNS = ("prompt", "question", "input", "text")
_OUTPUT_COLUMNS = ("output", "prediction", "response", "completion", "answer")
#: MLflow's export queue holds 1000 tasks (2 per trace) and drops what does not fit: item
#: traces are flushed every this many
_CHUNK = 200


@dataclass
class Item:
    """One thing to rate: a prompt and one output (two for pairwise), with its trace."""

    prompt: str
    outputs: list[str]
    trace_id: str = ""
    model: str = ""
    index: int = 0
    #: the traces the outputs came from, when the item's own trace was made for rating
    source_traces: list[str] = field(default_factory=list)
    #: the run that made the outputs (a trace made for the item is listed under it)
    run_id: str = ""
    #: the source columns the outputs were read from
    columns: list[str] = field(default_factory=list)

    @functools.cached_property
    def key(self) -> str:
        """A content hash: the same prompt and outputs are the same item in every process."""
        blob = json.dumps([self.prompt, self.outputs], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass
class _Source:
    frame: Any
    model: str = ""
    run_id: str = ""


def _source_of(source: Any) -> _Source:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return _Source(source)
    model = str(getattr(source, "model", "") or "")
    run_id = str(getattr(source, "run_id", "") or "")
    # An eval result's to_frame() is its summary; its examples() are the rated rows.
    for method in ("examples", "to_frame"):
        make = getattr(source, method, None)
        frame = make() if callable(make) else None
        if isinstance(frame, pd.DataFrame):
            return _Source(frame, model, run_id)
    raise SourceError(
        f"Cannot rate a {type(source).__name__}.",
        hint="Give a result of %llmops generate / prompt / eval, or a DataFrame with prompt and "
        "output columns.",
    )


def _pick(frame: Any, wanted: str | None, candidates: tuple[str, ...], what: str) -> str:
    from llmops_magics.data import pick_column

    return pick_column(frame, wanted, candidates, what, source="source", error=SourceError)


def _texts(frame: Any, column: str) -> list[str]:
    values = frame[column].tolist()
    bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
    if bad:
        raise SourceError(
            f"Column {column!r} has {len(bad)} missing or non-text value(s), at rows {bad[:10]}.",
            column=column,
            rows=bad,
            hint=f"Drop or convert them first, e.g. df.dropna(subset=[{column!r}]).",
        )
    return [str(v) for v in values]


def _output_columns(
    frame: Any, mode: str, outputs: list[str] | None, output_col: str | None
) -> list[str]:
    if mode != "pairwise":
        return [_pick(frame, output_col, _OUTPUT_COLUMNS, "output")]
    if outputs is None:
        outputs = [c for c in map(str, frame.columns) if c.startswith("output")]
        if len(outputs) != 2:
            raise SourceError(
                f"Pairwise rating needs two output columns; found {len(outputs)} whose name "
                f"starts with 'output' ({', '.join(outputs) or 'none'}).",
                hint="Name them with --outputs COL_A,COL_B.",
            )
    if len(outputs) != 2 or outputs[0] == outputs[1]:
        raise SourceError(
            f"Pairwise rating needs two different output columns, got {outputs}.",
            hint="Name them with --outputs COL_A,COL_B.",
        )
    return [_pick(frame, c, (), "output") for c in outputs]


def _strings(frame: Any, column: str) -> list[str]:
    """A column's text values, "" where a value is missing or not text (trace ids, models)."""
    return [v if isinstance(v, str) else "" for v in frame[column].tolist()]


def _lineage(
    src: _Source, ocols: list[str], model: str | None
) -> tuple[list[str], list[str], list[list[str]]]:
    """Per row: its own trace, the model and the traces of its two outputs (pairwise)."""
    frame, n = src.frame, len(src.frame)
    trace_ids = [""] * n
    if len(ocols) == 1 and "trace_id" in frame.columns:
        trace_ids = _strings(frame, "trace_id")
    models = [model or src.model] * n
    if not model and "model" in frame.columns:
        models = [m if isinstance(m, str) else src.model for m in frame["model"].tolist()]
    source_traces: list[list[str]] = [[] for _ in range(n)]
    for column in (f"trace_id_{c}" for c in ocols) if len(ocols) == 2 else ():
        if column in frame.columns:
            for i, trace in enumerate(_strings(frame, column)):
                if trace:
                    source_traces[i].append(trace)
    return trace_ids, models, source_traces


def items_from_source(
    source: Any,
    mode: str = "stars",
    *,
    outputs: list[str] | None = None,
    prompt_col: str | None = None,
    output_col: str | None = None,
    model: str | None = None,
) -> list[Item]:
    """Turn a result or DataFrame into items, checking every row before anything is stored.

    Parameters
    ----------
    source
        A ``GenerationResult``, ``PromptRun``, ``EvalResult`` (anything with ``to_frame()``) or a
        DataFrame with prompt and output columns.
    mode
        ``stars``, ``thumbs``, ``label`` (one output per item) or ``pairwise`` (two).
    outputs
        Pairwise: the two output columns; by default the two whose names start with ``output``.
    prompt_col, output_col
        Column names when they are not the usual ones.
    model
        The model version the outputs came from (default: the source's, or a ``model`` column).
    """
    if mode not in MODES:
        raise SourceError(f"Unknown rating mode {mode!r}.", hint=f"Use one of: {', '.join(MODES)}.")
    src = _source_of(source)
    frame = src.frame
    if frame.empty:
        raise SourceError("The source is empty (0 rows).", hint="Give at least one row to rate.")
    pcol = _pick(frame, prompt_col, _PROMPT_COLUMNS, "prompt")
    ocols = _output_columns(frame, mode, outputs, output_col)
    prompts = _texts(frame, pcol)
    columns = [_texts(frame, c) for c in ocols]
    if not any(col[i].strip() for col in columns for i in range(len(prompts))):
        raise SourceError(
            "The source has no outputs: every output is empty.",
            hint="Generate outputs first (%llmops generate ... -o result) and rate the result.",
        )
    trace_ids, models, source_traces = _lineage(src, ocols, model)
    return [
        Item(
            prompt=prompts[i],
            outputs=[col[i] for col in columns],
            trace_id=trace_ids[i],
            model=models[i],
            index=i,
            source_traces=source_traces[i],
            run_id=src.run_id,
            columns=ocols,
        )
        for i in range(len(prompts))
    ]


# --- traces for the items -------------------------------------------------------------------


def ensure_traces(
    items: list[Item], *, tracker: tracking.Tracker | None = None, progress: ProgressOption = None
) -> None:
    """Give each item without a trace one in the workspace store (reused across processes).

    ``progress``: None shows a bar past 20 new items (see :func:`llmops_magics.progress.channel`).
    """
    missing = [it for it in items if not it.trace_id]
    if not missing:
        return
    t = tracker or tracking.tracker()
    view = channel("feedback", False if progress is None and len(missing) <= 20 else progress)
    view.start(len(missing), "preparing items")
    # Under the lock: a second process rating the same frame must find these traces, not make
    # a second set (its ratings would then miss this rater's resume point).
    try:
        with t.workspace.lock("feedback-items"):
            _fill_traces(t, missing, view)
    finally:
        view.finish()
    lost = [it.index for it in missing if not it.trace_id]
    if lost:
        raise FeedbackError(
            f"Could not store traces for {len(lost)} item(s), e.g. rows {lost[:10]}.",
            hint="Check the workspace store (%llmops workspace) and open the panel again.",
        )


def _fill_traces(t: tracking.Tracker, missing: list[Item], view: Any) -> None:
    known = _item_traces(t)
    todo = missing
    for attempt in range(3):
        made: list[Item] = []
        pending: set[str] = set()  # rows with the same content share one trace
        for n, it in enumerate(todo, 1):
            if it.key in known:
                it.trace_id = known[it.key]
            else:
                made.append(it)
                if it.key not in pending:
                    pending.add(it.key)
                    _make_trace(t, it)
                    if len(pending) % _CHUNK == 0:
                        t.traces.flush()
            if attempt == 0:
                view.update({"step": n})
        if not made:
            return
        t.traces.flush()
        known = _item_traces(t)
        todo = [it for it in made if it.key not in known]
        for it in made:
            it.trace_id = known.get(it.key, "")
        if not todo:
            return


def _make_trace(t: tracking.Tracker, it: Item) -> None:
    outputs: dict[str, Any] = (
        {"text": it.outputs[0]}
        if len(it.outputs) == 1
        else {"output_a": it.outputs[0], "output_b": it.outputs[1]}
    )
    tags = {tracking.KIND: ITEM_KIND, ITEM_KEY: it.key, RATED: "true"}
    if it.model:
        tags[tracking.MODEL] = it.model
    if it.source_traces:
        tags[SOURCE_TRACES] = ",".join(it.source_traces)
    span = t.traces.span(
        ITEM_KIND,
        span_type="UNKNOWN",
        inputs={"prompt": it.prompt},
        tags=tags,
        run_id=it.run_id or None,
    )
    span.end(outputs=outputs)


def _item_traces(t: tracking.Tracker) -> dict[str, str]:
    """The complete item traces of the workspace's experiment, by item key.

    A trace without its outputs (or not OK) was left half-written by a process killed while it
    made it: it is deleted here (the caller holds the items lock) and made again.
    """
    traces = t.traces.search(f"tags.`{tracking.KIND}` = '{ITEM_KIND}'", all_experiments=False)
    found: dict[str, str] = {}
    orphans: list[str] = []
    for x in traces:
        state = getattr(x.info.state, "value", x.info.state)
        if state == "OK" and x.info.response_preview is not None:
            found[x.info.tags[ITEM_KEY]] = x.info.trace_id
        elif not getattr(x.info, "assessments", None):
            orphans.append(x.info.trace_id)
    t.traces.delete(orphans)
    return found
