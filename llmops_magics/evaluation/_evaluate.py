"""``evaluate``: generate (or take) predictions, score them with intervals, compare with a
baseline, probe counterfactual bias, and log everything to MLflow with lineage."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.evaluation import metrics as _metrics
from llmops_magics.evaluation._errors import EvaluationError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["EvalResult", "evaluate"]

PROMPT_COLUMNS = ("prompt", "question", "input", "text")
REFERENCE_COLUMNS = ("reference", "answer", "target", "label", "output")
DEFAULT_TEXT_METRICS = ["bleu", "rouge", "chrf", "f1", "exact_match"]
ARTIFACT = "eval/examples.json"


@dataclass
class _System:
    """One model (or prediction column) being scored."""

    name: str
    role: str  # "model" or "baseline"
    predictions: list[Any]
    stats: dict[str, np.ndarray]
    trace_ids: list[str] = field(default_factory=list)
    generate_run_id: str | None = None
    run_id: str | None = None


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
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        names = list(metrics or self.metrics)
        from llmops_magics.evaluation._compare import _grid

        fig, axes_list = _grid(plt, len(names))
        systems = list(dict.fromkeys(r["model"] for r in self.summary))
        for ax, name in zip(axes_list, names, strict=True):
            rows = [
                next(r for r in self.summary if r["model"] == s and r["metric"] == name)
                for s in systems
            ]
            values = [r["score"] for r in rows]
            lows = [
                max(r["score"] - r["ci_low"], 0) if math.isfinite(r["ci_low"]) else 0 for r in rows
            ]
            highs = [
                max(r["ci_high"] - r["score"], 0) if math.isfinite(r["ci_high"]) else 0
                for r in rows
            ]
            colors = [
                "#bbbbbb" if r.get("role") == "baseline" else f"C{i}" for i, r in enumerate(rows)
            ]
            ax.bar(range(len(rows)), values, yerr=[lows, highs], capsize=4, color=colors)
            ax.set_xticks(range(len(rows)), [_short(s) for s in systems], rotation=20, fontsize=7)
            arrow = "↑" if _metrics.get(name).higher_is_better else "↓"
            ax.set_title(f"{name} {arrow}", fontsize=9)
        fig.tight_layout()
        plt.close(fig)
        return fig

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


# --- the API --------------------------------------------------------------------------------


def _pick(frame: pd.DataFrame, column: str | None, options: Sequence[str], what: str) -> str:
    from llmops_magics.errors import DataError

    cols = ", ".join(map(str, frame.columns[:20]))
    if column is not None:
        if column not in frame.columns:
            raise DataError(
                f"The data has no {what} column {column!r}.",
                column=column,
                hint=f"Its columns are: {cols}.",
            )
        return column
    for name in options:
        if name in frame.columns:
            return name
    raise DataError(
        f"Cannot tell which column holds the {what}s (none of {', '.join(options)}).",
        hint=f"Name it with --{what}-col (the columns are: {cols}).",
    )


def _is_run_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def evaluate(
    data: Any,
    model: str | Sequence[str] | None = None,
    *,
    prompt_col: str | None = None,
    reference_col: str | None = None,
    prediction_col: str | None = None,
    metrics: str | Sequence[str] | None = None,
    baseline: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    counterfactual: Any = None,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    system: str | None = None,
    chat: bool | None = None,
    prompt_version: str | None = None,
    track: bool = True,
    progress: bool | None = None,
    precision: str = "auto",
) -> EvalResult:
    """Evaluate one or more models (or a column of predictions) on a DataFrame.

    Parameters
    ----------
    data
        A DataFrame with prompts and references (and optionally predictions).
    model
        Model spec(s): predictions are generated (batched, traced) when no ``prediction_col``
        is given; perplexity is computed from the model on the references.
    prompt_col, reference_col, prediction_col
        Column names; prompt and reference columns are guessed (``prompt``/``question``/...,
        ``reference``/``answer``/...) when not given.
    metrics
        ``"bleu,rouge"`` or a list; registered names or groups (``rouge`` = ROUGE-1/2/L/Lsum).
        Default: BLEU, ROUGE, chrF, F1, exact match, plus perplexity when a model is given;
        macro-F1 when the references are labels rather than text.
    baseline
        A model spec (generated and scored like the models) or the run id of a past eval of
        the same data: every metric gets a delta, its interval and a paired bootstrap p-value.
    bootstrap
        Bootstrap replicates for the 95% intervals (0 turns intervals off).
    seed
        Seed of the bootstrap (and of sampling, if any).
    counterfactual
        Term pairs (``"he:she,his:her"``, a file, a dict): the probe swaps them in prompts and
        references and reports each metric's gap (swapped - original) with an interval.
    max_new_tokens, batch_size, system, chat
        Generation settings (see :func:`llmops_magics.models.generate`).
    prompt_version
        The prompt version the prompts came from, for lineage (default: ``data.attrs``).
    track
        Log one MLflow run per model (and the generations with their traces).
    precision
        Perplexity's precision: ``auto`` (bf16 where the hardware has it, for models of hidden
        size 256 or more), ``fp32`` or ``bf16``; see :func:`token_losses`. Each run logs the
        precision used as ``perplexity_precision``.
    """
    from llmops_magics import data as data_mod
    from llmops_magics import models as models_mod
    from llmops_magics.evaluation._bootstrap import Resampler
    from llmops_magics.evaluation._score import check_texts

    started = time.perf_counter()
    frame = data_mod.require_frame(data, name="data")
    specs = [model] if isinstance(model, str) else list(model or [])
    if bootstrap < 0 or bootstrap == 1:
        raise EvaluationError(
            f"bootstrap={bootstrap} is not allowed.",
            hint="Use 0 (no intervals) or 2 or more, e.g. 1000.",
        )
    if seed < 0:
        raise EvaluationError(f"seed={seed} must be a non-negative integer.")
    ref_col = _pick(frame, reference_col, REFERENCE_COLUMNS, "reference")
    raw_refs = frame[ref_col].tolist()
    label_refs = not all(isinstance(v, str) for v in raw_refs if not _missing(v))
    names = _metrics.expand(metrics if metrics is not None else _default_metrics(label_refs, specs))
    kinds = {n: _metrics.get(n).kind for n in names}
    references = _check_references(raw_refs, ref_col, names, kinds)

    if prediction_col is not None:
        if len(specs) > 1:
            raise EvaluationError(
                "With a prediction column, give at most one --model (used for perplexity).",
                hint="To compare models, leave out --prediction-col and let each one generate.",
            )
        pred_col = _pick(frame, prediction_col, (), "prediction")
        given_predictions: list[Any] | None = frame[pred_col].tolist()
        prompts: list[str] | None = None
        if counterfactual is not None or (baseline is not None and not _is_run_id(baseline)):
            prompts = check_texts(
                frame[_pick(frame, prompt_col, PROMPT_COLUMNS, "prompt")].tolist(), "prompts"
            )
    else:
        if not specs:
            raise EvaluationError(
                "Nothing to score: give --model SPEC to generate predictions, or "
                "--prediction-col COL with predictions already in the data."
            )
        given_predictions = None
        prompts = check_texts(
            frame[_pick(frame, prompt_col, PROMPT_COLUMNS, "prompt")].tolist(), "prompts"
        )
    if "perplexity" in names and not specs:
        raise EvaluationError(
            "perplexity needs a model: it is computed from the model on the reference texts.",
            hint="Add --model SPEC, or drop perplexity from --metrics.",
        )
    for spec in [*specs, *([baseline] if baseline and not _is_run_id(baseline) else [])]:
        models_mod.resolve(spec)  # fails now, before any work, for a spec with no weights
    if counterfactual is not None and prediction_col is not None:
        raise EvaluationError(
            "The bias probe compares the model's own answers on original and swapped inputs.",
            hint="Leave out --prediction-col so that the model generates both sets.",
        )
    if counterfactual is not None and not specs:
        raise EvaluationError(
            "The bias probe needs --model: it generates answers for the swapped inputs."
        )
    swapper = None
    if counterfactual is not None:
        from llmops_magics.evaluation._bias import Swapper, parse_pairs

        swapper = Swapper(parse_pairs(counterfactual))

    n = len(references)
    gen = dict(
        max_new_tokens=max_new_tokens, batch_size=batch_size, system=system, chat=chat, seed=seed
    )
    from llmops_magics.evaluation._perplexity import check_precision

    check_precision(precision)
    context = {"progress": progress, "precision": precision}
    systems: list[_System] = []
    if given_predictions is not None:
        from llmops_magics.evaluation._score import check_pairs

        preds, _ = check_pairs(
            given_predictions, references, labels=all(k == "label" for k in kinds.values())
        )
        name = specs[0] if specs else f"column {prediction_col}"
        stats = _stats(names, preds, references, model=specs[0] if specs else None, **context)
        systems.append(_System(name, "model", preds, stats))
    else:
        assert prompts is not None
        for spec in specs:
            systems.append(
                _generate_and_score(
                    spec, "model", prompts, references, names, gen, context, track, progress
                )
            )

    base_system: _System | None = None
    if baseline is not None:
        if _is_run_id(baseline):
            base_system = _load_baseline_run(baseline, references, names)
        else:
            if prompts is None:
                raise EvaluationError("A baseline model needs prompts to generate from.")
            base_system = _generate_and_score(
                baseline, "baseline", prompts, references, names, gen, context, track, progress
            )
            base_system.role = "baseline"

    resampler = Resampler(n, bootstrap, seed) if bootstrap else None
    summary = _summarise(systems, base_system, names, resampler)

    bias: list[dict[str, Any]] = []
    if swapper is not None:
        assert prompts is not None
        for sys_ in systems:
            bias += _bias_probe(
                sys_,
                swapper,
                prompts,
                references,
                names,
                kinds,
                gen,
                context,
                resampler,
                track,
                progress,
            )

    rows = _example_rows(
        systems + ([base_system] if base_system else []), prompts, references, names
    )
    result = EvalResult(
        models=[s.name for s in systems],
        metrics=names,
        summary=summary,
        rows=rows,
        bias=bias,
        baseline=baseline,
        data_hash=data_mod.content_hash(frame),
        prompt_version=prompt_version or _attr_version(frame),
        bootstrap=bootstrap,
        seed=seed,
        n_examples=n,
        stats={s.name: s.stats for s in systems},
    )
    result.total_s = time.perf_counter() - started
    if track:
        _log(
            result,
            systems,
            base_system,
            frame,
            dict(
                prompt_col=prompt_col,
                reference_col=ref_col,
                prediction_col=prediction_col,
                precision=precision,
                **gen,
            ),
        )
    result.total_s = time.perf_counter() - started
    return result


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _default_metrics(label_refs: bool, specs: list[str]) -> list[str]:
    if label_refs:
        return ["macro_f1"]
    return DEFAULT_TEXT_METRICS + (["perplexity"] if specs else [])


def _check_references(
    raw: list[Any], column: str, names: list[str], kinds: dict[str, str]
) -> list[Any]:
    from llmops_magics.evaluation._errors import InputMismatchError
    from llmops_magics.evaluation._score import check_texts

    missing = [i for i, v in enumerate(raw) if _missing(v)]
    if missing:
        raise InputMismatchError(
            f"The reference column {column!r} has {len(missing)} missing value(s) (NaN) of "
            f"{len(raw)} rows, at rows {missing[:10]}.",
            column=column,
            rows=missing,
            hint=f"Drop them first: df.dropna(subset=[{column!r}]).",
        )
    if all(k == "label" for k in kinds.values()):
        return raw
    text_metrics = [n for n, k in kinds.items() if k != "label"]
    not_text = [i for i, v in enumerate(raw) if not isinstance(v, str)]
    if not_text:
        raise InputMismatchError(
            f"The reference column {column!r} holds non-text values (e.g. row {not_text[0]}: "
            f"{raw[not_text[0]]!r}), which {', '.join(text_metrics)} cannot score.",
            column=column,
            rows=not_text,
            hint="For label columns use --metrics macro_f1; else convert with .astype(str).",
        )
    return check_texts(raw, f"references in column {column!r}")


def _stats(
    names: list[str],
    predictions: list[Any],
    references: list[Any],
    *,
    model: str | None,
    **context: Any,
) -> dict[str, np.ndarray]:
    from llmops_magics.evaluation._score import compute_stats

    text_names = [n for n in names if _metrics.get(n).kind != "model"]
    out = compute_stats(text_names, predictions, references) if text_names else {}
    for n in names:
        if _metrics.get(n).kind == "model":
            out[n] = _metrics.get(n).stats(predictions, references, model=model, **context)
    return {n: out[n] for n in names}


def _generate_and_score(
    spec: str,
    role: str,
    prompts: list[str],
    references: list[Any],
    names: list[str],
    gen: dict[str, Any],
    context: dict[str, Any],
    track: bool,
    progress: bool | None,
) -> _System:
    from llmops_magics import models

    out = models.generate(prompts, model=spec, track=track, progress=progress, **gen)
    stats = _stats(names, out.texts, references, model=spec, **context)
    return _System(spec, role, out.texts, stats, list(out.trace_ids), out.run_id)


def _summarise(
    systems: list[_System], base: _System | None, names: list[str], resampler: Any
) -> list[dict[str, Any]]:
    from llmops_magics.evaluation._bootstrap import interval, paired, replicate_sums

    every = systems + ([base] if base else [])
    reps: dict[str, Any] = {}
    if resampler is not None:
        joined = {
            f"{i}|{n}": s.stats[n] for i, s in enumerate(every) for n in names if n in s.stats
        }
        reps = replicate_sums(joined, resampler)
    rows: list[dict[str, Any]] = []
    for i, s in enumerate(every):
        for n in names:
            metric = _metrics.get(n)
            if n not in s.stats:
                continue
            ci = interval(s.stats[n], metric.score, reps.get(f"{i}|{n}"))
            row: dict[str, Any] = {
                "model": s.name,
                "role": s.role,
                "metric": n,
                "score": ci.score,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "n": len(s.stats[n]),
            }
            if base is not None and s is not base:
                j = len(every) - 1
                if n in base.stats and resampler is not None:
                    test = paired(
                        s.stats[n], base.stats[n], metric.score, reps[f"{i}|{n}"], reps[f"{j}|{n}"]
                    )
                    row.update(
                        baseline_score=metric.score(base.stats[n].sum(axis=0)),
                        delta=test.delta,
                        delta_low=test.low,
                        delta_high=test.high,
                        p_value=test.p_value,
                    )
                elif n in base.stats:
                    b = metric.score(base.stats[n].sum(axis=0))
                    row.update(
                        baseline_score=b,
                        delta=ci.score - b,
                        delta_low=math.nan,
                        delta_high=math.nan,
                        p_value=math.nan,
                    )
                else:
                    row.update(
                        baseline_score=math.nan,
                        delta=math.nan,
                        delta_low=math.nan,
                        delta_high=math.nan,
                        p_value=math.nan,
                    )
            rows.append(row)
    return rows


def _example_rows(
    systems: list[_System], prompts: list[str] | None, references: list[Any], names: list[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in systems:
        values = {n: _metrics.get(n).example(s.stats[n]) for n in names if n in s.stats}
        for i, ref in enumerate(references):
            row: dict[str, Any] = {
                "model": s.name,
                "row": i,
                "prompt": prompts[i] if prompts is not None else None,
                "prediction": s.predictions[i] if s.predictions else None,
                "reference": ref,
            }
            for n in names:
                row[n] = float(values[n][i]) if n in values else math.nan
            row["trace_id"] = s.trace_ids[i] if s.trace_ids else ""
            rows.append(row)
    return rows


def _bias_probe(
    sys_: _System,
    swapper: Any,
    prompts: list[str],
    references: list[Any],
    names: list[str],
    kinds: dict[str, str],
    gen: dict[str, Any],
    context: dict[str, Any],
    resampler: Any,
    track: bool,
    progress: bool | None,
) -> list[dict[str, Any]]:
    from llmops_magics import models
    from llmops_magics.evaluation._bootstrap import Resampler, paired, replicate_sums

    swapped_prompts = [swapper(p) for p in prompts]
    swapped_refs = [swapper(r) if isinstance(r, str) else r for r in references]
    changed = [
        i
        for i in range(len(prompts))
        if swapped_prompts[i] != prompts[i] or swapped_refs[i] != references[i]
    ]
    if not changed:
        return [
            {
                "model": sys_.name,
                "metric": n,
                "original": math.nan,
                "swapped": math.nan,
                "gap": math.nan,
                "gap_low": math.nan,
                "gap_high": math.nan,
                "p_value": math.nan,
                "n_rows": 0,
            }
            for n in names
        ]
    model = sys_.name
    out = models.generate(
        [swapped_prompts[i] for i in changed], model=model, track=track, progress=progress, **gen
    )
    refs_swapped = [swapped_refs[i] for i in changed]
    swapped_stats = _stats(names, out.texts, refs_swapped, model=model, **context)
    original_stats = {n: sys_.stats[n][changed] for n in names}
    samples = resampler.samples if resampler is not None else 0
    local = Resampler(len(changed), samples, resampler.seed) if samples else None
    reps: dict[str, Any] = {}
    if local is not None and len(changed) > 1:
        reps = replicate_sums(
            {
                **{f"s|{n}": swapped_stats[n] for n in names},
                **{f"o|{n}": original_stats[n] for n in names},
            },
            local,
        )
    rows = []
    for n in names:
        metric = _metrics.get(n)
        orig = metric.score(original_stats[n].sum(axis=0))
        swap = metric.score(swapped_stats[n].sum(axis=0))
        if reps:
            test = paired(
                swapped_stats[n], original_stats[n], metric.score, reps[f"s|{n}"], reps[f"o|{n}"]
            )
            low, high, p = test.low, test.high, test.p_value
        else:
            low = high = p = math.nan
        rows.append(
            {
                "model": model,
                "metric": n,
                "original": orig,
                "swapped": swap,
                "gap": swap - orig,
                "gap_low": low,
                "gap_high": high,
                "p_value": p,
                "n_rows": len(changed),
            }
        )
    return rows


def _attr_version(frame: Any) -> str | None:
    attrs = getattr(frame, "attrs", {}) or {}
    for key in ("llmops.prompt_version", "prompt_version"):
        if attrs.get(key) is not None:
            return str(attrs[key])
    return None


# --- baselines from past runs and logging ---------------------------------------------------


def _load_baseline_run(run_id: str, references: list[Any], names: list[str]) -> _System:
    import json

    import numpy as np

    from llmops_magics import workspace

    ws = workspace.current()
    workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    client = mlflow.MlflowClient(ws.tracking_uri)
    try:
        run = client.get_run(run_id)
    except Exception as exc:
        raise EvaluationError(
            f"No run {run_id!r} in the workspace store ({ws.tracking_uri}).",
            hint="List eval runs with %llmops runs --filter \"tags.`llmops.stage` = 'eval'\".",
        ) from exc
    if run.data.tags.get("llmops.stage") != "eval":
        raise EvaluationError(
            f"Run {run_id} is not an eval run (stage {run.data.tags.get('llmops.stage')!r}).",
            hint="--baseline takes a model spec or the run id of a past %llmops eval.",
        )
    try:
        import os

        # mlflow draws a download progress bar for one small file; not in the user's cell
        saved = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        try:
            path = client.download_artifacts(run_id, "eval/stats.json")
        finally:
            if saved is None:
                os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
            else:
                os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = saved
        with open(path) as handle:
            payload = json.load(handle)
    except Exception as exc:
        raise EvaluationError(
            f"Run {run_id} has no readable eval/stats.json artifact: {exc}"
        ) from exc
    if payload["references"] != [r if isinstance(r, str) else str(r) for r in references]:
        raise EvaluationError(
            f"The baseline run {run_id} was evaluated on other examples "
            f"({len(payload['references'])} rows, data {run.data.tags.get('llmops.data_hash')}).",
            hint="A paired comparison needs the same references in the same order.",
        )
    stats = {
        n: np.asarray(payload["stats"][n], dtype=float) for n in names if n in payload["stats"]
    }
    return _System(
        f"run {run_id[:8]} ({run.data.tags.get('llmops.model', '?')})",
        "baseline",
        payload.get("predictions") or [],
        stats,
        payload.get("trace_ids") or [],
        run_id=run_id,
    )


def _precision_param(s: _System, result: EvalResult, params: dict[str, Any]) -> dict[str, str]:
    """``perplexity_precision``: the precision perplexity ran in for this system's model."""
    if "perplexity" not in result.metrics or s.name.startswith("column "):
        return {}
    from llmops_magics.evaluation._perplexity import precision_for

    return {"perplexity_precision": precision_for(s.name, params.get("precision") or "auto")}


