"""The review panel of a registered version: the evidence (evals with intervals, the delta
against the alias holder, the feedback summary, the bias probe, the card draft), each gate as
pass / fail / missing with a link to its run, and approve / reject / request-changes buttons,
each with a comment. Every button has a public method; the panel holds no business logic."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from llmops_magics.widgets._snapshot import SnapshotMixin

if TYPE_CHECKING:
    from llmops_magics.governance import Review, SignOff

__all__ = ["ReviewPanel"]

_COLOURS = {"pass": "#2b8a3e", "fail": "#c92a2a", "missing": "#e67700"}


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))


def _link(url: str, text: str) -> str:
    if not url:
        return html.escape(text)
    return f'<a href="{html.escape(url)}" target="_blank">{html.escape(text)}</a>'


def gates_html(result: Review) -> str:
    """The gates as a table: status (coloured), gate, what it saw, and the run's link."""
    if result.gates is None:
        return "<p><b>Gates</b>: " + html.escape("; ".join(result.notes)) + "</p>"
    rows = []
    for r in result.gates:
        colour = _COLOURS.get(r.status, "#495057")
        rows.append(
            f"<tr><td style='color:{colour};font-weight:bold'>{r.status}</td>"
            f"<td>{html.escape(r.gate)}</td><td>{html.escape(r.detail)}</td>"
            f"<td>{_link(r.link, r.run_id[:8]) if r.run_id else ''}</td></tr>"
        )
    head = "<tr><th>status</th><th>gate</th><th>evidence</th><th>run</th></tr>"
    verdict = "all gates pass" if result.gates.passed else "blocked"
    return (
        f"<p><b>Gates</b> for @{html.escape(result.gates.alias)}: {verdict} "
        f"(policy {result.gates.policy_hash})</p><table>{head}{''.join(rows)}</table>"
    )


def _interval(low: Any, high: Any) -> str:
    if _num(low) == _num(high) == "-":
        return ""  # logged without bootstrap intervals
    return f"[{_num(low)}, {_num(high)}]"


def _run_rows(group: Any) -> str:
    """One eval run's rows of the evidence table: its link and baseline once, then a row per
    metric."""
    records = group.to_dict("records")
    first, span = records[0], len(records)
    lead = (
        f"<td rowspan='{span}'>{_link(str(first['link']), str(first['run_id'])[:8])}</td>"
        f"<td rowspan='{span}'>{html.escape(str(first['baseline'] or '-'))}</td>"
    )
    rows = [
        f"<tr>{lead if i == 0 else ''}<td>{html.escape(str(r['metric']))}</td>"
        f"<td>{_num(r['score'])}</td><td>{_interval(r['ci_low'], r['ci_high'])}</td>"
        f"<td>{_num(r['delta'])}</td><td>{_num(r['p_value'])}</td>"
        f"<td>{_num(r['bias_gap'])}</td></tr>"
        for i, r in enumerate(records)
    ]
    return f"<tbody class='llmops-eval-run'>{''.join(rows)}</tbody>"


def evidence_html(result: Review) -> str:
    """Evals with intervals and deltas, the feedback summary and the notes."""
    frame = result.evals_frame()
    runs = len(result.evidence.evals)  # every one is in the table, with or without intervals
    parts = [f"<p><b>Evidence</b>: {runs} eval run(s) (hash {result.evidence.digest()})</p>"]
    if frame.empty:
        parts.append("<p>No eval run of this version yet.</p>")
    else:
        head = (
            "<tr><th>run</th><th>baseline</th><th>metric</th><th>score</th>"
            "<th>95% interval</th><th>delta</th><th>p</th><th>bias gap</th></tr>"
        )
        groups = frame.groupby("run_id", sort=False)  # one tbody per run, in the runs' order
        parts.append(f"<table>{head}{''.join(_run_rows(g) for _, g in groups)}</table>")
    summary = ", ".join(f"{k}: {v}" for k, v in result.feedback_summary().items())
    parts.append(f"<p><b>Feedback</b>: {html.escape(summary)}</p>")
    for note in result.notes:
        parts.append(f"<p><i>{html.escape(note)}</i></p>")
    return "".join(parts)


