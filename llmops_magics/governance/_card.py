"""Model cards from lineage alone: a Hugging Face ``ModelCard`` with ``model-index`` eval results
and the nine sections of Mitchell et al., *Model Cards for Model Reporting* (2019).

What the store knows (the base model and its hash, the adapter's configuration, the data hashes,
the preparation recipe and EDA summary, the eval runs with their intervals, the delta against the
baseline, the bias probe, the ratings) is written by the machine; the sections that need a human
(intended use, factors, ethical considerations, caveats) are flagged while they are empty. The
card is stored with the version (a ``card`` run tagged with the model and version, its
``README.md`` artifact) and ``ModelCard.load`` reads it back.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.governance._errors import CardError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

    from llmops_magics.governance._gates import Evidence

__all__ = [
    "CARD_FILE",
    "CARD_STAGE",
    "HUMAN_SECTIONS",
    "SECTIONS",
    "CardResult",
    "collect_cards",
    "load_card",
    "model_card",
]

CARD_STAGE = "card"
CARD_FILE = "README.md"
#: the card run's tags: which registered model and version it describes
CARD_MODEL = tracking.PREFIX + "registered_model"
CARD_VERSION = tracking.PREFIX + "registered_version"
#: Mitchell et al.'s nine sections, in their order
SECTIONS = (
    "Model Details",
    "Intended Use",
    "Factors",
    "Metrics",
    "Evaluation Data",
    "Training Data",
    "Quantitative Analyses",
    "Ethical Considerations",
    "Caveats and Recommendations",
)
#: the sections only a person can write, by keyword argument
HUMAN_SECTIONS = {
    "intended_use": "Intended Use",
    "factors": "Factors",
    "ethical_considerations": "Ethical Considerations",
    "caveats": "Caveats and Recommendations",
}
_FLAG = "> **Needs a human:** this section is empty."
_HUMAN_ASKS = {
    "Intended Use": "Who should use this model, for what, and what it must not be used for.",
    "Factors": "Groups, instruments and environments whose performance may differ.",
    "Ethical Considerations": "Sensitive data, risks and harms, and how they were mitigated.",
    "Caveats and Recommendations": "What was not tested, and what users should do about it.",
}
#: the Hugging Face id of the embedded base model
_HUB_IDS = {"smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct"}


@dataclass
class CardResult(Result):
    """A written model card: the ``ModelCard``, where it is stored and which human sections
    are still empty."""

    name: str
    version: str
    card: Any
    path: str = ""
    run_id: str = ""
    needs_human: list[str] = field(default_factory=list)

    _title = "model card"

    @property
    def text(self) -> str:
        """The card's Markdown with its YAML header."""
        return str(self.card.content)

    def to_frame(self) -> pd.DataFrame:
        """One row per section: section, filled by (machine / human), flagged."""
        import pandas as pd

        human = set(HUMAN_SECTIONS.values())
        return pd.DataFrame(
            [
                {
                    "section": s,
                    "written by": "human" if s in human else "lineage",
                    "needs a human": s in self.needs_human,
                }
                for s in SECTIONS
            ]
        )

    def _summary(self) -> str:
        flagged = f" · needs a human: {', '.join(self.needs_human)}" if self.needs_human else ""
        return f"model card of {self.name}/{self.version} ({self.path}){flagged}"

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self._summary()


# -- what the store knows ---------------------------------------------------------------------


def _finetune(t: tracking.Tracker, spec: str) -> Any:
    if not spec.startswith("run:"):
        return None
    try:
        return t.get_run(spec.removeprefix("run:"))
    except tracking.RunNotFoundError:
        return None


def _upstream(run: Any) -> list[Any]:
    """The prep, recipe and EDA nodes that a fine-tune run's data came from."""
    from llmops_magics import lineage

    try:
        graph = lineage.upstream(run.info.run_id)
    except Exception:  # lineage is a convenience of the card: its absence is written as such
        return []
    return [n for n in graph.nodes.values() if n.kind in ("prep", "recipe", "eda")]


