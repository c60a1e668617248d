"""The result objects of a prompt run (a grid of outputs) and of a chain (outputs per step)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import progress
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "ChainRun", "PromptRun"]

#: the columns of :meth:`PromptRun.to_frame`
COLUMNS = [
    "example",
    "input",
    "model",
    "version",
    "prompt",
    "output",
    "reference",
    "latency_s",
    "prompt_tokens",
    "tokens",
    "bleu",
    "rougeL",
    "cached",
    "trace_id",
    "generation_run_id",
]


@dataclass
class PromptRun(Result):
    """The outputs of one prompt (one or several versions) with one or several models.

    ``to_frame()`` is the long table: one row per (example, model, version). In a notebook with
    a widget front end the result shows as a grid, one row per example and one column per model
    (and version); elsewhere (papermill, nbconvert, a terminal) as an HTML table.
    """

    name: str
    versions: list[int]
    models: list[str]
    records: list[dict[str, Any]]
    n_examples: int
    generated: int
    params: dict[str, Any]
    reference: str | None = None
    total_s: float = 0.0
    run_id: str | None = None
    data_hash: str = ""
    created_version: bool = False

    _title = "prompt"
    #: with a notebook front end the grid shows (see :class:`~llmops_magics.results.Result`)
    _live_panel = True

    def to_frame(self) -> pd.DataFrame:
        """The long table of every output with its latency, tokens, scores and trace id."""
        import pandas as pd

        return pd.DataFrame(self.records, columns=COLUMNS)

    @property
    def cached(self) -> int:
        """How many outputs came from the workspace's cache."""
        return sum(bool(r["cached"]) for r in self.records)

    def column_label(self, model: str, version: int) -> str:
        """The grid column of ``model`` and ``version``."""
        return model if len(self.versions) == 1 else f"{model} · v{version}"

    def grid(self) -> Any:
        """The comparison grid widget that the panel layer shows for a prompt run
        (:class:`llmops_magics.widgets.grid.PromptGrid`), or None where no panel is installed."""
        return progress.panel_for(self)

    def wide(self, value: str = "output") -> pd.DataFrame:
        """One row per example, one column per model (and version), holding ``value``."""
        frame = self.to_frame()
        frame["column"] = [
            self.column_label(m, v) for m, v in zip(frame["model"], frame["version"], strict=True)
        ]
        table = frame.pivot(index="example", columns="column", values=value)
        order = [self.column_label(m, v) for v in self.versions for m in self.models]
        return table[order]

    def means(self) -> pd.DataFrame:
        """Per column (model, version): mean latency, tokens and, with a reference, scores."""
        frame = self.to_frame()
        metrics = ["latency_s", "tokens"] + (["bleu", "rougeL"] if self.reference else [])
        for m in metrics:
            frame[m] = frame[m].astype(float)
        table = frame.groupby(["model", "version"], sort=False)[metrics].mean().reset_index()
        pairs = zip(table["model"], table["version"], strict=True)
        table.insert(0, "column", [self.column_label(m, v) for m, v in pairs])
        return table

    def plot(self) -> Any:
        """Bar charts of :meth:`means`, one panel per measure (a matplotlib ``Figure``)."""
        from matplotlib.figure import Figure

        table = self.means()
        measures = [c for c in ("rougeL", "bleu", "latency_s", "tokens") if c in table]
        titles = {"rougeL": "ROUGE-L F", "bleu": "BLEU", "latency_s": "latency (s)"}
        fig = Figure(figsize=(3.2 * len(measures), 2.8 + 0.15 * len(table)), layout="constrained")
        axes = fig.subplots(1, len(measures), squeeze=False)[0]
        for ax, measure in zip(axes, measures, strict=True):
            ax.barh(table["column"], table[measure], color="#4c78a8")
            ax.set_title(titles.get(measure, "tokens generated"))
            ax.invert_yaxis()
            if ax is not axes[0]:
                ax.set_yticklabels([])
        fig.suptitle(f"prompt {self.name}: mean over {self.n_examples} example(s)")
        return fig

    def _summary(self) -> str:
        versions = ", ".join(f"v{v}" for v in self.versions)
        saved = " (new version)" if self.created_version else ""
        counts = f"{self.generated} generated, {self.cached} cached"
        return _summary(f"prompt {self.name} {versions}{saved}", self, counts)

    def _display_frame(self) -> pd.DataFrame:
        frame = self.to_frame().drop(columns=["trace_id", "generation_run_id", "prompt"])
        if self.reference is None:
            frame = frame.drop(columns=["reference", "bleu", "rougeL"])
        return frame

    def __repr__(self) -> str:
        return _listing(
            self._summary(),
            self.records,
            lambda r: self.column_label(r["model"], r["version"]),
        )


def _summary(head: str, run: PromptRun | ChainRun, counts: str) -> str:
    """The title line of a prompt run or a chain."""
    where = f" · run {run.run_id}" if run.run_id else ""
    return (
        f"{head}: {run.n_examples} example(s) x {len(run.models)} model(s) · {counts} · "
        f"{run.total_s:.2f}s in all, loading included{where}"  # (cells: generation time)
    )


def _listing(title: str, records: list[dict[str, Any]], label: Callable[[Any], str]) -> str:
    """``title`` and the first six outputs, each after its example number and ``label``."""
    lines = [title]
    lines += [f"[{r['example']}] {label(r)}: {_clip(r['output'])!r}" for r in records[:6]]
    if len(records) > 6:
        lines.append(f"... {len(records) - 6} more (see .to_frame())")
    return "\n".join(lines)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class ChainRun(Result):
    """The outputs of a chain of prompts, step by step, with one MLflow trace per row."""

    steps: list[str]
    models: list[str]
    records: list[dict[str, Any]]
    n_examples: int
    generated: int
    trace_ids: dict[str, list[str]] = field(default_factory=dict)  # model -> one per row
    total_s: float = 0.0
    run_id: str | None = None

    _title = "chain"

    def to_frame(self) -> pd.DataFrame:
        """One row per (example, model, step)."""
        import pandas as pd

        cols = ["example", "model", "step", "version", "prompt", "output", "latency_s"]
        cols += ["prompt_tokens", "tokens", "cached", "trace_id"]
        return pd.DataFrame(self.records, columns=cols)

    def outputs(self, model: str | None = None) -> pd.DataFrame:
        """One row per example, one column per step: the outputs of ``model`` (the first)."""
        frame = self.to_frame()
        frame = frame[frame["model"] == (model or self.models[0])]
        table = frame.pivot(index="example", columns="step", values="output")
        return table[[s for s in self._order() if s in table.columns]]

    def _order(self) -> list[str]:
        seen: list[str] = []
        for r in self.records:
            if r["step"] not in seen:
                seen.append(r["step"])
        return seen

    def _summary(self) -> str:
        return _summary(f"chain {' → '.join(self.steps)}", self, f"{self.generated} generated")

    def _display_frame(self) -> pd.DataFrame:
        return self.to_frame().drop(columns=["trace_id", "prompt"])

    def __repr__(self) -> str:
        return _listing(self._summary(), self.records, lambda r: f"{r['model']} {r['step']}")
