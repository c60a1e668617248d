"""A rater's pass over a list of items: position, ratings, durable storage of each click."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmops_magics import tracking
from llmops_magics.feedback._errors import FeedbackError, SourceError
from llmops_magics.feedback._items import Item, ensure_traces, items_from_source
from llmops_magics.feedback._names import META, RATED
from llmops_magics.feedback._options import RatingOptions, merge
from llmops_magics.feedback._store import rated_traces
from llmops_magics.feedback._values import check_value, default_rater, rating_name, scalar
from llmops_magics.progress import ProgressOption

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
        tracker: tracking.Tracker | None = None,
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
        #: the store this session rates into (the workspace active when it opened), even after
        #: the notebook switched to another workspace
        self.tracker = tracker or tracking.tracker()
        self.tracking_uri = self.tracker.uri
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

    def _metadata(self, index: int) -> dict[str, str]:
        """What a rating of item ``index`` stores besides its value: the item as it was shown."""
        item = self.items[index]
        meta = {
            META.ITEM_KEY: item.key,
            META.INDEX: str(item.index),
            META.MODEL: item.model,
            META.PROMPT: item.prompt,
            META.SHOWN: "ba" if index in self.swapped else "ab",
        }
        if len(item.outputs) == 1:
            meta[META.OUTPUT] = item.outputs[0]
        else:
            meta[META.OUTPUT_A], meta[META.OUTPUT_B] = item.outputs
            if self.output_names:
                meta[META.OUTPUT_COLUMNS] = ",".join(self.output_names)
        if self.labels:
            meta[META.LABELS] = ",".join(self.labels)
        return meta

    def _store(self, index: int, value: Any, comment: str) -> Rating:
        item = self.items[index]
        previous = self.ratings.get(index)
        try:
            assessment = self.tracker.traces.log_feedback(
                item.trace_id,
                name=self.name,
                value=value,
                rater=self.rater,
                rationale=comment or None,
                metadata=self._metadata(index),
                replaces=previous.assessment_id if previous is not None else None,
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
        traces = rated_traces(self.tracker)
        by_trace: dict[str, list[int]] = {}
        for i, it in enumerate(self.items):
            by_trace.setdefault(it.trace_id, []).append(i)
        self._tag_items(by_trace, {t.info.trace_id for t in traces})
        for trace in traces:
            for i in by_trace.get(trace.info.trace_id, []):
                self._resume(i, trace.info)

    def _tag_items(self, by_trace: dict[str, list[int]], tagged: set[str]) -> None:
        """Mark the items' traces now, once, so that each click is a single write."""
        for trace_id in sorted(set(by_trace) - tagged):
            try:
                _retry(lambda t=trace_id: self.tracker.traces.set_tag(t, RATED, "true"))
            except Exception as exc:
                row = self.items[by_trace[trace_id][0]].index
                raise SourceError(
                    f"The trace {trace_id} of row {row} is not in this workspace's store "
                    f"({self.tracker.uri}).",
                    rows=[row],
                    hint="Rate in the workspace where the outputs were generated "
                    "(%llmops workspace PATH), or drop the trace_id column to rate them afresh.",
                ) from exc

    def _resume(self, index: int, info: Any) -> None:
        """Take this rater's latest valid rating of item ``index`` from its trace, if any."""
        mine = [
            a
            for a in info.assessments or []
            if a.name == self.name
            and a.valid
            and a.feedback is not None
            and a.source is not None
            and a.source.source_id == self.rater
        ]
        for a in sorted(mine, key=lambda a: a.create_time_ms or 0):
            key = (a.metadata or {}).get(META.ITEM_KEY)
            if key and key != self.items[index].key:
                continue
            self.ratings[index] = Rating(
                item=index,
                value=scalar(a.feedback.value),
                comment=a.rationale or "",
                assessment_id=a.assessment_id,
                trace_id=info.trace_id,
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
    options: RatingOptions | None = None,
    *,
    progress: ProgressOption = None,
    **overrides: Any,
) -> RatingSession:
    """Check the source, give every item a trace and resume this rater's earlier work.

    Everything is checked before anything is stored.

    Parameters
    ----------
    source
        A result of generate / prompt / eval, or a DataFrame with prompt and output columns.
    options
        A :class:`RatingOptions`; keyword arguments (``mode``, ``rater``, ``labels``,
        ``outputs``, ``shuffle``, ``prompt_col``, ``output_col``, ``model``) override its fields.
    progress
        The bar of item preparation (None: shown past 20 items without traces).
    """
    opts = merge(RatingOptions, options, overrides)
    rater = opts.rater if opts.rater is not None else default_rater()
    items = items_from_source(
        source,
        opts.mode,
        outputs=opts.outputs,
        prompt_col=opts.prompt_col,
        output_col=opts.output_col,
        model=opts.model,
    )
    tracker = tracking.tracker()
    ensure_traces(items, tracker=tracker, progress=progress)
    return RatingSession(
        items,
        mode=opts.mode,
        rater=rater,
        labels=opts.labels,
        shuffle=opts.shuffle,
        output_names=items[0].columns if opts.mode == "pairwise" else [],
        tracker=tracker,
    )
