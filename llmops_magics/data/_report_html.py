"""Figures and the tabbed HTML view of an :class:`~llmops_magics.data.EdaReport`."""

from __future__ import annotations

import html
import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from llmops_magics.data._profile import EdaReport

__all__ = ["figure_png", "figures", "report_html", "sections"]

_ids = itertools.count()


def figures(report: EdaReport) -> dict[str, Figure]:
    """Matplotlib figures of a report, keyed by tab: lengths, labels, words, pii."""
    import numpy as np
    from matplotlib.figure import Figure

    out: dict[str, Figure] = {}
    detail = report._detail
    kinds = [k for k in ("chars", "words", "tokens") if k in report.lengths]
    if detail is not None and kinds:
        fig = Figure(figsize=(4 * len(kinds), 3), layout="constrained")
        axes = fig.subplots(1, len(kinds), squeeze=False)[0]
        valid = detail.table["chars"].to_numpy() >= 0
        for ax, kind in zip(axes, kinds, strict=True):
            values = detail.table[kind].to_numpy()[valid]
            values = values[values >= 0]
            ax.hist(values, bins=50, color="#4C72B0")
            stats = report.lengths[kind]
            if "upper_fence" in stats:
                ax.axvline(stats["upper_fence"], color="#C44E52", ls="--", label="IQR fence")
            if kind == "tokens" and report.tokens and report.tokens.get("max_tokens"):
                ax.axvline(report.tokens["max_tokens"], color="black", label="max tokens")
            ax.set_title(f"length in {kind}")
            ax.set_xlabel(kind)
            ax.set_ylabel("texts")
            ax.legend(fontsize="small")
        out["lengths"] = fig
    if report.labels:
        counts = report.labels["counts"]
        fig = Figure(figsize=(5, 3), layout="constrained")
        ax = fig.subplots()
        names = list(counts)[:30]
        ax.bar(range(len(names)), [counts[k] for k in names], color="#55A868")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_title(f"labels (imbalance {report.labels['imbalance_ratio']:.2f})")
        ax.set_ylabel("texts")
        out["labels"] = fig
    top = report.top_ngrams.get("1") or []
    if top:
        fig = Figure(figsize=(5, max(2.5, 0.22 * len(top))), layout="constrained")
        ax = fig.subplots()
        words = [w for w, _ in top][::-1]
        ax.barh(words, [c for _, c in top][::-1], color="#8172B2")
        ax.set_title("top words (stop words removed)")
        ax.set_xlabel("count")
        out["words"] = fig
    if report.pii:
        fig = Figure(figsize=(5, 2.5), layout="constrained")
        ax = fig.subplots()
        kinds_p = list(report.pii)
        ax.bar(kinds_p, [report.pii[k]["rows"] for k in kinds_p], color="#C44E52")
        ax.set_title("texts with PII")
        ax.set_ylabel("texts")
        out["pii"] = fig
    if detail is not None and report.duplicates:
        fig = Figure(figsize=(5, 2.5), layout="constrained")
        ax = fig.subplots()
        d = report.duplicates
        parts = {
            "distinct": d["distinct_texts"] - d.get("near_duplicate_texts", 0),
            "near dup": d.get("near_duplicate_texts", 0),
            "exact dup": d["exact_duplicate_rows"],
        }
        ax.bar(list(parts), list(parts.values()), color=["#4C72B0", "#DD8452", "#C44E52"])
        ax.set_title("duplicates")
        ax.set_ylabel("texts")
        out["duplicates"] = fig
    _ = np
    return out


