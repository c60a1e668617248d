"""The metric registry: built-in metrics and the ones users add with a decorator.

A metric turns predictions and references into a table of per-example *statistics* (one row per
example) and turns the column sums of that table into the corpus score. This one contract covers
corpus-level metrics (BLEU and chrF sum n-gram counts, as sacrebleu does; macro-F1 sums confusion
counts; perplexity sums token losses) and averaged ones (ROUGE, F1, exact match). Bootstrap
intervals and paired tests resample the rows, so every metric gets them for free.

>>> from llmops_magics.evaluation import metrics
>>> @metrics.register("shorter")
... def shorter(prediction: str, reference: str) -> float:
...     return float(len(prediction) <= len(reference))
>>> "shorter" in metrics.names()
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from llmops_magics._registry import Registry

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "GROUPS",
    "Metric",
    "expand",
    "get",
    "names",
    "register",
    "register_metric",
    "unregister",
]

#: what a metric is computed from: "text" (predictions vs references), "label" (class labels),
#: "model" (the model's likelihood of the references; needs a model)
KINDS = ("text", "label", "model")


@dataclass(frozen=True)
class Metric:
    """A metric: per-example statistics and the corpus score computed from their sums.

    Parameters
    ----------
    name
        The registry name.
    stats
        ``stats(predictions, references, **context) -> array (n, k)``; ``context`` holds
        ``model`` and ``batch_size`` for ``kind="model"`` metrics.
    score
        ``score(sums) -> float``: the corpus score from the column sums of ``stats``.
    example
        ``example(stats) -> array (n,)``: each example's own value (for the per-example table).
    best
        The score of a perfect system (predictions equal to the references; for a model
        metric, the bound no model passes); None when there is none.
    """

    name: str
    stats: Callable[..., np.ndarray]
    score: Callable[[np.ndarray], float]
    example: Callable[[np.ndarray], np.ndarray]
    higher_is_better: bool = True
    kind: str = "text"
    description: str = ""
    #: metrics of one group are computed together (all ROUGE types share one tokenisation)
    group: str | None = None
    scale: str = field(default="", metadata={"help": "e.g. '0-100' or '0-1', shown in help"})
    best: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def compute(
        self, predictions: Sequence[Any], references: Sequence[Any], **context: Any
    ) -> float:
        """The corpus score of ``predictions`` against ``references``."""
        return self.score(self.stats(list(predictions), list(references), **context).sum(axis=0))


_METRICS: Registry[Metric] = Registry("metric")

#: names that stand for several metrics in ``--metrics``
GROUPS: dict[str, list[str]] = {"rouge": ["rouge1", "rouge2", "rougeL", "rougeLsum"]}


def register_metric(metric: Metric, *, replace: bool = False) -> Metric:
    """Add a fully specified :class:`Metric` (for corpus-level metrics with statistics)."""
    return _METRICS.register(metric.name, metric, replace=replace)


def unregister(name: str) -> None:
    """Remove a metric that a user registered (built-ins can be replaced, not removed)."""
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is built in; register another with replace=True instead")
    _METRICS.unregister(name)


PerExample = Callable[[str, str], float]


@overload
def register(name: PerExample, /) -> PerExample: ...
@overload
def register(
    name: str | None = None,
    /,
    *,
    higher_is_better: bool = True,
    replace: bool = False,
    best: float | None = None,
) -> Callable[[PerExample], PerExample]: ...


def register(
    name: str | PerExample | None = None,
    /,
    *,
    higher_is_better: bool = True,
    replace: bool = False,
    best: float | None = None,
) -> Any:
    """Decorator: register ``fn(prediction, reference) -> float``, averaged over examples.

    Use as ``@metrics.register`` (the function's name) or ``@metrics.register("name")``. The
    corpus score is the mean of the per-example values; bootstrap intervals come with it.
    ``best`` is the value of a perfect prediction, if there is one.
    """

    def wrap(fn: PerExample) -> PerExample:
        metric_name = name if isinstance(name, str) else fn.__name__
        doc = (fn.__doc__ or "").strip().splitlines()
        register_metric(
            Metric(
                metric_name,
                _mean_stats(fn),
                _mean_score,
                _mean_example,
                higher_is_better=higher_is_better,
                description=doc[0] if doc else "user metric (mean over examples)",
                best=best,
            ),
            replace=replace,
        )
        return fn

    if callable(name):
        return wrap(name)
    return wrap


def get(name: str) -> Metric:
    """The metric registered as ``name`` (an error lists the known names)."""
    return _METRICS.get(name)


def names() -> list[str]:
    """Registered metric names, built-ins first."""
    return _METRICS.names()


def expand(spec: str | Sequence[str]) -> list[str]:
    """Metric names from ``"bleu,rouge"`` or a list: groups expand, duplicates drop, unknown
    names raise an error that lists the known ones (and the group names)."""
    from llmops_magics._registry import UnknownNameError

    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        if not item:
            continue
        for name in GROUPS.get(item, [item]):
            if name not in _METRICS:
                known = names() + sorted(GROUPS)
                raise UnknownNameError("metric", name, known)
            if name not in out:
                out.append(name)
    if not out:
        raise UnknownNameError("metric", str(spec), names() + sorted(GROUPS))
    return out


# --- helpers for averaged metrics ----------------------------------------------------------


def _mean_stats(fn: PerExample) -> Callable[..., np.ndarray]:
    def stats(predictions: Sequence[Any], references: Sequence[Any], **_: Any) -> np.ndarray:
        import numpy as np

        values = [float(fn(p, r)) for p, r in zip(predictions, references, strict=True)]
        return np.column_stack([np.asarray(values, dtype=float), np.ones(len(values))])

    return stats


def _mean_score(sums: np.ndarray) -> float:
    return float(sums[0] / sums[1]) if sums[1] else float("nan")


def _mean_example(stats: np.ndarray) -> np.ndarray:
    return stats[:, 0]


# --- BLEU and chrF (sacrebleu) ---------------------------------------------------------------


def _sacrebleu_stats(which: str) -> Callable[..., np.ndarray]:
    def stats(predictions: Sequence[str], references: Sequence[str], **_: Any) -> np.ndarray:
        import numpy as np

        metric = _sacre(which, corpus=True)
        rows = metric._extract_corpus_statistics(list(predictions), [list(references)])
        return np.asarray(rows, dtype=np.int64).reshape(len(predictions), -1)

    return stats


_SACRE: dict[tuple[str, bool], Any] = {}


def _sacre(which: str, *, corpus: bool) -> Any:
    # The corpus scorer uses sacrebleu's defaults (corpus_bleu / corpus_chrf); the sentence one
    # those of sentence_bleu (effective order), so both equal sacrebleu's functions exactly.
    key = (which, corpus)
    if key not in _SACRE:
        from sacrebleu.metrics import BLEU, CHRF

        if which == "bleu":
            _SACRE[key] = BLEU() if corpus else BLEU(effective_order=True)
        else:
            _SACRE[key] = CHRF()
    return _SACRE[key]


def _sacrebleu_score(which: str) -> Callable[[np.ndarray], float]:
    def score(sums: np.ndarray) -> float:
        return float(
            _sacre(which, corpus=True)._compute_score_from_stats([int(x) for x in sums]).score
        )

    return score


def _sacrebleu_example(which: str) -> Callable[[np.ndarray], np.ndarray]:
    def example(stats: np.ndarray) -> np.ndarray:
        import numpy as np

        metric = _sacre(which, corpus=False)
        compute = metric._compute_score_from_stats
        return np.asarray([compute(row).score for row in stats.tolist()], dtype=float)

    return example


# --- ROUGE (rouge-score) ----------------------------------------------------------------------


def _rouge_stats(kind: str) -> Callable[..., np.ndarray]:
    def stats(predictions: Sequence[str], references: Sequence[str], **_: Any) -> np.ndarray:
        return rouge_group_stats([kind], predictions, references)[kind]

    return stats


def rouge_group_stats(
    kinds: Sequence[str], predictions: Sequence[str], references: Sequence[str]
) -> dict[str, np.ndarray]:
    """Statistics of several ROUGE types in one pass (one tokenisation per text)."""
    import numpy as np

    from llmops_magics.evaluation._rouge import rouge_scores

    scores = rouge_scores(predictions, references, kinds)
    ones = np.ones(len(predictions))
    return {k: np.column_stack([np.asarray(scores[k], dtype=float), ones]) for k in kinds}


# --- token F1, exact match, macro-F1, perplexity -------------------------------------------


def _label_stats(predictions: Sequence[Any], references: Sequence[Any], **_: Any) -> np.ndarray:
    import numpy as np

    labels = sorted({str(x) for x in references} | {str(x) for x in predictions})
    index = {label: k for k, label in enumerate(labels)}
    out = np.zeros((len(predictions), 3 * len(labels)))
    for row, (p, r) in enumerate(zip(predictions, references, strict=True)):
        ip, ir = index[str(p)], index[str(r)]
        if ip == ir:
            out[row, 3 * ip] = 1  # tp
        else:
            out[row, 3 * ip + 1] = 1  # fp for the predicted label
            out[row, 3 * ir + 2] = 1  # fn for the true label
    return out


def _label_score(sums: np.ndarray) -> float:
    from llmops_magics.evaluation._text import macro_f1_from_counts

    return macro_f1_from_counts(sums.tolist(), len(sums) // 3)


def _label_example(stats: np.ndarray) -> np.ndarray:
    import numpy as np

    # per example: 1 when the label is right
    return np.asarray(stats[:, 0::3].sum(axis=1), dtype=float)


def _perplexity_stats(
    predictions: Sequence[Any], references: Sequence[str], **context: Any
) -> np.ndarray:
    from llmops_magics.evaluation._perplexity import token_losses

    model = context.get("model")
    if model is None:
        from llmops_magics.evaluation._errors import EvaluationError

        raise EvaluationError(
            "perplexity needs a model.", hint="Pass model=SPEC (--model SPEC) to compute it."
        )
    return token_losses(
        references,
        model,
        precision=context.get("precision", "auto"),
        progress=context.get("progress"),
    )


def _perplexity_score(sums: np.ndarray) -> float:
    import math

    return math.exp(sums[0] / sums[1]) if sums[1] else float("nan")


def _perplexity_example(stats: np.ndarray) -> np.ndarray:
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(stats[:, 0] / stats[:, 1])


def _builtins() -> list[Metric]:
    from llmops_magics.evaluation import _text

    out = [
        Metric(
            "bleu",
            _sacrebleu_stats("bleu"),
            _sacrebleu_score("bleu"),
            _sacrebleu_example("bleu"),
            description="corpus BLEU (sacrebleu defaults: 13a, exp smoothing); per example: "
            "sentence BLEU",
            scale="0-100",
            best=100.0,
        ),
        Metric(
            "chrf",
            _sacrebleu_stats("chrf"),
            _sacrebleu_score("chrf"),
            _sacrebleu_example("chrf"),
            description="corpus chrF (sacrebleu defaults); per example: sentence chrF",
            scale="0-100",
            best=100.0,
        ),
    ]
    for kind in GROUPS["rouge"]:
        out.append(
            Metric(
                kind,
                _rouge_stats(kind),
                _mean_score,
                _mean_example,
                description=f"{kind} F-measure (rouge-score, Porter stemmer), mean over examples",
                group="rouge",
                scale="0-1",
                best=1.0,
            )
        )
    out += [
        Metric(
            "f1",
            _mean_stats(_text.token_f1),
            _mean_score,
            _mean_example,
            description="token F1 as in SQuAD (normalised answers), mean over examples",
            scale="0-1",
            best=1.0,
        ),
        Metric(
            "exact_match",
            _mean_stats(_text.exact_match),
            _mean_score,
            _mean_example,
            description="exact match of SQuAD-normalised answers, mean over examples",
            scale="0-1",
            best=1.0,
        ),
        Metric(
            "macro_f1",
            _label_stats,
            _label_score,
            _label_example,
            kind="label",
            description="macro-averaged F1 over the labels (for label columns); per example: "
            "1 if right",
            scale="0-1",
            best=1.0,
        ),
        Metric(
            "perplexity",
            _perplexity_stats,
            _perplexity_score,
            _perplexity_example,
            higher_is_better=False,
            kind="model",
            description="exp(mean token loss) of the references under the model (sliding window)",
            scale=">=1",
            best=1.0,
        ),
    ]
    return out


_DEFAULTS = _builtins()
_BUILTIN = frozenset(m.name for m in _DEFAULTS)
for _m in _DEFAULTS:
    register_metric(_m)
del _m
