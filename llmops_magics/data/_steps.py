"""The steps of a data-stage run: their timings, and their progress on the stage's channel."""

from __future__ import annotations

import time
from types import TracebackType

from llmops_magics import progress as _progress

__all__ = ["Steps"]


class Steps:
    """Times each step of ``kind`` work and moves its progress view one step per step.

    Use it as a context manager: the view is finished when the block ends, as ``failed`` when
    an exception escapes.

    Parameters
    ----------
    kind
        The kind of work (``"eda"``, ``"prep"``): the title and the progress channel.
    total
        How many steps there will be.
    progress
        The stage's ``progress=`` option (see :func:`llmops_magics.progress.channel`).
    """

    def __init__(self, kind: str, total: int, progress: _progress.ProgressOption) -> None:
        self.view = _progress.channel(kind, progress)
        self.timings: dict[str, float] = {}
        self.done = 0
        self.last = time.perf_counter()
        self.view.start(total, kind)

    def step(self, name: str) -> None:
        """The step ``name`` just ended: record its time and move the view."""
        now = time.perf_counter()
        self.timings[name] = round(now - self.last, 4)
        self.last = now
        self.done += 1
        self.view.update({"step": self.done, "done": name})

    def __enter__(self) -> Steps:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.view.finish("failed" if exc is not None else "finished")