def signoffs_html(result: Review) -> str:
    """The sign-offs so far, oldest first."""
    if not result.signoffs:
        return "<p><b>Sign-offs</b>: none yet.</p>"
    items = "".join(
        f"<li>{html.escape(s.time)} <b>{html.escape(s.user)}</b>: "
        f"{html.escape(s.decision.replace('_', ' '))}"
        f"{' — ' + html.escape(s.comment) if s.comment else ''} "
        f"<small>(evidence {html.escape(s.evidence)})</small></li>"
        for s in result.signoffs
    )
    return f"<p><b>Sign-offs</b></p><ul>{items}</ul>"


class ReviewPanel(SnapshotMixin, widgets.VBox):
    """A :class:`~llmops_magics.governance.Review` with buttons to sign it off.

    ``comment`` and ``user`` are traitlets (the text boxes); :meth:`approve`, :meth:`reject`
    and :meth:`request_changes` are what the buttons do. ``last`` is the last decision made
    here; errors of a click (approving one's own version, a rejection without a comment) show
    in the panel's output area and in ``last_error``.
    """

    comment = traitlets.Unicode("").tag(sync=True)
    user = traitlets.Unicode("").tag(sync=True)
    last = traitlets.Unicode("").tag(sync=True)
    last_error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, result: Review, **kwargs: Any) -> None:
        self.result = result
        self.header = widgets.HTML()
        self.gates = widgets.HTML()
        self.evidence = widgets.HTML()
        card = result.card or "(no card draft)"
        self.card = widgets.HTML(
            "<details><summary><b>Card draft</b>"
            + (
                f" (needs a human: {html.escape(', '.join(result.needs_human))})"
                if result.needs_human
                else ""
            )
            + f"</summary><pre style='white-space:pre-wrap'>{html.escape(card)}</pre></details>"
        )
        self.history = widgets.HTML()
        self.comment_box = widgets.Textarea(
            placeholder="comment (needed to reject or request changes)"
        )
        self.user_box = widgets.Text(placeholder="your name (default: $LLMOPS_USER or login)")
        widgets.link((self.comment_box, "value"), (self, "comment"))
        widgets.link((self.user_box, "value"), (self, "user"))
        self.buttons = {
            "approve": widgets.Button(description="approve", button_style="success"),
            "reject": widgets.Button(description="reject", button_style="danger"),
            "request_changes": widgets.Button(
                description="request changes", button_style="warning"
            ),
        }
        self.buttons["approve"].on_click(lambda _b: self._safe(self.approve))
        self.buttons["reject"].on_click(lambda _b: self._safe(self.reject))
        self.buttons["request_changes"].on_click(lambda _b: self._safe(self.request_changes))
        self.status = widgets.HTML()
        self.errors = widgets.Output()
        controls = widgets.HBox(list(self.buttons.values()))
        super().__init__(
            children=[
                self.header,
                self.gates,
                self.evidence,
                self.card,
                self.history,
                self.user_box,
                self.comment_box,
                controls,
                self.status,
                self.errors,
            ],
            **kwargs,
        )
        self._draw()

    def __repr__(self) -> str:
        return repr(self.result)

    def _draw(self) -> None:
        self.header.value = f"<h4>{html.escape(self.result._summary())}</h4>"
        self.gates.value = gates_html(self.result)
        self.evidence.value = evidence_html(self.result)
        self.history.value = signoffs_html(self.result)

    def _safe(self, action: Any) -> None:
        if self.errors.outputs:
            self.errors.clear_output()
        self.last_error = ""
        try:
            action()
        except Exception as exc:  # shown in the panel, never lost in a callback
            self.last_error = f"{type(exc).__name__}: {exc}"
            with self.errors:
                print(self.last_error)

    def _sign(self, decision: str, comment: str | None, user: str | None) -> SignOff:
        text = self.comment if comment is None else comment
        who = (self.user if user is None else user) or None
        made: SignOff = getattr(self.result, decision)(text, user=who)
        self.last = decision
        self.comment = ""
        self.status.value = (
            f"<p>{html.escape(made.user)}: {decision.replace('_', ' ')} recorded "
            f"(evidence {html.escape(made.evidence)}).</p>"
        )
        self._draw()
        return made

    def approve(self, comment: str | None = None, *, user: str | None = None) -> SignOff:
        """Approve (the approve button): the comment box's text unless ``comment`` is given."""
        return self._sign("approve", comment, user)

    def reject(self, comment: str | None = None, *, user: str | None = None) -> SignOff:
        """Reject (the reject button), with a comment."""
        return self._sign("reject", comment, user)

    def request_changes(self, comment: str | None = None, *, user: str | None = None) -> SignOff:
        """Request changes (the request-changes button), with a comment."""
        return self._sign("request_changes", comment, user)