def _table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| | |", "| --- | --- |"]
    lines += [f"| {k} | {'' if v is None else str(v).replace('|', '/')} |" for k, v in rows]
    return "\n".join(lines)


def _details(name: str, v: Any, run: Any) -> str:
    tags = dict(getattr(v, "tags", {}) or {})
    rtags = run.data.tags if run is not None else {}
    base = rtags.get(tracking.BASE_MODEL) or tags.get(tracking.BASE_MODEL) or v.source
    rows = [
        ("registered model", f"{name} version {v.version}"),
        ("source", v.source),
        ("author", v.author or "(unknown)"),
        ("base model", base),
        (
            "base model hash",
            rtags.get(tracking.BASE_MODEL_HASH) or tags.get(tracking.BASE_MODEL_HASH),
        ),
        ("fine-tune run", run.info.run_id if run is not None else "(none: the base itself)"),
        ("method", rtags.get(tracking.METHOD, "")),
        ("seed", rtags.get(tracking.SEED) or tags.get(tracking.SEED)),
        ("prompt version", rtags.get(tracking.PROMPT_VERSION) or tags.get(tracking.PROMPT_VERSION)),
        ("aliases", ", ".join(v.aliases or []) or "(none)"),
    ]
    text = _table([r for r in rows if r[1]])
    if run is not None and run.data.params:
        text += "\n\n**Adapter configuration** (the fine-tune run's parameters)\n\n"
        text += _table(sorted(run.data.params.items()))
    return text


def _metrics(ev: Evidence) -> tuple[str, list[Any]]:
    from huggingface_hub import EvalResult

    rows, results, seen = [], [], set()
    for run in ev.evals:
        names = [
            k for k in run.metrics if f"{k}_ci_low" in run.metrics or k + "_ci_high" in run.metrics
        ]
        names += [
            k
            for k in run.metrics
            if not k.startswith(("delta_", "p_", "bias_gap_"))
            and not k.endswith(("_ci_low", "_ci_high"))
            and k not in names
        ]
        for m in names:
            if m in seen:
                continue
            seen.add(m)
            score = run.metrics[m]
            low, high = (
                run.metrics.get(f"{m}_ci_low", math.nan),
                run.metrics.get(f"{m}_ci_high", math.nan),
            )
            ci = f"[{low:.4g}, {high:.4g}]" if math.isfinite(low) else "(no interval)"
            data = run.tags.get(tracking.DATA_HASH, "?")
            rows.append((m, f"{score:.4g} {ci} · data {data} · run {run.run_id[:8]}"))
            results.append(
                EvalResult(
                    task_type="text-generation",
                    dataset_type="llmops-eval",
                    dataset_name=f"eval data {data}",
                    dataset_revision=data,
                    metric_type=m,
                    metric_value=round(float(score), 6),
                    metric_name=m,
                    metric_args=(
                        {"ci_low": round(low, 6), "ci_high": round(high, 6), "level": 0.95}
                        if math.isfinite(low)
                        else None
                    ),
                    source_name="llmops-magics eval run",
                    source_url=ev.link(run) or None,
                )
            )
    if not rows:
        return "No eval run of this version yet: run `%llmops eval` on it.", []
    intro = "Scores on held-out data with 95% bootstrap intervals (newest eval run per metric).\n\n"
    return intro + _table(rows), results


def _data(run: Any, nodes: list[Any], which: str) -> str:
    if run is None:
        return "The base model's own data (not recorded here)."
    tags = run.data.tags
    keys = {
        "training": (tracking.DATA_CONTENT_HASH, tracking.DATA_HASH, tracking.DATA_SOURCE_HASH),
        "evaluation": (
            tracking.EVAL_DATA_CONTENT_HASH,
            tracking.EVAL_DATA_HASH,
            tracking.EVAL_DATA_SOURCE_HASH,
        ),
    }[which]
    rows = [(k.removeprefix(tracking.PREFIX), tags[k]) for k in keys if tags.get(k)]
    text = _table(rows) if rows else f"No {which} data hash recorded."
    if which == "training":
        for n in nodes:
            if n.kind == "recipe":
                text += "\n\n**Preparation recipe**\n\n" + _table(
                    sorted(n.attrs.get("params", {}).items())
                )
            if n.kind == "eda":
                summary = {k: round(v, 4) for k, v in sorted(n.attrs.get("metrics", {}).items())}
                summary.pop("elapsed_s", None)
                text += f"\n\n**EDA summary** (run {n.id[:8]})\n\n" + _table(list(summary.items()))
    return text


