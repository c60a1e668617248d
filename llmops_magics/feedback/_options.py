"""The option sets of the feedback stage, as validated configs that generate their flags.

:class:`RatingOptions` (``%llmops rate``), :class:`FeedbackFilter` (``%llmops feedback``),
:class:`ExportOptions` (``--export``), :class:`MonitorOptions` and :class:`Thresholds`
(``%llmops monitor``). The functions take a whole config, or its fields as keyword arguments
(:func:`merge`). This module stays light: the magics import it to build their parsers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from llmops_magics.config import Config, option
from llmops_magics.feedback._errors import FeedbackConfigError, FeedbackError, RatingOptionsError
from llmops_magics.feedback._values import MODES, check_rater, parse_since

__all__ = [
    "ExportOptions",
    "FeedbackFilter",
    "MonitorOptions",
    "RatingOptions",
    "Thresholds",
    "merge",
]

C = TypeVar("C", bound=Config)


def _names(text: str) -> list[str]:
    """``"a,b, c"`` as ``["a", "b", "c"]`` (what ``--labels`` and ``--outputs`` take)."""
    return [x.strip() for x in text.split(",") if x.strip()]


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return _names(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _since_text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def merge(cls: type[C], options: C | None, overrides: Mapping[str, Any]) -> C:
    """``options`` (default: the defaults of ``cls``) with the keyword arguments given.

    Keyword arguments that are None count as not given; an unknown one is refused with the list
    of the known fields.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if options is None:
        return cls.from_dict(given)
    if not isinstance(options, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(options).__name__}")
    if not given:
        return options
    current = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}  # type: ignore[arg-type]
    return cls.from_dict(current | given)


def _check_rater(rater: str | None) -> None:
    if rater is not None:
        check_rater(rater)  # RaterNameError: a ConfigError whose field is "rater"


def _check_since(config: Config, since: str | None) -> None:
    try:
        parse_since(since)
    except FeedbackError as exc:
        config.fail("since", exc.message, exc.hint)


@dataclass(frozen=True)
class RatingOptions(Config):
    """How a rater rates a source: the mode, who rates, and how to read the source."""

    mode: str = option("stars", help="kind of rating", choices=MODES)
    rater: str | None = option(None, help="who rates (default: the login name)", metavar="NAME")
    labels: list[str] = option(
        default_factory=list,
        help="with --mode label: the labels to choose",
        metavar="A,B,C",
        parse=_names,
        example=("good,bad", ["good", "bad"]),
    )
    outputs: list[str] | None = option(
        None,
        help="pairwise: the two output columns (default: the two named output*)",
        metavar="COL_A,COL_B",
        parse=_names,
        example=("output_base,output_tuned", ["output_base", "output_tuned"]),
    )
    shuffle: bool = option(False, help="show items (and A/B) in random order")
    prompt_col: str | None = option(None, help="the prompt column (default: prompt)", metavar="COL")
    output_col: str | None = option(None, help="the output column (default: output)", metavar="COL")
    model: str | None = option(None, help="the model version that made the outputs", short="-m")

    error_class = RatingOptionsError

    def canonicalize(self) -> None:
        """Split comma-separated ``labels`` and ``outputs`` ("good,bad,unsafe")."""
        object.__setattr__(self, "labels", _as_list(self.labels) or [])
        object.__setattr__(self, "outputs", _as_list(self.outputs))

    def check(self) -> None:
        """A valid rater; labels with label mode only (two at least); outputs with pairwise."""
        _check_rater(self.rater)
        if self.mode == "label":
            if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
                self.fail(
                    "labels",
                    f"Label mode needs at least two distinct labels, got {self.labels}.",
                    hint="Give them with --labels good,bad,unsafe.",
                )
        elif self.labels:
            self.fail("labels", "--labels goes with --mode label.", hint="Add --mode label.")
        if self.outputs is not None and self.mode != "pairwise":
            self.fail(
                "outputs", "--outputs goes with --mode pairwise.", hint="Add --mode pairwise."
            )


