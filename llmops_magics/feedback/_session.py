"""A rater's pass over a list of items: position, ratings, durable storage of each click."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmops_magics.feedback._errors import FeedbackError, SourceError
from llmops_magics.feedback._items import Item, ensure_traces, items_from_source
from llmops_magics.feedback._store import (
    RATED_TAG,
    _all_experiments,
    check_rater,
    check_value,
    default_rater,
    rating_name,
)

__all__ = ["Rating", "RatingSession", "open_session"]


@dataclass(frozen=True)
class Rating:
    """A stored rating: what the rater chose for an item, and where it lives in MLflow."""

    item: int
    value: Any
    comment: str
    assessment_id: str
    trace_id: str
    time_ms: int


class RatingSession:
    """State of one rater over a list of items; every rating is durable when ``rate`` returns.

    Use :func:`open_session` (or :func:`llmops_magics.feedback.rate` for the panel).
    """

    def __init__(
        self,
        items: list[Item],
        *,
        mode: str,
        rater: str,
        labels: Sequence[str] = (),
        shuffle: bool = False,
        output_names: Sequence[str] = (),
    ) -> None:
        self.items = items
        self.mode = mode
        self.rater = rater
        self.labels = list(labels)
        self.output_names = list(output_names)
        self.name = rating_name(mode)
        seed = int(hashlib.sha256(f"{rater}|{len(items)}".encode()).hexdigest()[:8], 16)
        rng = random.Random(seed)
        self.order = list(range(len(items)))
        #: pairwise: item indices whose outputs are shown as B, A (against position bias)
        self.swapped: set[int] = set()
        if shuffle:
            rng.shuffle(self.order)
            if mode == "pairwise":
                self.swapped = {i for i in range(len(items)) if rng.random() < 0.5}
        self.ratings: dict[int, Rating] = {}
        self._pending_comment = ""
        from llmops_magics import workspace

        #: the store this session rates into (the workspace active when it opened)
        self.tracking_uri = workspace.current().tracking_uri
        self._same: dict[tuple[str, str], list[int]] = {}
        for i, it in enumerate(items):
            self._same.setdefault((it.trace_id, it.key), []).append(i)
        self._load_existing()
        self.position = self.first_unrated()

    # --- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.items)

    @property
    def current_index(self) -> int:
        """Index (in the source) of the item shown now."""
        return self.order[self.position]

    @property
    def current(self) -> Item:
        """The item shown now."""
        return self.items[self.current_index]

    def shown_outputs(self, index: int | None = None) -> list[str]:
        """The outputs in the order the rater sees them (pairwise: A then B)."""
        i = self.current_index if index is None else index
        outs = list(self.items[i].outputs)
        return outs[::-1] if i in self.swapped else outs

    @property
    def n_rated(self) -> int:
        """How many items this rater has rated."""
        return len(self.ratings)

    @property
    def done(self) -> bool:
        """True once every item has a rating from this rater."""
        return self.n_rated == len(self.items)

    @property
    def progress(self) -> str:
        """Progress as the panel shows it, e.g. ``12 of 40 rated``."""
        return f"{self.n_rated} of {len(self.items)} rated"

    def rating_of(self, index: int | None = None) -> Rating | None:
        """This rater's rating of an item (default: the current one), if any."""
        return self.ratings.get(self.current_index if index is None else index)

    def first_unrated(self) -> int:
        """Position of the first unrated item in showing order (the last item when done)."""
        for pos, i in enumerate(self.order):
            if i not in self.ratings:
                return pos
        return len(self.order) - 1

    # --- moving --------------------------------------------------------------------------

    def next(self) -> int:
        """Move to the next item (skip); returns the new position."""
        self.position = min(self.position + 1, len(self.order) - 1)
        self._pending_comment = ""
        return self.position

    def back(self) -> int:
        """Move to the previous item; returns the new position."""
        self.position = max(self.position - 1, 0)
        self._pending_comment = ""
        return self.position

    def goto(self, position: int) -> int:
        """Move to a position in showing order."""
        if not 0 <= position < len(self.order):
            raise FeedbackError(
                f"Position {position} is out of range.", hint=f"Use 0 to {len(self.order) - 1}."
            )
        self.position = position
        self._pending_comment = ""
        return position

    # --- writing -------------------------------------------------------------------------

    def rate(self, value: Any, comment: str | None = None) -> Rating:
        """Store a rating of the current item at once, then move to the next unrated item.

        Pairwise ``"a"``/``"b"`` name the outputs as shown; the stored value names the source
        columns (``a`` = the first output column), whatever the shown order.
        """
        shown = check_value(value, self.mode, self.labels)
        index = self.current_index
        stored = shown
        if index in self.swapped and shown in ("a", "b"):
            stored = "b" if shown == "a" else "a"
        text = self._pending_comment if comment is None else comment
        rating = self._store(index, stored, text)
        self._pending_comment = ""
        self._advance()
        return rating

    def comment(self, text: str) -> None:
        """Attach a comment to the current item: to its rating at once if it has one, else to
        the rating that comes next."""
        if not isinstance(text, str):
            raise FeedbackError("A comment must be text.", hint="Pass a string.")
        index = self.current_index
        previous = self.ratings.get(index)
        if previous is None:
            self._pending_comment = text
        else:
            self._store(index, previous.value, text)

    def _store(self, index: int, value: Any, comment: str) -> Rating:
        from mlflow.entities import AssessmentSource

        from llmops_magics import workspace

        mlflow = workspace._mlflow()
        if mlflow.get_tracking_uri() != self.tracking_uri:  # the notebook switched workspace
            workspace._point_mlflow(mlflow, self.tracking_uri)
        item = self.items[index]
        source = AssessmentSource(source_type="HUMAN", source_id=self.rater)
        meta = {
            "llmops.item_key": item.key,
            "llmops.index": str(item.index),
            "llmops.model": item.model,
            "llmops.prompt": item.prompt,
            "llmops.shown": "ba" if index in self.swapped else "ab",
        }
        if len(item.outputs) == 1:
            meta["llmops.output"] = item.outputs[0]
        else:
            meta["llmops.output_a"], meta["llmops.output_b"] = item.outputs
            if self.output_names:
                meta["llmops.output_columns"] = ",".join(self.output_names)
        if self.labels:
            meta["llmops.labels"] = ",".join(self.labels)
        previous = self.ratings.get(index)
        try:
            if previous is None:
                assessment = mlflow.log_feedback(
                    trace_id=item.trace_id,
                    name=self.name,
                    value=value,
                    source=source,
                    rationale=comment or None,
                    metadata=meta,
                )
            else:
                assessment = mlflow.override_feedback(
                    trace_id=item.trace_id,
                    assessment_id=previous.assessment_id,
                    value=value,
                    rationale=comment or None,
                    source=source,
                    metadata=meta,
                )
        except Exception as exc:
            raise FeedbackError(
                f"Could not store the rating of item {item.index} on trace {item.trace_id}: "
                f"{str(exc).splitlines()[0]}",
                hint="The rating was not stored; check the workspace (%llmops workspace) and "
                "rate again.",
            ) from exc
        rating = Rating(
            item=index,
            value=value,
            comment=comment,
            assessment_id=assessment.assessment_id,
            trace_id=item.trace_id,
            time_ms=int(assessment.create_time_ms or time.time() * 1000),
        )
        # Rows with the same content share one trace: a rating of one is a rating of all, as
        # a reopened panel would see it.
        for j in self._same.get((item.trace_id, item.key), [index]):
            self.ratings[j] = rating
        return rating

    def _advance(self) -> None:
        n = len(self.order)
        for step in range(1, n + 1):
            pos = (self.position + step) % n
            if self.order[pos] not in self.ratings:
                self.position = pos
                return

    def _load_existing(self) -> None:
        """Read this rater's earlier ratings of these items (resume after a restart)."""
        from llmops_magics import workspace

        ws = workspace.current()
        workspace.experiment_id(workspace=ws)
        mlflow = workspace._mlflow()
        exp_ids = _all_experiments(mlflow, ws.tracking_uri)
        traces = mlflow.search_traces(
            locations=exp_ids,
            filter_string=f"tags.`{RATED_TAG}` = 'true'",
            return_type="list",
            include_spans=False,
        )
        by_trace: dict[str, list[int]] = {}
        for i, it in enumerate(self.items):
            by_trace.setdefault(it.trace_id, []).append(i)
        tagged = {t.info.trace_id for t in traces}
        # Mark the items' traces now, once, so that each click is a single write.
        for trace_id in sorted(set(by_trace) - tagged):
            try:
                _retry(lambda t=trace_id: mlflow.set_trace_tag(t, RATED_TAG, "true"))
            except Exception as exc:
                row = self.items[by_trace[trace_id][0]].index
                raise SourceError(
                    f"The trace {trace_id} of row {row} is not in this workspace's store "
                    f"({ws.tracking_uri}).",
                    rows=[row],
                    hint="Rate in the workspace where the outputs were generated "
                    "(%llmops workspace PATH), or drop the trace_id column to rate them afresh.",
                ) from exc
        for trace in traces:
            indices = by_trace.get(trace.info.trace_id)
            if not indices:
                continue
            mine = [
                a
                for a in trace.info.assessments or []
                if a.name == self.name
                and a.valid
                and a.feedback is not None
                and a.source is not None
                and a.source.source_id == self.rater
            ]
            for a in sorted(mine, key=lambda a: a.create_time_ms or 0):
                key = (a.metadata or {}).get("llmops.item_key")
                for i in indices:
                    if key and key != self.items[i].key:
                        continue
                    value = a.feedback.value
                    if isinstance(value, float) and value.is_integer():
                        value = int(value)
                    self.ratings[i] = Rating(
                        item=i,
                        value=value,
                        comment=a.rationale or "",
                        assessment_id=a.assessment_id,
                        trace_id=trace.info.trace_id,
                        time_ms=int(a.create_time_ms or 0),
                    )


