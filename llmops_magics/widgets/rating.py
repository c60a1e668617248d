"""The rating panel: one item at a time, a button per rating, comment, skip and back.

State lives in a :class:`~llmops_magics.feedback.RatingSession` (which stores each click in
MLflow at once); the panel only shows it. Every button calls a public method, so the panel is
driven the same way by a person, a test or a script.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import Int, Unicode

if TYPE_CHECKING:
    from llmops_magics.feedback import Rating, RatingSession

__all__ = ["RatingPanel"]

_BOX = (
    "white-space:pre-wrap;border:1px solid #ccc;border-radius:4px;padding:6px;"
    "max-height:18em;overflow:auto"
)


def _choices(session: RatingSession) -> list[tuple[str, Any]]:
    if session.mode == "stars":
        return [("★" * n, n) for n in range(1, 6)]
    if session.mode == "thumbs":
        return [("👍 up", "up"), ("👎 down", "down")]
    if session.mode == "pairwise":
        return [
            ("A is better", "a"),
            ("B is better", "b"),
            ("tie", "tie"),
            ("both bad", "both_bad"),
        ]
    return [(label, label) for label in session.labels]


class RatingPanel(w.VBox):
    """An ipywidgets panel over a rating session.

    Methods ``rate(value)``, ``comment(text)``, ``next()`` and ``back()`` do what the buttons
    do; ``position`` and ``n_rated`` follow the session.
    """

    position = Int(0, help="position of the shown item in showing order")
    n_rated = Int(0, help="items this rater has rated")
    progress = Unicode("", help='e.g. "12 of 40 rated"')
    last_error = Unicode("", help="the error of the last click, shown in the panel")

    def __init__(self, session: RatingSession, **kwargs: Any) -> None:
        self.session = session
        self._header = w.HTML()
        self._prompt = w.HTML()
        n_out = 2 if session.mode == "pairwise" else 1
        self._output_views = [
            w.HTML(layout=w.Layout(flex="1 1 0", margin="0 4px")) for _ in range(n_out)
        ]
        self._outputs = w.HBox(self._output_views)
        self._buttons = [
            w.Button(description=text, tooltip=f"rate {value!r}")
            for text, value in _choices(session)
        ]
        for button, (_, value) in zip(self._buttons, _choices(session), strict=True):
            button.on_click(self._guard(self._rater_for(value)))
        self._comment = w.Textarea(placeholder="optional comment", layout=w.Layout(width="100%"))
        # sized to its label: the default button width cuts it to "save comm…"
        self._save_comment = w.Button(
            description="save comment",
            icon="comment",
            layout=w.Layout(width="auto", flex="0 0 auto"),
        )
        self._save_comment.on_click(self._guard(lambda _b: self.comment(self._comment.value)))
        self._back = w.Button(description="back", icon="arrow-left")
        self._skip = w.Button(description="skip", icon="arrow-right")
        self._back.on_click(self._guard(lambda _b: self.back()))
        self._skip.on_click(self._guard(lambda _b: self.next()))
        self._errors = w.Output()
        super().__init__(
            [
                self._header,
                self._prompt,
                self._outputs,
                w.HBox(self._buttons),
                w.HBox([self._comment, self._save_comment]),
                w.HBox([self._back, self._skip]),
                self._errors,
            ],
            **kwargs,
        )
        self._refresh()

    def _rater_for(self, value: Any) -> Callable[[Any], Rating]:
        return lambda _button: self.rate(value)

    # --- the buttons' methods --------------------------------------------------------------

    def rate(self, value: Any, comment: str | None = None) -> Rating:
        """Rate the shown item (stored at once) and move to the next unrated one.

        ``value``: 1-5 (stars), ``"up"``/``"down"`` (thumbs), ``"a"``/``"b"``/``"tie"``/
        ``"both_bad"`` (pairwise, as shown) or a label. The comment box's text goes with it.
        """
        text = comment if comment is not None else (self._comment.value or None)
        rating = self.session.rate(value, comment=text)
        self._comment.value = ""
        self._refresh()
        return rating

    def comment(self, text: str) -> None:
        """Comment on the shown item (stored at once when it is rated already)."""
        self.session.comment(text)
        self._comment.value = "" if self.session.rating_of() else text
        self._refresh()

    def next(self) -> int:
        """Skip to the next item."""
        self.session.next()
        self._refresh()
        return self.position

    def back(self) -> int:
        """Go back one item."""
        self.session.back()
        self._refresh()
        return self.position

    # --- view ------------------------------------------------------------------------------

    def _guard(self, action: Callable[[Any], Any]) -> Callable[[Any], None]:
        # Errors of a click show in the panel instead of vanishing in the kernel log.
        def run(button: Any) -> None:
            if self._errors.outputs:
                self._errors.clear_output()
            self.last_error = ""
            try:
                action(button)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                with self._errors:
                    print(self.last_error)

        return run

    def _refresh(self) -> None:
        s = self.session
        self.position, self.n_rated, self.progress = s.position, s.n_rated, s.progress
        item = s.current
        self._prompt.value = f"<b>Prompt</b><div style='{_BOX}'>{html.escape(item.prompt)}</div>"
        shown = s.shown_outputs()
        names = ["A", "B"] if len(shown) == 2 else ["Output"]
        for view, name, text in zip(self._output_views, names, shown, strict=True):
            view.value = f"<b>{name}</b><div style='{_BOX}'>{html.escape(text)}</div>"
        current = s.rating_of()
        value = current.value if current else None
        if current is not None and s.current_index in s.swapped and value in ("a", "b"):
            value = "b" if value == "a" else "a"
        for button, (_, v) in zip(self._buttons, _choices(s), strict=True):
            button.button_style = "success" if v == value else ""
        self._back.disabled = s.position == 0
        self._skip.disabled = s.position == len(s) - 1
        # the header last: once it names the new count, the item below it is the new one too
        done = " · all rated, thank you" if s.done else ""
        self._header.value = (
            f"<b>{html.escape(s.progress)}</b>{done} · item {s.position + 1} of {len(s)} · "
            f"rater <code>{html.escape(s.rater)}</code> · {s.mode}"
            + (f" · model <code>{html.escape(item.model)}</code>" if item.model else "")
        )

    def summary_html(self) -> str:
        """A static summary: progress and this rater's ratings (shown where widgets are not)."""
        s = self.session
        rows = "".join(
            f"<tr><td>{i}</td><td>{html.escape(_clip(s.items[i].prompt))}</td>"
            f"<td>{html.escape(str(r.value))}</td><td>{html.escape(r.comment)}</td></tr>"
            for i, r in sorted(s.ratings.items())
        )
        return (
            f"<div><p><b>Rating panel ({html.escape(s.mode)}) · rater "
            f"{html.escape(s.rater)} · {html.escape(s.progress)}</b></p>"
            "<table><tr><th>item</th><th>prompt</th><th>rating</th><th>comment</th></tr>"
            f"{rows}</table><p>Open the notebook in Jupyter to rate; ratings are stored in the "
            "workspace as they are made.</p></div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # With a widget front end the view wins; papermill, nbconvert and plain consoles keep
        # the static HTML and text. Nothing here waits for input.
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.summary_html()
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        s = self.session
        return f"RatingPanel({s.mode}, rater={s.rater!r}, {s.progress}, item {s.position + 1})"


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