@dataclass(frozen=True)
class FeedbackFilter(Config):
    """Which ratings of the workspace to read (:func:`~llmops_magics.feedback.load_feedback`)."""

    model: str | None = option(None, help="only ratings of this model version", short="-m")
    since: str | None = option(None, help="only ratings from this date on (UTC)", metavar="DATE")
    mode: str | None = option(None, help="only this kind of rating", choices=MODES)
    rater: str | None = option(None, help="only this rater's ratings", metavar="NAME")
    history: bool = option(False, help="keep ratings that were replaced")

    error_class = FeedbackConfigError

    def canonicalize(self) -> None:
        """A date or time given for ``since`` becomes its ISO text."""
        object.__setattr__(self, "since", _since_text(self.since))

    def check(self) -> None:
        """A valid rater name and a readable date."""
        _check_rater(self.rater)
        _check_since(self, self.since)


@dataclass(frozen=True)
class ExportOptions(Config):
    """Which ratings make a training example (:func:`~llmops_magics.feedback.export`)."""

    min_stars: float = option(
        4.0, help="sft: mean stars to count as good", minimum=1, maximum=5, metavar="N"
    )
    min_margin: float = option(
        1.0,
        help="dpo from stars: least difference in mean stars",
        minimum=0,
        exclusive_minimum=True,
        maximum=4,
        metavar="D",
    )

    error_class = FeedbackConfigError


@dataclass(frozen=True)
class Thresholds(Config):
    """When a model version needs attention (``watch`` at the first, ``attention`` past)."""

    psi_watch: float = option(0.1, help="PSI above this: inputs shift", minimum=0, cli=False)
    psi_alert: float = option(0.25, help="PSI above this: inputs drifted", minimum=0, cli=False)
    thumbs_down_alert: float = option(
        0.3,
        help="share of thumbs down above this: attention",
        minimum=0,
        maximum=1,
        hint="It is a share of the thumbs ratings, between 0 and 1.",
        cli=False,
    )
    mean_stars_alert: float = option(
        3.0, help="mean stars below this: attention", minimum=0, maximum=5, cli=False
    )
    latency_ratio_alert: float = option(
        1.5,
        help="latest day's median latency over the first day's, above this: watch",
        minimum=0,
        exclusive_minimum=True,
        cli=False,
    )
    min_ratings: int = option(5, help="fewer ratings: no rating verdict", minimum=1, cli=False)
    min_inputs: int = option(20, help="fewer inputs: no drift verdict", minimum=1, cli=False)

    error_class = FeedbackConfigError

    def check(self) -> None:
        """The watch level comes before the alert level."""
        if self.psi_watch > self.psi_alert:
            self.fail(
                "psi_watch",
                f"Thresholds need 0 <= psi_watch <= psi_alert, got {self.psi_watch:g} > "
                f"{self.psi_alert:g}.",
            )


@dataclass(frozen=True)
class MonitorOptions(Config):
    """What the monitor reads and when it flags (:func:`~llmops_magics.feedback.monitor`)."""

    model: str | None = option(None, help="one model version (default: all)", short="-m")
    since: str | None = option(
        None, help="only ratings and traces from this date on", metavar="DATE"
    )
    column: str | None = option(None, help="the training data's input column", metavar="COL")
    max_traces: int = option(
        5000, help="read at most this many of the newest traces", minimum=1, cli=False
    )
    thresholds: Thresholds = option(
        default_factory=Thresholds, help="when a model version is flagged", cli=False
    )

    error_class = FeedbackConfigError

    def canonicalize(self) -> None:
        """Thresholds given as a mapping (from JSON) become :class:`Thresholds`."""
        object.__setattr__(self, "since", _since_text(self.since))
        if isinstance(self.thresholds, Mapping):
            object.__setattr__(self, "thresholds", Thresholds.from_dict(self.thresholds))

    def check(self) -> None:
        """A readable date."""
        _check_since(self, self.since)