def _retry(call: Any, attempts: int = 5) -> Any:
    # Two kernels tagging one trace at the same moment can collide on the insert; the
    # second try finds the row and updates it.
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            text = str(exc).lower()
            if attempt == attempts - 1 or not ("locked" in text or "unique" in text):
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def open_session(
    source: Any,
    *,
    mode: str = "stars",
    rater: str | None = None,
    labels: Sequence[str] | str | None = None,
    outputs: Sequence[str] | str | None = None,
    shuffle: bool = False,
    prompt_col: str | None = None,
    output_col: str | None = None,
    model: str | None = None,
    progress: bool | None = None,
) -> RatingSession:
    """Check the source, give every item a trace and resume this rater's earlier work.

    Parameters are those of :func:`llmops_magics.feedback.rate`. Everything is checked before
    anything is stored.
    """
    name = check_rater(rater) if rater is not None else default_rater()
    if isinstance(labels, str):
        labels = [x.strip() for x in labels.split(",") if x.strip()]
    labels = list(labels or [])
    if isinstance(outputs, str):
        outputs = [x.strip() for x in outputs.split(",") if x.strip()]
    if mode == "label":
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise SourceError(
                f"Label mode needs at least two distinct labels, got {labels}.",
                hint="Give them with --labels good,bad,unsafe.",
            )
    elif labels:
        raise SourceError("--labels goes with --mode label.", hint="Add --mode label.")
    if outputs is not None and mode != "pairwise":
        raise SourceError("--outputs goes with --mode pairwise.", hint="Add --mode pairwise.")
    items = items_from_source(
        source,
        mode,
        outputs=list(outputs) if outputs is not None else None,
        prompt_col=prompt_col,
        output_col=output_col,
        model=model,
    )
    ensure_traces(items, progress=progress)
    names: list[str] = list(outputs) if outputs is not None else []
    if mode == "pairwise" and not names:
        import pandas as pd

        frame = source if isinstance(source, pd.DataFrame) else source.to_frame()
        names = [c for c in map(str, frame.columns) if c.startswith("output")]
    return RatingSession(
        items, mode=mode, rater=name, labels=labels, shuffle=shuffle, output_names=names
    )
