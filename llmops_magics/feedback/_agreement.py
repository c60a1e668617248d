"""Agreement between raters: Cohen's kappa, Fleiss' kappa and Krippendorff's alpha."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.feedback._errors import FeedbackError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AgreementResult",
    "agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "interpret",
    "krippendorff_alpha",
]

_LEVELS = ("nominal", "ordinal", "interval", "ratio")


def cohen_kappa(
    a: Sequence[Hashable], b: Sequence[Hashable], *, weights: str | None = None
) -> float:
    """Cohen's kappa between two raters who rated the same items.

    Parameters
    ----------
    a, b
        The two raters' labels, item by item.
    weights
        ``None`` (unweighted), ``"linear"`` or ``"quadratic"`` for ordered numeric labels.
    """
    if len(a) != len(b):
        raise FeedbackError(f"The raters rated {len(a)} and {len(b)} items; give the same items.")
    if not a:
        raise FeedbackError("No items rated by both raters.")
    if weights not in (None, "linear", "quadratic"):
        raise FeedbackError(f"Unknown weights {weights!r}.", hint="Use linear or quadratic.")
    cats = sorted(set(a) | set(b), key=_order)
    pos = {c: i for i, c in enumerate(cats)}
    k, n = len(cats), len(a)
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        observed[pos[x]][pos[y]] += 1 / n
    row = [sum(r) for r in observed]
    col = [sum(observed[i][j] for i in range(k)) for j in range(k)]

    def w(i: int, j: int) -> float:
        if weights is None:
            return 0.0 if i == j else 1.0
        d = abs(float(cats[i]) - float(cats[j]))  # type: ignore[arg-type]
        span = max(float(c) for c in cats) - min(float(c) for c in cats)  # type: ignore[arg-type]
        d = d / span if span else 0.0
        return d if weights == "linear" else d * d

    d_obs = sum(w(i, j) * observed[i][j] for i in range(k) for j in range(k))
    d_exp = sum(w(i, j) * row[i] * col[j] for i in range(k) for j in range(k))
    if d_exp == 0:
        return 1.0 if d_obs == 0 else 0.0  # both raters always gave the one same label
    return 1.0 - d_obs / d_exp


def fleiss_kappa(table: Sequence[Sequence[float]]) -> float:
    """Fleiss' kappa from a table of counts: one row per item, one column per category.

    Every row must sum to the same number of raters (at least two).
    """
    if not table:
        raise FeedbackError("No items to compute Fleiss' kappa on.")
    n_raters = sum(table[0])
    if n_raters < 2 or any(abs(sum(r) - n_raters) > 1e-9 for r in table):
        raise FeedbackError(
            "Fleiss' kappa needs the same number (at least 2) of ratings for every item.",
            hint="Keep the items every rater rated, or use krippendorff_alpha (allows gaps).",
        )
    n_items, k = len(table), len(table[0])
    p_j = [sum(r[j] for r in table) / (n_items * n_raters) for j in range(k)]
    p_i = [(sum(x * x for x in r) - n_raters) / (n_raters * (n_raters - 1)) for r in table]
    p_bar = sum(p_i) / n_items
    p_e = sum(p * p for p in p_j)
    if p_e == 1:
        return 1.0
    return (p_bar - p_e) / (1 - p_e)


def krippendorff_alpha(
    data: Sequence[Sequence[Any]], *, level: str = "nominal", missing: Any = None
) -> float:
    """Krippendorff's alpha for any number of raters, with gaps.

    Parameters
    ----------
    data
        One row per rater, one column per item; ``missing`` (or NaN) where a rater did not rate.
    level
        ``nominal``, ``ordinal``, ``interval`` or ``ratio``.
    """
    if level not in _LEVELS:
        raise FeedbackError(f"Unknown level {level!r}.", hint=f"Use one of: {', '.join(_LEVELS)}.")
    n_items = max((len(r) for r in data), default=0)
    units: list[list[Any]] = []
    for j in range(n_items):
        vals = [r[j] for r in data if j < len(r) and not _missing(r[j], missing)]
        if len(vals) >= 2:
            units.append(vals)
    if not units:
        raise FeedbackError(
            "No item has ratings from two raters.", hint="Agreement needs overlapping ratings."
        )
    coincidence: dict[tuple[Any, Any], float] = {}
    for vals in units:
        m = len(vals)
        for i, x in enumerate(vals):
            for j, y in enumerate(vals):
                if i != j:
                    coincidence[(x, y)] = coincidence.get((x, y), 0.0) + 1 / (m - 1)
    totals: dict[Any, float] = {}
    for (x, _), v in coincidence.items():
        totals[x] = totals.get(x, 0.0) + v
    n = sum(totals.values())
    values = sorted(totals, key=_order)
    delta = _delta(level, values, totals)
    d_obs = sum(v * delta(x, y) for (x, y), v in coincidence.items())
    d_exp = sum(totals[x] * totals[y] * delta(x, y) for x in values for y in values) / (n - 1)
    if d_exp == 0:
        return 1.0
    return 1.0 - d_obs / d_exp


def _missing(v: Any, missing: Any) -> bool:
    return v is missing or v is None or (isinstance(v, float) and math.isnan(v)) or v == missing


def _order(v: Any) -> tuple[int, Any]:
    return (0, float(v)) if isinstance(v, int | float) and not isinstance(v, bool) else (1, str(v))


def _delta(level: str, values: list[Any], totals: dict[Any, float]) -> Any:
    if level == "nominal":
        return lambda x, y: 0.0 if x == y else 1.0
    if level == "interval":
        return lambda x, y: (float(x) - float(y)) ** 2
    if level == "ratio":
        return lambda x, y: ((float(x) - float(y)) / (float(x) + float(y))) ** 2 if x != y else 0.0
    rank = {v: i for i, v in enumerate(values)}

    def ordinal(x: Any, y: Any) -> float:
        lo, hi = sorted((rank[x], rank[y]))
        inner = sum(totals[values[g]] for g in range(lo, hi + 1))
        return (inner - (totals[x] + totals[y]) / 2) ** 2

    return ordinal


def interpret(value: float) -> str:
    """Landis & Koch's words for a kappa or alpha value."""
    if math.isnan(value):
        return "n/a"
    for bound, word in ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate")):
        if value <= bound:
            return word
    return "substantial" if value <= 0.8 else "almost perfect"