def figure_png(fig: Figure) -> str:
    """A figure as an ``<img>`` tag with the PNG inlined (base64)."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}"/>'


def _table(rows: list[tuple[str, Any]], header: tuple[str, str] = ("statistic", "value")) -> str:
    cells = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows
    )
    return (
        f"<table><thead><tr><th>{html.escape(header[0])}</th><th>{html.escape(header[1])}</th>"
        f"</tr></thead><tbody>{cells}</tbody></table>"
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _frame_html(frame: Any, rows: int = 20) -> str:
    if frame is None or len(frame) == 0:
        return "<p>None found.</p>"
    shown = frame.head(rows).copy()
    if "text" in shown:
        shown["text"] = shown["text"].map(lambda t: t if len(str(t)) <= 120 else str(t)[:119] + "…")
    return str(shown.to_html(index=False, notebook=True))


def sections(report: EdaReport, *, with_figures: bool = True) -> list[tuple[str, str]]:
    """The report's tabs as ``(title, html)`` pairs (shared by the HTML view and the widget)."""
    figs = figures(report) if with_figures else {}
    img = {k: figure_png(f) for k, f in figs.items()}
    out: list[tuple[str, str]] = []
    q = report.quality
    overview = [("rows", report.rows), ("content hash", report.content_hash)]
    overview += [(k, v) for k, v in q.items() if k != "rows"]  # rows are the first line
    if report.vocabulary:
        overview += list(report.vocabulary.items())
    if report.run_id:
        overview.append(("MLflow run", report.run_id))
    overview.append(("seconds", round(report.elapsed_s, 2)))
    out.append(("Overview", _table(overview)))
    length_html = ""
    for kind, stats in report.lengths.items():
        length_html += f"<h4>length in {kind}</h4>" + _table(list(stats.items()))
    if report.tokens:
        length_html += "<h4>tokens</h4>" + _table(list(report.tokens.items()))
    out.append(("Lengths", img.get("lengths", "") + length_html))
    dup = _table(list(report.duplicates.items())) + img.get("duplicates", "")
    if report._detail is not None:
        dup += "<h4>exact duplicates</h4>" + _frame_html(report.exact_duplicates(), 10)
        dup += "<h4>near-duplicate groups</h4>" + _frame_html(report.near_duplicates(), 20)
    out.append(("Duplicates", dup))
    if report.labels:
        lab = report.labels
        body = img.get("labels", "") + _table(
            [*lab["counts"].items(), ("imbalance ratio", lab["imbalance_ratio"])],
            ("label", "texts"),
        )
        for name, stats in lab["per_label_lengths"].items():
            body += f"<h4>{html.escape(name)}</h4>" + _table(list(stats.items()))
        out.append(("Labels", body))
    if report.top_ngrams:
        body = img.get("words", "")
        for n, top in report.top_ngrams.items():
            body += f"<h4>top {n}-grams</h4>" + _table(list(top), ("n-gram", "count"))
        if report.labels and report.labels.get("top_ngrams"):
            for name, per in report.labels["top_ngrams"].items():
                for n, top in per.items():
                    body += f"<h4>{html.escape(name)}: top {n}-grams</h4>" + _table(
                        list(top[:10]), ("n-gram", "count")
                    )
        out.append(("Words", body))
    if report.pii is not None:
        body = img.get("pii", "") + _table(
            [(k, f"{v['matches']} matches in {v['rows']} texts") for k, v in report.pii.items()],
            ("kind", "found"),
        )
        if report._detail is not None:
            body += "<h4>examples</h4>" + _frame_html(report.pii_rows(), 10)
        out.append(("PII", body))
    if report.contamination:
        c = report.contamination
        body = _table([(k, v) for k, v in c.items() if k != "rows"])
        if report._detail is not None:
            body += _frame_html(report.contaminated(), 20)
        out.append(("Contamination", body))
    return out


_CSS = """
<style>
.llmops-eda{font-family:sans-serif}
.llmops-eda>input{display:none}
.llmops-eda>label{display:inline-block;padding:4px 12px;border:1px solid #ccc;
 border-bottom:none;cursor:pointer;background:#f4f4f4;margin-right:2px}
.llmops-eda>input:checked+label{background:#fff;font-weight:bold}
.llmops-eda>.tab{display:none;border:1px solid #ccc;padding:8px}
.llmops-eda table{border-collapse:collapse;margin:4px 0}
.llmops-eda td,.llmops-eda th{border:1px solid #ddd;padding:2px 6px;text-align:left}
</style>"""


def report_html(report: EdaReport) -> str:
    """The whole report as one HTML block with CSS-only tabs (no JavaScript needed)."""
    uid = f"llmops-eda-{next(_ids)}"
    parts = sections(report)
    radios = []
    rules = []
    tabs = []
    for i, (title, body) in enumerate(parts):
        checked = " checked" if i == 0 else ""
        radios.append(
            f'<input type="radio" name="{uid}" id="{uid}-{i}"{checked}/>'
            f'<label for="{uid}-{i}">{html.escape(title)}</label>'
        )
        rules.append(f"#{uid}-{i}:checked~#{uid}-tab-{i}{{display:block}}")
        tabs.append(f'<div class="tab" id="{uid}-tab-{i}">{body}</div>')
    style = _CSS + f"<style>{''.join(rules)}</style>"
    return (
        f"{style}<div class='llmops-eda'><p><b>{html.escape(report._summary())}</b></p>"
        + "".join(radios)
        + "".join(tabs)
        + "</div>"
    )