def _analyses(ev: Evidence) -> str:
    parts = []
    deltas = [
        (k.removeprefix("delta_"), r, v)
        for r in ev.evals
        for k, v in r.metrics.items()
        if k.startswith("delta_")
    ]
    if deltas:
        rows = []
        for m, r, v in deltas:
            p = r.metrics.get(f"p_{m}", math.nan)
            rows.append(
                (f"{m} vs {r.baseline or 'baseline'}", f"{v:+.4g} (paired bootstrap p = {p:.3g})")
            )
        parts.append("**Delta against the baseline**\n\n" + _table(rows))
    else:
        parts.append("**Delta against the baseline**: no eval with `--baseline` yet.")
    gaps = [
        (k.removeprefix("bias_gap_"), v)
        for r in ev.evals[:1]
        for k, v in r.metrics.items()
        if k.startswith("bias_gap_")
    ]
    gaps = gaps or [
        (k.removeprefix("bias_gap_"), v)
        for r in ev.evals
        for k, v in r.metrics.items()
        if k.startswith("bias_gap_")
    ]
    parts.append(
        "**Bias probe** (swapped - original)\n\n" + _table([(m, f"{v:+.4g}") for m, v in gaps])
        if gaps
        else "**Bias probe**: none run yet (`%llmops eval ... --counterfactual PAIRS`)."
    )
    parts.append("**Human feedback**\n\n" + _feedback(ev.ratings))
    return "\n\n".join(parts)


def _feedback(frame: Any) -> str:
    if frame is None or frame.empty:
        return "No ratings yet."
    rows: list[tuple[str, Any]] = [("ratings", len(frame)), ("raters", frame["rater"].nunique())]
    stars = frame.loc[frame["mode"] == "stars", "value"]
    if not stars.empty:
        rows.append(("mean stars", f"{stars.astype(float).mean():.3g} ({len(stars)} ratings)"))
    thumbs = frame.loc[frame["mode"] == "thumbs", "value"]
    if not thumbs.empty:
        rows.append(("thumbs up", f"{(thumbs == 'up').mean():.0%} ({len(thumbs)} ratings)"))
    return _table(rows)


def _human(text: str | None, section: str) -> tuple[str, bool]:
    if text and text.strip():
        return text.strip(), False
    return f"{_FLAG} {_HUMAN_ASKS[section]}", True


# -- the card ---------------------------------------------------------------------------------


def _compose(name: str, v: Any, ev: Evidence, run: Any, human: dict[str, str | None]) -> Any:
    from huggingface_hub import ModelCard, ModelCardData

    nodes = _upstream(run) if run is not None else []
    metrics_text, results = _metrics(ev)
    base = (run.data.tags.get(tracking.BASE_MODEL) if run is not None else None) or v.source
    data = ModelCardData(
        model_name=f"{name}/{v.version}",
        base_model=_HUB_IDS.get(base, base),
        library_name="peft" if run is not None else "transformers",
        tags=["llmops-magics", f"registered:{name}/{v.version}"],
        eval_results=results or None,
    )
    bodies: dict[str, str] = {}
    needs: list[str] = []
    for key, section in HUMAN_SECTIONS.items():
        bodies[section], flagged = _human(human.get(key), section)
        if flagged:
            needs.append(section)
    bodies["Model Details"] = _details(name, v, run)
    bodies["Metrics"] = metrics_text
    bodies["Evaluation Data"] = _data(run, nodes, "evaluation")
    bodies["Training Data"] = _data(run, nodes, "training")
    bodies["Quantitative Analyses"] = _analyses(ev)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = [
        f"# {name} version {v.version}",
        "",
        f"Written by llmops-magics from lineage on {stamp}.",
    ]
    for section in SECTIONS:
        text += ["", f"## {section}", "", bodies[section]]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n" + "\n".join(text) + "\n")
    return card, [s for s in SECTIONS if s in needs]


