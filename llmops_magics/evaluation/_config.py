"""``EvalConfig``: what an evaluation scores and how, checked on creation.

Its fields make the flags of ``%llmops eval`` (:func:`llmops_magics.config.add_arguments`), so an
option is declared once. Decoding settings are not here: they are a
:class:`~llmops_magics.models.GenerationParams`, passed whole. This module stays light: the
magics import it when they build their parser.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmops_magics.config import Config, option
from llmops_magics.evaluation import metrics as _metrics
from llmops_magics.evaluation._errors import EvalConfigError, EvaluationError, UnknownMetricError
from llmops_magics.evaluation._perplexity import PRECISIONS
from llmops_magics.executor import check_executor, executor_option

__all__ = ["DEFAULT_TEXT_METRICS", "MAX_BOOTSTRAP", "EvalConfig"]

#: the metrics of text references when ``metrics`` is not given (plus perplexity with a model)
DEFAULT_TEXT_METRICS = ("bleu", "rouge", "chrf", "f1", "exact_match")
#: more replicates than this do not move a 95% interval's digits, only the run time
MAX_BOOTSTRAP = 100_000


def _names(text: str) -> list[str]:
    """``"bleu, rouge"`` → ``["bleu", "rouge"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass
class EvalConfig(Config):
    """What :func:`~llmops_magics.evaluation.evaluate` scores and how.

    Examples
    --------
    >>> EvalConfig(models=["smollm2"], metrics="bleu,rouge", bootstrap=200).metrics
    ['bleu', 'rouge']
    >>> EvalConfig(prediction_col="pred", bootstrap=1)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    EvalConfigError: bootstrap=1 is out of range: it must be 0 (no intervals) or 2 or more.
    """

    models: list[str] = option(
        default_factory=list,
        help="model to evaluate (repeat for several): it generates the predictions (without "
        "--prediction-col) and scores perplexity (default: the session's default_model)",
        flag="--model",
        short="-m",
        metavar="SPEC",
        repeat=True,
    )
    prompt_col: str | None = option(
        None, help="prompts (default: prompt/question/input/text)", metavar="C"
    )
    reference_col: str | None = option(
        None, help="references (default: reference/answer/target/label/output)", metavar="C"
    )
    prediction_col: str | None = option(
        None, help="score these predictions, no generation", metavar="C"
    )
    metrics: list[str] | None = option(
        None,
        help="e.g. perplexity,bleu,rouge,chrf,f1,exact_match,macro_f1 (default: text metrics, "
        "plus perplexity with --model; macro_f1 for label columns)",
        metavar="M,M",
        parse=_names,
        example=("bleu,rouge", ["bleu", "rouge"]),
    )
    baseline: str | None = option(
        None, help="a model spec or a past eval run id", metavar="SPEC|RUN"
    )
    bootstrap: int = option(
        1000,
        help="bootstrap replicates for the 95%% intervals (0 = off)",
        minimum=0,
        maximum=MAX_BOOTSTRAP,
        hint="Use 0 (no intervals) or 2 or more, e.g. 1000.",
    )
    seed: int = option(0, help="seed of the bootstrap and of sampling", minimum=0)
    counterfactual: str | dict[str, str] | list[list[str]] | None = option(
        None,
        help='bias probe: swap terms, e.g. "he:she,his:her", or a file of a:b lines',
        metavar="PAIRS|FILE",
        parse=str,
        example=("he:she,his:her", "he:she,his:her"),
    )
    precision: str = option(
        "auto",
        help="perplexity precision: auto (bf16 where the hardware has it), fp32 or bf16",
        choices=PRECISIONS,
        hint="Use auto (bf16 where the hardware has it), or fp32 for machine-independent numbers.",
    )
    prompt_version: str | None = option(
        None, help="prompt version, for lineage (default: the data's attrs)", metavar="V"
    )
    track: bool = option(
        True, help="log one MLflow run per model (and the generations with their traces)"
    )
    executor: str = executor_option("generation and model metrics")

    error_class = EvalConfigError

    # -- canonical forms -------------------------------------------------------------------------

    def canonicalize(self) -> None:
        if isinstance(self.models, str):
            self.models = [self.models]
        elif isinstance(self.models, Iterable):
            self.models = list(self.models)
        if isinstance(self.metrics, str):
            self.metrics = _names(self.metrics)
        elif isinstance(self.metrics, Iterable):
            self.metrics = [n for item in self.metrics for n in _names(str(item))]
        if self.counterfactual is not None:
            self.counterfactual = self._pairs()

    def _pairs(self) -> list[list[str]]:
        """The counterfactual term pairs, read once (a file's content, not its name, is kept)."""
        from llmops_magics.evaluation._bias import parse_pairs

        try:
            return [[a, b] for a, b in parse_pairs(self.counterfactual)]
        except EvaluationError as exc:
            self.fail("counterfactual", exc.message, exc.hint)

    # -- rules between fields --------------------------------------------------------------------

    def check(self) -> None:
        check_executor(self)
        self.need("bootstrap", self.bootstrap != 1, "0 (no intervals) or 2 or more", "e.g. 1000")
        for spec in self.models:
            self.need("models", isinstance(spec, str) and bool(spec.strip()), "model specs")
        for name in ("prompt_col", "reference_col", "prediction_col", "baseline"):
            value = getattr(self, name)
            self.need(name, value is None or bool(value.strip()), "a non-empty name, or None")
        if self.prediction_col is not None and self.prediction_col == self.reference_col:
            self.fail(
                "prediction_col",
                f"The prediction column {self.prediction_col!r} is the reference column: every "
                "example would match itself.",
                "Name the column that holds the predictions with --prediction-col.",
            )
        if self.prediction_col is not None and len(self.models) > 1:
            self.fail(
                "models",
                "With a prediction column, give at most one --model (used for perplexity).",
                "To compare models, leave out --prediction-col and let each one generate.",
            )
        if self.prediction_col is None and not self.models:
            self.fail(
                "models",
                "Nothing to score: give --model SPEC to generate predictions, or "
                "--prediction-col COL with predictions already in the data.",
            )
        if self.metrics is not None and "perplexity" in self._expand() and not self.models:
            self.fail(
                "metrics",
                "perplexity needs a model: it is computed from the model on the reference texts.",
                "Add --model SPEC, or drop perplexity from --metrics.",
            )
        if self.counterfactual is not None and self.prediction_col is not None:
            self.fail(
                "counterfactual",
                "The bias probe compares the model's own answers on original and swapped inputs.",
                "Leave out --prediction-col so that the model generates both sets.",
            )

    def _expand(self) -> list[str]:
        from llmops_magics._registry import UnknownNameError

        try:
            return _metrics.expand(self.metrics or "")
        except UnknownNameError as exc:
            raise UnknownMetricError("metrics", exc.message, hint=exc.hint) from None

    # -- derived values --------------------------------------------------------------------------

    def metric_names(self, *, labels: bool = False) -> list[str]:
        """The metrics to compute: ``metrics`` with groups expanded, or the defaults (macro-F1
        for ``labels``, else the text metrics plus perplexity when there is a model)."""
        if self.metrics is not None:
            return self._expand()
        if labels:
            return ["macro_f1"]
        defaults = list(DEFAULT_TEXT_METRICS) + (["perplexity"] if self.models else [])
        return _metrics.expand(defaults)

    def swapper(self) -> Any:
        """The bias probe's :class:`~llmops_magics.evaluation.Swapper` (None without pairs)."""
        from llmops_magics.evaluation._bias import Swapper, parse_pairs

        if self.counterfactual is None:
            return None
        return Swapper(parse_pairs(self.counterfactual))
