"""Items to rate: normalising sources and giving every item a trace in the workspace store."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from llmops_magics.feedback._errors import FeedbackError, SourceError

__all__ = ["MODES", "Item", "ensure_traces", "items_from_source"]

MODES = ("stars", "thumbs", "pairwise", "label")
_PROMPT_COLUMNS = ("prompt", "question", "input", "text")
_OUTPUT_COLUMNS = ("output", "prediction", "response", "completion", "answer")
ITEM_KIND = "feedback_item"


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

    @functools.cached_property
    def key(self) -> str:
        """A content hash: the same prompt and outputs are the same item in every process."""
        blob = json.dumps([self.prompt, self.outputs], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _frame_of(source: Any) -> tuple[Any, str]:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source, ""
    # An eval result's to_frame() is its summary; its examples() are the rated rows.
    examples = getattr(source, "examples", None)
    if callable(examples):
        frame = examples()
        if isinstance(frame, pd.DataFrame):
            return frame, str(getattr(source, "model", "") or "")
    to_frame = getattr(source, "to_frame", None)
    if callable(to_frame):
        frame = to_frame()
        if isinstance(frame, pd.DataFrame):
            return frame, str(getattr(source, "model", "") or "")
    raise SourceError(
        f"Cannot rate a {type(source).__name__}.",
        hint="Give a result of %llmops generate / prompt / eval, or a DataFrame with prompt and "
        "output columns.",
    )


def _pick(frame: Any, wanted: str | None, candidates: tuple[str, ...], what: str) -> str:
    if wanted is not None:
        if wanted not in frame.columns:
            raise SourceError(
                f"The source has no {what} column {wanted!r}.",
                column=wanted,
                hint=f"Its columns are: {', '.join(map(str, frame.columns))}.",
            )
        return wanted
    for name in candidates:
        if name in frame.columns:
            return name
    raise SourceError(
        f"The source has no {what} column (looked for {', '.join(candidates)}).",
        hint=f"Its columns are: {', '.join(map(str, frame.columns))}; name the column with "
        f"--{what}-col.",
    )


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
    frame, source_model = _frame_of(source)
    if frame.empty:
        raise SourceError("The source is empty (0 rows).", hint="Give at least one row to rate.")
    pcol = _pick(frame, prompt_col, _PROMPT_COLUMNS, "prompt")
    if mode == "pairwise":
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
        ocols = [_pick(frame, c, (), "output") for c in outputs]
    else:
        ocols = [_pick(frame, output_col, _OUTPUT_COLUMNS, "output")]
    prompts = _texts(frame, pcol)
    columns = [_texts(frame, c) for c in ocols]
    empty = [i for i in range(len(prompts)) if not any(col[i].strip() for col in columns)]
    if len(empty) == len(prompts):
        raise SourceError(
            "The source has no outputs: every output is empty.",
            hint="Generate outputs first (%llmops generate ... -o result) and rate the result.",
        )
    trace_ids = [""] * len(prompts)
    if len(ocols) == 1 and "trace_id" in frame.columns:
        trace_ids = ["" if not isinstance(t, str) else t for t in frame["trace_id"].tolist()]
    models = [model or source_model] * len(prompts)
    if not model and "model" in frame.columns:
        models = [str(m) if isinstance(m, str) else source_model for m in frame["model"].tolist()]
    source_traces: list[list[str]] = [[] for _ in prompts]
    if len(ocols) == 2:
        for col in ocols:
            tcol = f"trace_id_{col}"
            if tcol in frame.columns:
                for i, t in enumerate(frame[tcol].tolist()):
                    if isinstance(t, str) and t:
                        source_traces[i].append(t)
    return [
        Item(
            prompt=prompts[i],
            outputs=[col[i] for col in columns],
            trace_id=trace_ids[i],
            model=models[i],
            index=i,
            source_traces=source_traces[i],
        )
        for i in range(len(prompts))
    ]


def ensure_traces(items: list[Item], *, progress: bool | None = None) -> None:
    """Give each item without a trace one in the workspace store (reused across processes)."""
    missing = [it for it in items if not it.trace_id]
    if not missing:
        return
    from tqdm.auto import tqdm

    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    # Under the lock: a second process rating the same frame must find these traces, not make
    # a second set (its ratings would then miss this rater's resume point).
    with ws.lock("feedback-items"):
        known = _item_traces(mlflow, exp_id)
        show = len(missing) > 20 if progress is None else progress
        bar = tqdm(total=len(missing), desc="preparing items", disable=not show)
        todo = missing
        for attempt in range(3):
            made: list[Item] = []
            pending: set[str] = set()  # rows with the same content share one trace
            for it in todo:
                if it.key in known:
                    it.trace_id = known[it.key]
                else:
                    made.append(it)
                    if it.key not in pending:
                        pending.add(it.key)
                        _make_trace(mlflow, exp_id, it)
                        # MLflow's export queue holds 1000 tasks (2 per trace) and drops what
                        # does not fit: flush in chunks.
                        if len(pending) % _CHUNK == 0:
                            mlflow.flush_trace_async_logging()
                if attempt == 0:
                    bar.update(1)
            if not made:
                break
            mlflow.flush_trace_async_logging()
            known = _item_traces(mlflow, exp_id)
            todo = [it for it in made if it.key not in known]
            for it in made:
                it.trace_id = known.get(it.key, "")
            if not todo:
                break
        bar.close()
        lost = [it.index for it in missing if not it.trace_id]
        if lost:
            raise FeedbackError(
                f"Could not store traces for {len(lost)} item(s), e.g. rows {lost[:10]}.",
                hint="Check the workspace store (%llmops workspace) and open the panel again.",
            )


_CHUNK = 200


def _make_trace(mlflow: Any, exp_id: str, it: Item) -> None:
    outputs: dict[str, Any] = (
        {"text": it.outputs[0]}
        if len(it.outputs) == 1
        else {"output_a": it.outputs[0], "output_b": it.outputs[1]}
    )
    tags = {"llmops.kind": ITEM_KIND, "llmops.item_key": it.key, "llmops.feedback": "true"}
    if it.model:
        tags["llmops.model"] = it.model
    if it.source_traces:
        tags["llmops.source_traces"] = ",".join(it.source_traces)
    span = mlflow.start_span_no_context(
        "feedback_item",
        span_type="UNKNOWN",
        inputs={"prompt": it.prompt},
        tags=tags,
        experiment_id=exp_id,
    )
    span.end(outputs=outputs)


def _item_traces(mlflow: Any, exp_id: str) -> dict[str, str]:
    traces = mlflow.search_traces(
        locations=[exp_id],
        filter_string=f"tags.`llmops.kind` = '{ITEM_KIND}'",
        return_type="list",
        include_spans=False,
    )
    return {t.info.tags["llmops.item_key"]: t.info.trace_id for t in traces}
