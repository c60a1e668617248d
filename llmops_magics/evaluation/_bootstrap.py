"""Seeded bootstrap intervals and paired bootstrap tests over per-example statistics.

A replicate resamples the examples with replacement; a metric's score on it is computed from the
summed statistics of the drawn rows (so corpus BLEU is recomputed from n-gram counts, not
averaged). All metrics, and a baseline, are resampled with the same draws in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Interval", "PairedTest", "Resampler", "interval", "paired", "replicate_sums"]

Score = Callable[["np.ndarray"], float]


@dataclass(frozen=True)
class Interval:
    """A score with its bootstrap confidence interval."""

    score: float
    low: float
    high: float
    level: float = 0.95


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison of two systems on the same examples."""

    delta: float  # ours - baseline
    low: float
    high: float
    p_value: float


@dataclass(frozen=True)
class Resampler:
    """Bootstrap replicates of ``n`` examples: ``samples`` draws with replacement, seeded.

    The same ``(n, samples, seed)`` always gives the same replicates, so two systems scored on
    the same examples are resampled identically (a paired bootstrap). Replicates are made in
    blocks, so memory stays small for large corpora.
    """

    n: int
    samples: int
    seed: int = 0
    block: int = 250

    def blocks(self) -> Iterator[np.ndarray]:
        """``(block, n)`` arrays of how often each example is drawn in each replicate."""
        import numpy as np

        rng = np.random.default_rng(self.seed)
        for start in range(0, self.samples, self.block):
            size = min(self.block, self.samples - start)
            draws = rng.integers(0, self.n, size=(size, self.n))
            flat = (draws + (np.arange(size) * self.n)[:, None]).ravel()
            yield np.bincount(flat, minlength=size * self.n).reshape(size, self.n).astype(float)


def replicate_sums(stats: Mapping[str, np.ndarray], resampler: Resampler) -> dict[str, np.ndarray]:
    """For each statistics table ``(n, k)``: its column sums in every replicate ``(samples, k)``."""
    import numpy as np

    keys = list(stats)
    widths = [stats[k].shape[1] for k in keys]
    joined = np.hstack([np.asarray(stats[k], dtype=float) for k in keys])
    parts = [block @ joined for block in resampler.blocks()]
    sums = np.vstack(parts) if parts else np.zeros((0, joined.shape[1]))
    out: dict[str, np.ndarray] = {}
    col = 0
    for key, width in zip(keys, widths, strict=True):
        out[key] = sums[:, col : col + width]
        col += width
    return out


def _scores(sums: np.ndarray, score: Score) -> np.ndarray:
    import numpy as np

    return np.asarray([score(row) for row in sums], dtype=float)


def interval(
    stats: np.ndarray, score: Score, reps: np.ndarray | None, *, level: float = 0.95
) -> Interval:
    """The corpus score and its percentile bootstrap interval (``reps`` from
    :func:`replicate_sums`; ``None`` gives the point estimate with a NaN interval)."""
    import numpy as np

    point = float(score(stats.sum(axis=0)))
    if reps is None or len(reps) == 0 or len(stats) < 2:
        return Interval(point, float("nan"), float("nan"), level)
    values = _scores(reps, score)
    values = values[np.isfinite(values)]
    if not len(values):
        return Interval(point, float("nan"), float("nan"), level)
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return Interval(point, float(low), float(high), level)


def paired(
    ours: np.ndarray,
    baseline: np.ndarray,
    score: Score,
    ours_reps: np.ndarray,
    baseline_reps: np.ndarray,
    *,
    level: float = 0.95,
) -> PairedTest:
    """Delta ``score(ours) - score(baseline)`` with a paired bootstrap interval and a two-sided
    p-value for "no difference".

    The replicate sums of both systems must come from the same :class:`Resampler`. The p-value
    is the shifted-null bootstrap test (Berg-Kirkpatrick et al. 2012, as in sacrebleu's paired
    bootstrap): ``(1 + #{|d_b - mean(d)| >= |d|}) / (B + 1)`` with replicate deltas ``d_b`` and
    observed delta ``d``.
    """
    import numpy as np

    if ours.shape[0] != baseline.shape[0]:
        raise ValueError("a paired bootstrap needs the same examples for both systems")
    delta = float(score(ours.sum(axis=0)) - score(baseline.sum(axis=0)))
    reps = _scores(ours_reps, score) - _scores(baseline_reps, score)
    reps = reps[np.isfinite(reps)]
    if not len(reps):
        return PairedTest(delta, float("nan"), float("nan"), float("nan"))
    alpha = (1 - level) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha])
    extreme = int(np.sum(np.abs(reps - reps.mean()) >= abs(delta) - 1e-12))
    p = (1 + extreme) / (len(reps) + 1)
    return PairedTest(delta, float(low), float(high), float(min(p, 1.0)))
