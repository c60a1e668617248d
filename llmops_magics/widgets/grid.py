"""The prompt comparison grid: one row per example, one column per model (and version).

State lives in traitlets (``show``: what each cell shows; ``highlight``: mark the best cell of
each row by a score); the view is rebuilt from the :class:`~llmops_magics.prompts.PromptRun`
records, so the widget holds no business logic.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from traitlets import Unicode, observe

from llmops_magics.widgets._snapshot import SnapshotMixin

if TYPE_CHECKING:
    from llmops_magics.prompts import PromptRun

__all__ = ["PromptGrid"]

_SHOW = ("output", "prompt")
_HIGHLIGHT = ("none", "bleu", "rougeL", "latency_s")
_CELL = (
    "border:1px solid #ddd;padding:4px 6px;white-space:pre-wrap;font-size:12px;"
    "max-height:14em;overflow:auto"
)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


class PromptGrid(SnapshotMixin, widgets.VBox):
    """A grid of a prompt run's outputs, with a footer of per-column means.

    Build it with :meth:`from_run` (or ``PromptRun.grid()``). Set ``show`` to ``"prompt"`` to
    see the rendered prompts, ``highlight`` to ``"rougeL"`` (etc.) to mark each row's best cell.
    """

    show = Unicode("output", help="what the cells show: output or prompt").tag(sync=True)
    highlight = Unicode("none", help="mark each row's best cell by: none, bleu, rougeL, latency_s")

    def __init__(self, run: PromptRun, **kwargs: Any) -> None:
        self.run = run
        self.columns: list[tuple[str, int]] = [(m, v) for v in run.versions for m in run.models]
        self.examples: list[int] = sorted({int(r["example"]) for r in run.records})
        self._records = {(int(r["example"]), r["model"], int(r["version"])): r for r in run.records}
        self.cells: dict[tuple[int, str], widgets.HTML] = {}
        self.show_toggle = widgets.ToggleButtons(options=list(_SHOW), value="output")
        self.show_toggle.observe(lambda change: self.set_show(change["new"]), "value")
        options = ["none"] + (["bleu", "rougeL"] if run.reference else []) + ["latency_s"]
        self.highlight_menu = widgets.Dropdown(options=options, value="none", description="best")
        self.highlight_menu.observe(lambda change: self.set_highlight(change["new"]), "value")
        self.error = widgets.Output()
        self.title = widgets.HTML(f"<b>{html.escape(run._summary())}</b>")
        self.table = widgets.GridBox(
            layout=widgets.Layout(
                grid_template_columns=f"minmax(8em, 1fr) repeat({len(self.columns)}, 2fr)",
                grid_gap="0px",
            )
        )
        super().__init__(
            [
                self.title,
                widgets.HBox([self.show_toggle, self.highlight_menu]),
                self.table,
                self.error,
            ],
            **kwargs,
        )
        self._build()

    @classmethod
    def from_run(cls, run: PromptRun) -> PromptGrid:
        """The grid of ``run``."""
        return cls(run)

    # public actions (what the controls call)

    def set_show(self, what: str) -> None:
        """Show outputs (``"output"``) or rendered prompts (``"prompt"``) in the cells."""
        if what not in _SHOW:
            raise ValueError(f"show must be one of {', '.join(_SHOW)}, got {what!r}")
        self.show = what

    def set_highlight(self, metric: str) -> None:
        """Mark each row's best cell by ``metric`` (``none`` turns marking off)."""
        if metric not in _HIGHLIGHT:
            raise ValueError(f"highlight must be one of {', '.join(_HIGHLIGHT)}, got {metric!r}")
        self.highlight = metric

    @observe("show", "highlight")
    def _changed(self, change: Any) -> None:
        with self.error:
            if change["name"] == "show" and self.show_toggle.value != change["new"]:
                self.show_toggle.value = change["new"]
            self._build()

    # view

    def label(self, model: str, version: int) -> str:
        """A column's heading."""
        return self.run.column_label(model, version)

    def best(self, example: int) -> str | None:
        """The label of the best column of row ``example`` by ``highlight`` (None if off)."""
        if self.highlight == "none":
            return None
        scored = []
        for m, v in self.columns:
            value = self._records[(example, m, v)].get(self.highlight)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                scored.append((float(value), self.label(m, v)))
        if not scored:
            return None
        pick = min if self.highlight == "latency_s" else max
        return pick(scored)[1]

    def _cell_html(self, record: dict[str, Any], best: bool) -> str:
        text = str(record[self.show]) or "(empty)"
        facts = [f"{_fmt(record['latency_s'])} s", f"{record['tokens']} tok"]
        if self.run.reference:
            facts += [f"BLEU {_fmt(record['bleu'], 1)}", f"ROUGE-L {_fmt(record['rougeL'])}"]
        if record["cached"]:
            facts.append("cached")
        background = "#e6ffed" if best else "white"
        return (
            f'<div style="{_CELL};background:{background}">{html.escape(text)}'
            f'<div style="color:#777;font-size:11px">{" · ".join(facts)}</div></div>'
        )

    def _build(self) -> None:
        head = [widgets.HTML(f'<div style="{_CELL};font-weight:bold">example</div>')]
        head += [
            widgets.HTML(
                f'<div style="{_CELL};font-weight:bold">{html.escape(self.label(m, v))}</div>'
            )
            for m, v in self.columns
        ]
        children: list[widgets.Widget] = list(head)
        self.cells = {}
        for ex in self.examples:
            first = self._records[(ex, *self.columns[0])]
            children.append(
                widgets.HTML(
                    f'<div style="{_CELL}"><b>{ex}</b> {html.escape(str(first["input"]))}</div>'
                )
            )
            best = self.best(ex)
            for m, v in self.columns:
                label = self.label(m, v)
                cell = widgets.HTML(self._cell_html(self._records[(ex, m, v)], best == label))
                self.cells[(ex, label)] = cell
                children.append(cell)
        children.append(widgets.HTML(f'<div style="{_CELL};font-weight:bold">mean</div>'))
        for m, v in self.columns:
            rows = [self._records[(ex, m, v)] for ex in self.examples]
            facts = [
                f"{_fmt(_mean(r['latency_s'] for r in rows))} s",
                f"{_fmt(_mean(r['tokens'] for r in rows), 1)} tok",
            ]
            if self.run.reference:
                facts.append(f"BLEU {_fmt(_mean(r['bleu'] for r in rows), 1)}")
                facts.append(f"ROUGE-L {_fmt(_mean(r['rougeL'] for r in rows))}")
            children.append(widgets.HTML(f'<div style="{_CELL}">{" · ".join(facts)}</div>'))
        self.table.children = children


def _mean(values: Any) -> float:
    items = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return sum(items) / len(items) if items else math.nan
