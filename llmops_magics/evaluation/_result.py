"""``EvalResult``: what :func:`~llmops_magics.evaluation.evaluate` returns, as data, tables,
plots and notebook output."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.evaluation import metrics as _metrics
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EvalResult"]


@dataclass
class EvalResult(Result):
    """What :func:`evaluate` returns: scores with intervals, per-example values, deltas against
    a baseline and bias gaps; the MLflow run of each model is in ``run_ids``.

    ``to_frame()`` is the summary (one row per model and metric); :meth:`examples` the
    per-example table (worst first for any metric); :meth:`plot` bar charts with intervals.
    """

    models: list[str]
    metrics: list[str]
    summary: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    bias: list[dict[str, Any]] = field(default_factory=list)
    run_ids: dict[str, str] = field(default_factory=dict)
    baseline: str | None = None
    data_hash: str = ""
    prompt_version: str | None = None
    bootstrap: int = 1000
    seed: int = 0
    n_examples: int = 0
    total_s: float = 0.0
    tracking_uri: str | None = None
    stats: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    _title = "eval"

    # --- data views -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (without the raw per-example statistics)."""
        return {
            "models": self.models,
            "metrics": self.metrics,
            "summary": self.summary,
            "rows": self.rows,
            "bias": self.bias,
            "run_ids": self.run_ids,
            "baseline": self.baseline,
            "data_hash": self.data_hash,
            "prompt_version": self.prompt_version,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "n_examples": self.n_examples,
            "total_s": self.total_s,
        }

    def to_frame(self) -> pd.DataFrame:
        """The summary: one row per model and metric, with the 95% interval (and, with a
        baseline, the delta, its interval and the paired bootstrap p-value)."""
        import pandas as pd

        return pd.DataFrame(self.summary)

    def score(self, metric: str, model: str | None = None) -> float:
        """The corpus score of ``metric`` for ``model`` (default: the first model)."""
        model = model or self.models[0]
        for row in self.summary:
            if row["model"] == model and row["metric"] == metric:
                return float(row["score"])
        raise KeyError(f"no {metric!r} score for {model!r}; metrics: {', '.join(self.metrics)}")

    def examples(
        self, sort_by: str | None = None, *, model: str | None = None, worst_first: bool = True
    ) -> pd.DataFrame:
        """The per-example table: prompt, prediction, reference, each metric, trace id.

        Parameters
        ----------
        sort_by
            A metric: rows are sorted by it, the worst first (lowest, or highest perplexity).
        model
            Only this model's rows (default: every model and the baseline).
        """
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        if model is not None:
            if model not in set(frame["model"]):
                raise KeyError(f"no rows for {model!r}; models: {', '.join(set(frame['model']))}")
            frame = frame[frame["model"] == model]
        if sort_by is not None:
            if sort_by not in self.metrics:
                from llmops_magics._registry import UnknownNameError

                raise UnknownNameError("metric", sort_by, self.metrics)
            ascending = _metrics.get(sort_by).higher_is_better == worst_first
            frame = frame.sort_values(sort_by, ascending=ascending, kind="stable")
        return frame.reset_index(drop=True)

    def worst(self, metric: str | None = None, n: int = 5, *, model: str | None = None) -> Any:
        """The ``n`` worst examples by ``metric`` (default: the first metric)."""
        return self.examples(metric or self.metrics[0], model=model or self.models[0]).head(n)

    def bias_frame(self) -> pd.DataFrame:
        """The bias probe: metric on original and swapped inputs, the gap and its interval."""
        import pandas as pd

        return pd.DataFrame(self.bias)

    def plot(self, metrics: Sequence[str] | None = None) -> Any:
        """Bar charts of each metric per model, with 95% bootstrap intervals as error bars."""
        from llmops_magics.evaluation._plots import error_bars, finish, grid

        names = list(metrics or self.metrics)
        fig, axes_list = grid(len(names))
        systems = list(dict.fromkeys(r["model"] for r in self.summary))
        for ax, name in zip(axes_list, names, strict=True):
            rows = [
                next(r for r in self.summary if r["model"] == s and r["metric"] == name)
                for s in systems
            ]
            colors = [
                "#bbbbbb" if r.get("role") == "baseline" else f"C{i}" for i, r in enumerate(rows)
            ]
            values = [r["score"] for r in rows]
            ax.bar(range(len(rows)), values, yerr=error_bars(rows), capsize=4, color=colors)
            ax.set_xticks(range(len(rows)), [_short(s) for s in systems], rotation=20, fontsize=7)
            arrow = "↑" if _metrics.get(name).higher_is_better else "↓"
            ax.set_title(f"{name} {arrow}", fontsize=9)
        return finish(fig)

    # --- rendering --------------------------------------------------------------------------

    def _summary(self) -> str:
        where = f" · runs in {self.tracking_uri}" if self.run_ids else " · not tracked"
        base = f" · baseline {self.baseline}" if self.baseline else ""
        return (
            f"eval of {', '.join(self.models)} on {self.n_examples} examples "
            f"(data {self.data_hash}){base} · {self.bootstrap} bootstrap samples, seed "
            f"{self.seed} · {self.total_s:.1f}s{where}"
        )

    def _display_frame(self) -> pd.DataFrame:
        frame = self.to_frame().copy()
        for col in frame.columns:
            if frame[col].dtype.kind == "f":
                frame[col] = frame[col].map(lambda x: f"{x:.4g}" if math.isfinite(x) else "")
        return frame

    def _repr_html_(self) -> str:
        import base64
        import html
        import io

        parts = [super()._repr_html_()]
        if self.bias:
            parts.append("<p><b>bias probe (swapped - original)</b></p>")
            parts.append(self.bias_frame().to_html(index=False, float_format=_fmt))
        worst = self.worst(n=5).drop(columns=["trace_id"], errors="ignore")
        parts.append(
            f"<p><b>worst examples by {html.escape(self.metrics[0])}</b> "
            "(<code>.examples(sort_by=METRIC)</code> for all)</p>"
        )
        for col in ("prompt", "prediction", "reference"):
            worst[col] = worst[col].map(lambda v: _short(str(v), 60) if v is not None else "")
        parts.append(worst.to_html(index=False, float_format=_fmt))
        try:
            buf = io.BytesIO()
            self.plot().savefig(buf, format="png", dpi=80)
            img = base64.b64encode(buf.getvalue()).decode()
            parts.append(f'<img src="data:image/png;base64,{img}"/>')
        except Exception:  # a plot is a nicety; the tables above carry the numbers
            pass
        return "".join(parts)

    def __repr__(self) -> str:
        lines = [self._summary()]
        for r in self.summary:
            line = (
                f"  {r['model']:<24} {r['metric']:<12} {r['score']:.4g} "
                f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]"
            )
            if "delta" in r and r.get("delta") is not None and math.isfinite(r["delta"]):
                line += f"  Δ {r['delta']:+.4g} (p={r['p_value']:.3g})"
            lines.append(line)
        for b in self.bias:
            lines.append(
                f"  bias {b['model']} {b['metric']}: gap {b['gap']:+.4g} "
                f"[{b['gap_low']:.4g}, {b['gap_high']:.4g}] over {b['n_rows']} swapped rows"
            )
        return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _short(name: str, width: int = 18) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