def _log(
    result: EvalResult,
    systems: list[_System],
    base: _System | None,
    frame: Any,
    params: dict[str, Any],
) -> None:
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    loggable = systems + ([base] if base is not None and base.run_id is None else [])
    for s in loggable:
        with mlflow.start_run(experiment_id=exp_id, run_name=f"eval {s.name}") as run:
            tags = {
                "llmops.stage": "eval",
                "llmops.model": s.name,
                "llmops.eval_role": s.role,
                "llmops.data_hash": result.data_hash,
            }
            if result.prompt_version:
                tags["llmops.prompt_version"] = result.prompt_version
            if s.generate_run_id:
                tags["llmops.generate_run_id"] = s.generate_run_id
            if result.baseline and s.role != "baseline":
                tags["llmops.baseline"] = result.baseline
            mlflow.set_tags(tags)
            mlflow.log_params(
                {
                    "model": s.name,
                    "metrics": ",".join(result.metrics),
                    "n_examples": result.n_examples,
                    "bootstrap": result.bootstrap,
                    "seed": result.seed,
                    "baseline": result.baseline or "",
                }
                | {k: ("" if v is None else v) for k, v in params.items()}
                | _precision_param(s, result, params)
            )
            values: dict[str, float] = {}
            for row in result.summary:
                if row["model"] != s.name:
                    continue
                m = row["metric"]
                for key, name in (
                    ("score", m),
                    ("ci_low", f"{m}_ci_low"),
                    ("ci_high", f"{m}_ci_high"),
                    ("delta", f"delta_{m}"),
                    ("p_value", f"p_{m}"),
                ):
                    if key in row and row[key] is not None and math.isfinite(row[key]):
                        values[name] = float(row[key])
            for row in result.bias:
                if row["model"] == s.name and math.isfinite(row["gap"]):
                    values[f"bias_gap_{row['metric']}"] = float(row["gap"])
            mlflow.log_metrics(values)
            mlflow.log_dict(
                {
                    "references": [
                        r if isinstance(r, str) else str(r)
                        for r in (x["reference"] for x in result.rows if x["model"] == s.name)
                    ],
                    "predictions": [
                        p if p is None or isinstance(p, str) else str(p) for p in s.predictions
                    ],
                    "trace_ids": s.trace_ids,
                    "stats": {n: s.stats[n].tolist() for n in result.metrics if n in s.stats},
                },
                "eval/stats.json",
            )
            mlflow.log_dict({"rows": [r for r in result.rows if r["model"] == s.name]}, ARTIFACT)
            mlflow.log_dict(
                {
                    "summary": [r for r in result.summary if r["model"] == s.name],
                    "bias": [b for b in result.bias if b["model"] == s.name],
                },
                "eval/summary.json",
            )
            try:
                dataset = mlflow.data.from_pandas(
                    frame, name=f"eval data {result.data_hash}", digest=result.data_hash
                )
                mlflow.log_input(dataset, context="eval")
            except Exception:  # lineage by tag is kept; the input record is a convenience
                pass
        s.run_id = run.info.run_id
        result.run_ids[s.name] = run.info.run_id
    result.tracking_uri = ws.tracking_uri