def model_card(
    spec: str,
    *,
    intended_use: str | None = None,
    factors: str | None = None,
    ethical_considerations: str | None = None,
    caveats: str | None = None,
    save: bool = True,
) -> CardResult:
    """Write the model card of a registered version from its lineage.

    Parameters
    ----------
    spec
        ``NAME/VERSION``, ``NAME@ALIAS`` (or ``models:/...`` of either).
    intended_use, factors, ethical_considerations, caveats
        The sections a person writes (Markdown); an empty one is flagged in the card.
    save
        Store the card with the version (a ``card`` run with its ``README.md``).
    """
    from llmops_magics.governance import _registry
    from llmops_magics.governance._gates import collect

    name, ref = _split(spec)
    v = _registry.get_version(name, ref)
    ev = collect(name, v.version)
    t = tracking.tracker()
    run = _finetune(t, v.source or (f"run:{v.run_id}" if v.run_id else ""))
    human = {
        "intended_use": intended_use,
        "factors": factors,
        "ethical_considerations": ethical_considerations,
        "caveats": caveats,
    }
    card, needs = _compose(name, v, ev, run, human)
    result = CardResult(name, str(v.version), card, needs_human=needs)
    if save:
        tags = {
            CARD_MODEL: name,
            CARD_VERSION: str(v.version),
            tracking.MODEL: f"models:/{name}/{v.version}",
        }
        with t.start_run(CARD_STAGE, name=f"card {name}/{v.version}", tags=tags) as saved:
            saved.log_text(result.text, CARD_FILE)
            saved.log_params({"needs_human": ",".join(needs) or "-"})
        result.run_id = saved.id
        result.path = str(t.download(saved.id, CARD_FILE))
    return result


def _split(spec: str) -> tuple[str, str]:
    text = spec.removeprefix("models:/")
    for sep in ("@", "/"):
        if sep in text:
            name, ref = text.rsplit(sep, 1)
            if name and ref:
                return name, ref
    raise CardError(
        f"Cannot read {spec!r} as a registered version.",
        hint="Write NAME/VERSION or NAME@ALIAS (e.g. qa-adapter/2 or qa-adapter@champion).",
    )


def load_card(spec: str) -> Any:
    """The newest stored card of a registered version (a ``ModelCard``), read back with
    ``ModelCard.load``."""
    from huggingface_hub import ModelCard

    from llmops_magics.governance import _registry

    name, ref = _split(spec)
    v = _registry.get_version(name, ref)
    t = tracking.tracker()
    runs = t.find_runs(
        stage=CARD_STAGE,
        filter=f"tags.`{CARD_MODEL}` = '{name}' and tags.`{CARD_VERSION}` = '{v.version}'",
        limit=1,
    )
    if not runs:
        raise CardError(
            f"No model card stored for {name}/{v.version}.",
            hint=f"Write one with %llmops card {name}/{v.version}.",
        )
    return ModelCard.load(t.download(runs[0].info.run_id, CARD_FILE))


def collect_cards(snap: Any, b: Any) -> None:
    """Lineage: each stored card hangs from the version it describes."""
    for run in snap.runs:
        tags = run.data.tags
        if tags.get(tracking.STAGE) == CARD_STAGE and tags.get(CARD_MODEL):
            spec = f"{tags[CARD_MODEL]}/{tags.get(CARD_VERSION, '')}"
            b.define(run.info.run_id, "card", f"card {spec}")
            b.link(b.model(f"models:/{spec}"), run.info.run_id, "described-by")


def _register_lineage() -> None:
    from llmops_magics import lineage

    lineage.register_kind("card", "a model card of a registered version", "#8338ec")
    lineage.register_collector("cards", collect_cards)


_register_lineage()