@dataclass
class AgreementResult(Result):
    """Agreement statistics per kind of rating (one row per statistic)."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    _title = "rater agreement"

    def to_frame(self) -> pd.DataFrame:
        """Columns ``mode, statistic, value, interpretation, raters, items``."""
        import pandas as pd

        cols = ["mode", "statistic", "value", "interpretation", "raters", "items"]
        return pd.DataFrame(self.rows, columns=cols)

    def value(self, mode: str, statistic: str) -> float:
        """One statistic, e.g. ``result.value("stars", "cohen_kappa")``."""
        for row in self.rows:
            if row["mode"] == mode and row["statistic"] == statistic:
                return float(row["value"])
        raise FeedbackError(f"No {statistic} for {mode} ratings.", hint="See .to_frame().")

    def _summary(self) -> str:
        return f"rater agreement over {len({r['mode'] for r in self.rows})} kind(s) of rating"

    def __repr__(self) -> str:
        lines = [self._summary()]
        for r in self.rows:
            lines.append(
                f"  {r['mode']}: {r['statistic']} = {r['value']:.3f} ({r['interpretation']}), "
                f"{r['raters']} raters, {r['items']} items"
            )
        return "\n".join(lines)


def agreement(ratings: pd.DataFrame | None = None, *, mode: str | None = None) -> AgreementResult:
    """Agreement between the raters in a feedback frame (default: the whole workspace).

    Two raters: Cohen's kappa (quadratic-weighted too for stars) and Krippendorff's alpha. More:
    Fleiss' kappa over the items every rater rated, and Krippendorff's alpha over all (ordinal
    for stars, nominal otherwise).
    """
    if ratings is None:
        from llmops_magics.feedback._store import load_feedback

        ratings = load_feedback(mode=mode)
    elif mode is not None:
        ratings = ratings[ratings["mode"] == mode]
    rows: list[dict[str, Any]] = []
    for kind, group in ratings.groupby("mode", sort=True):
        table = group.assign(item=group["trace_id"] + "|" + group["item_key"]).pivot_table(
            index="item", columns="rater", values="value", aggfunc="last"
        )
        raters = list(table.columns)
        shared = table.dropna(thresh=2)
        if len(raters) < 2 or shared.empty:
            continue

        def add(
            stat: str, value: float, n_raters: int, n_items: int, mode: str = str(kind)
        ) -> None:
            rows.append(
                {
                    "mode": mode,
                    "statistic": stat,
                    "value": round(value, 4),
                    "interpretation": interpret(value),
                    "raters": n_raters,
                    "items": n_items,
                }
            )

        full = table.dropna()
        if len(raters) == 2 and not full.empty:
            a, b = full[raters[0]].tolist(), full[raters[1]].tolist()
            add("cohen_kappa", cohen_kappa(a, b), 2, len(full))
            if kind == "stars":
                add("cohen_kappa_quadratic", cohen_kappa(a, b, weights="quadratic"), 2, len(full))
        elif len(raters) > 2 and not full.empty:
            cats = sorted({v for col in raters for v in full[col]}, key=_order)
            counts = [[list(r).count(c) for c in cats] for r in full[raters].itertuples(False)]
            add("fleiss_kappa", fleiss_kappa(counts), len(raters), len(full))
        level = "ordinal" if kind == "stars" else "nominal"
        data = [[None if _missing(v, None) else v for v in shared[r].tolist()] for r in raters]
        add(
            f"krippendorff_alpha_{level}",
            krippendorff_alpha(data, level=level),
            len(raters),
            len(shared),
        )
    if not rows:
        raise FeedbackError(
            "No item has been rated by two raters yet, so there is no agreement to measure.",
            hint="Have a second rater rate the same items: %llmops rate SOURCE --rater NAME.",
        )
    return AgreementResult(rows)
