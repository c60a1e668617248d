"""Gates: whether a registered version meets its policy, computed from the store at that moment.

:func:`collect` reads the evidence of a version (its eval runs, the alias holder's comparison,
its ratings, its sign-offs); :func:`check` turns a policy's gates and that evidence into one
:class:`GateResult` each: ``pass``, ``fail`` or ``missing``. Evidence that is not in the store is
``missing``, never ``pass``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.governance._policy import AliasPolicy, Gate, Policy, load_policy
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Evidence",
    "GateReport",
    "GateResult",
    "check",
    "collect",
    "current_policy",
    "evaluate",
    "for_alias",
    "gate_status",
    "version_specs",
]

PASS, FAIL, MISSING = "pass", "fail", "missing"
# the eval stage's names for what it stores (evaluation/_tracking.py writes them)
_EVAL_STAGE = "eval"
_BASELINE_TAG = tracking.PREFIX + "baseline"
_ROLE_TAG = tracking.PREFIX + "eval_role"


@dataclass
class GateResult:
    """One gate's verdict: ``pass``, ``fail`` or ``missing``, with the value it saw, the run
    that holds the evidence and a link to that run in the MLflow UI."""

    gate: str
    kind: str
    status: str
    value: float | None = None
    threshold: float | None = None
    detail: str = ""
    run_id: str = ""
    link: str = ""
    line: int = 0
    alias: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASS


@dataclass
class EvalRun:
    """An eval run of a version, as the gates read it."""

    run_id: str
    experiment_id: str
    start_time: int
    metrics: dict[str, float]
    tags: dict[str, str]

    @property
    def baseline(self) -> str:
        return self.tags.get(_BASELINE_TAG, "")


@dataclass
class Evidence:
    """What the store holds about one version at one moment."""

    name: str
    version: str
    alias: str | None
    author: str
    specs: list[str]
    evals: list[EvalRun] = field(default_factory=list)
    holder: str | None = None  # the version that holds the alias now (None: nobody)
    holder_specs: list[str] = field(default_factory=list)
    holder_eval_ids: set[str] = field(default_factory=set)
    ratings: Any = None  # a feedback frame (pandas), rows of this version only
    signoffs: list[Any] = field(default_factory=list)
    ui: str = ""
    all_evals: list[EvalRun] = field(default_factory=list, repr=False)

    def link(self, run: EvalRun | None) -> str:
        if run is None or not self.ui:
            return ""
        return f"{self.ui}/#/experiments/{run.experiment_id}/runs/{run.run_id}"

    def digest(self) -> str:
        """A hash of the evidence (the eval runs with their metrics, comparisons included, and the
        ratings), the one a sign-off records as what its approver saw; it is the same whichever
        alias the version is judged for, and sign-offs themselves are not part of it."""
        ratings = self.ratings
        rated: list[Any] = []
        if ratings is not None and len(ratings):
            rated = sorted(ratings["assessment_id"].astype(str).tolist())
        payload = {
            "version": f"{self.name}/{self.version}",
            "evals": sorted(
                (r.run_id, sorted((k, round(v, 9)) for k, v in r.metrics.items()))
                for r in self.evals
            ),
            "ratings": rated,
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class GateReport(Result):
    """Every gate of an alias's policy for one version: :attr:`passed` when all pass."""

    name: str
    version: str
    alias: str
    results: list[GateResult]
    policy_hash: str = ""
    evidence_hash: str = ""
    allow_override: bool = False

    _title = "gates"

    @property
    def passed(self) -> bool:
        """Whether every gate passes (a policy without gates passes)."""
        return all(r.passed for r in self.results)

    def __iter__(self) -> Any:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> GateResult:
        return self.results[i]

    def to_frame(self) -> pd.DataFrame:
        """One row per gate: gate, status, value, threshold, detail, run_id, link."""
        import pandas as pd

        cols = ["gate", "kind", "status", "value", "threshold", "detail", "run_id", "link"]
        return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in self.results], columns=cols)

    def _summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in (PASS, FAIL, MISSING)}
        verdict = "all gates pass" if self.passed else "blocked"
        return (
            f"{self.name}/{self.version} for @{self.alias}: {verdict} ({counts[PASS]} pass, "
            f"{counts[FAIL]} fail, {counts[MISSING]} missing)"
        )

    def __repr__(self) -> str:
        lines = [self._summary()]
        for r in self.results:
            lines.append(f"  [{r.status:7}] {r.gate}: {r.detail}")
        return "\n".join(lines)


# -- the evidence -----------------------------------------------------------------------------


def version_specs(name: str, version: Any) -> list[str]:
    """The model specs that name a registered version: ``models:/NAME/V`` and its source."""
    specs = [f"models:/{name}/{version.version}"]
    source = getattr(version, "source", "") or ""
    if source and source not in specs:
        specs.append(source)
    run_id = getattr(version, "run_id", "") or ""
    if run_id and f"run:{run_id}" not in specs:
        specs.append(f"run:{run_id}")
    return specs


def _all_eval_runs(t: tracking.Tracker) -> list[EvalRun]:
    """Every finished eval run, newest first (one search: MLflow filters cannot ask a tag for
    one of several values, and the holder's runs are among them too)."""
    found = [
        EvalRun(
            run.info.run_id,
            run.info.experiment_id,
            int(run.info.start_time or 0),
            dict(run.data.metrics),
            dict(run.data.tags),
        )
        for run in t.find_runs(
            stage=_EVAL_STAGE, filter="attributes.status = 'FINISHED'", limit=100_000
        )
    ]
    return sorted(found, key=lambda r: r.start_time, reverse=True)


def _of(runs: list[EvalRun], specs: list[str]) -> list[EvalRun]:
    wanted = set(specs)
    return [r for r in runs if r.tags.get(tracking.MODEL) in wanted]


def _ratings(specs: list[str]) -> Any:
    """The ratings of this version's outputs (of any of its specs), newest last: each spec's
    rated traces are read, not every rated trace of the store."""
    import pandas as pd

    from llmops_magics import feedback

    frames = [feedback.load_feedback(model=spec) for spec in dict.fromkeys(specs)]
    found = [f for f in frames if not f.empty]
    if len(found) < 2:
        return found[0] if found else frames[0]
    # load_feedback's own order: every rating has one model, so no row is in two frames
    frame = pd.concat(found, ignore_index=True)
    return frame.sort_values(["time", "assessment_id"], kind="stable").reset_index(drop=True)


def _ui(t: tracking.Tracker) -> str:
    from llmops_magics import lineage

    return str(lineage.ui_base(t.uri))


def collect(
    name: str, version: str | int, alias: str | None = None, *, records: list[Any] | None = None
) -> Evidence:
    """The evidence the store holds now about ``name`` version ``version`` (for ``alias``: the
    version that holds it now is the one a regression is measured against). ``records``: the
    model's audit records when the caller has read them already."""
    from llmops_magics.governance import _audit, _registry
    from llmops_magics.governance._signoff import signoffs

    v = _registry.get_version(name, str(version))
    specs = version_specs(name, v)
    t = tracking.tracker()
    ev = Evidence(name, str(v.version), None, v.author or "", specs, ui=_ui(t))
    ev.all_evals = _all_eval_runs(t)
    ev.evals = _of(ev.all_evals, specs)
    ev.ratings = _ratings(specs)
    trail = _audit.records(name) if records is None else records
    ev.signoffs = signoffs(name, ev.version, records=trail)
    return for_alias(ev, alias, _registry.versions(name)) if alias else ev


def for_alias(ev: Evidence, alias: str | None, versions: list[Any]) -> Evidence:
    """``ev`` judged for ``alias``: with the version that holds it now (from ``versions``)."""
    from dataclasses import replace

    out = replace(ev, alias=alias, holder=None, holder_specs=[], holder_eval_ids=set())
    holder = next((v for v in versions if alias in (v.aliases or ())), None)
    if holder is not None and str(holder.version) != ev.version:
        out.holder = str(holder.version)
        out.holder_specs = version_specs(ev.name, holder)
        out.holder_eval_ids = {r.run_id for r in _of(ev.all_evals, out.holder_specs)}
    return out


# -- the gates --------------------------------------------------------------------------------


def _eval_hint(ev: Evidence, metric: str, baseline: str = "") -> str:
    base = f" --baseline {baseline}" if baseline else ""
    return (
        f"run %llmops eval --model models:/{ev.name}/{ev.version} --data EVAL_SET "
        f"--metrics {metric}{base}"
    )


def _metric_gate(gate: Gate, ev: Evidence) -> GateResult:
    s = gate.settings
    metric, on = s["metric"], s.get("on", "score")
    key = {"score": metric, "lower_bound": f"{metric}_ci_low", "upper_bound": f"{metric}_ci_high"}
    res = GateResult(gate.label, gate.kind, MISSING, line=gate.line)
    logged = [r for r in ev.evals if metric in r.metrics]
    if not logged:
        res.detail = f"{metric} was never logged for this version: {_eval_hint(ev, metric)}."
        return res
    with_bound = [r for r in logged if key[on] in r.metrics]
    if not with_bound:
        res.detail = (
            f"the eval runs of this version logged {metric} without a bootstrap interval: "
            f"{_eval_hint(ev, metric)} --bootstrap 1000."
        )
        res.run_id, res.link = logged[0].run_id, ev.link(logged[0])
        return res
    run = with_bound[0]  # the newest
    value = run.metrics[key[on]]
    threshold = float(s["min"] if "min" in s else s["max"])
    ok = value >= threshold if "min" in s else value <= threshold
    res.status, res.value, res.threshold = (PASS if ok else FAIL), value, threshold
    res.run_id, res.link = run.run_id, ev.link(run)
    res.detail = f"{on.replace('_', ' ')} {value:.4g} (newest of {len(logged)} eval run(s))"
    return res


def _regression_gate(gate: Gate, ev: Evidence) -> GateResult:
    from llmops_magics.evaluation import metrics

    metric, p_max = gate.settings["metric"], float(gate.settings.get("p", 0.05))
    res = GateResult(gate.label, gate.kind, MISSING, threshold=p_max, line=gate.line)
    if ev.alias is None or ev.holder is None:
        res.status = PASS
        res.detail = f"no version holds @{ev.alias} yet: nothing to regress against"
        return res
    holder_names = set(ev.holder_specs) | ev.holder_eval_ids
    compared = [
        r
        for r in ev.evals
        if r.baseline in holder_names
        and f"delta_{metric}" in r.metrics
        and f"p_{metric}" in r.metrics
    ]
    if not compared:
        res.detail = (
            f"no paired comparison of {metric} against the holder (version {ev.holder}): "
            f"{_eval_hint(ev, metric, f'models:/{ev.name}/{ev.holder}')}."
        )
        return res
    run = compared[0]
    delta, p = run.metrics[f"delta_{metric}"], run.metrics[f"p_{metric}"]
    worse = delta < 0 if metrics.get(metric).higher_is_better else delta > 0
    regressed = worse and p < p_max
    res.status, res.value = (FAIL if regressed else PASS), p
    res.run_id, res.link = run.run_id, ev.link(run)
    res.detail = f"delta {delta:+.4g} against version {ev.holder}, p = {p:.3g}" + (
        " (a significant regression)" if regressed else ""
    )
    return res


def _ratings_gate(gate: Gate, ev: Evidence) -> GateResult:
    s, frame = gate.settings, ev.ratings
    res = GateResult(gate.label, gate.kind, MISSING, line=gate.line)
    n = 0 if frame is None else len(frame)
    if n == 0:
        res.detail = (
            f"no ratings of this version yet: %llmops rate the outputs of models:/{ev.name}/"
            f"{ev.version} (generate with that spec)."
        )
        return res
    problems, missing, shown = [], [], [f"{n} rating(s)"]
    if "min_count" in s and n < s["min_count"]:
        problems.append(f"{n} < {s['min_count']} ratings")
    checks = (("min_mean_stars", "stars", "mean stars"), ("min_thumbs_up", "thumbs", "thumbs up"))
    for key, mode, words in checks:
        if key not in s:
            continue
        values = frame.loc[frame["mode"] == mode, "value"]
        if values.empty:
            missing.append(f"no {mode} ratings")
            continue
        value = (
            float(values.astype(float).mean())
            if mode == "stars"
            else float((values == "up").mean())
        )
        shown.append(f"{words} {value:.3g}")
        res.value = value
        if value < s[key]:
            problems.append(f"{words} {value:.3g} < {s[key]}")
    if missing:
        res.detail = "; ".join(missing + shown)
        return res
    res.status = FAIL if problems else PASS
    res.detail = "; ".join(problems or shown)
    if "min_count" in s:
        res.threshold = float(s["min_count"])
    return res


def _agreement_gate(gate: Gate, ev: Evidence) -> GateResult:
    from llmops_magics import feedback

    s, frame = gate.settings, ev.ratings
    res = GateResult(gate.label, gate.kind, MISSING, threshold=float(s["min"]), line=gate.line)
    if frame is None or frame.empty:
        res.detail = "no ratings of this version yet"
        return res
    mode = s.get("mode") or ("stars" if (frame["mode"] == "stars").any() else frame["mode"][0])
    mine = frame[frame["mode"] == mode]
    if mine["rater"].nunique() < 2:
        res.status = PASS
        res.detail = f"one rater of {mode}: agreement does not apply"
        return res
    try:
        rows = feedback.agreement(mine).rows
    except feedback.FeedbackError:
        res.detail = f"{mine['rater'].nunique()} raters but no {mode} item rated by two of them"
        return res
    prefix = ("krippendorff_alpha",) if s["statistic"] == "alpha" else ("cohen_kappa", "fleiss")
    found = [r for r in rows if r["statistic"].startswith(prefix)]
    if not found:
        res.detail = f"no {s['statistic']} for {mode} ratings"
        return res
    value = float(found[0]["value"])
    res.value = value
    res.status = PASS if math.isfinite(value) and value >= s["min"] else FAIL
    res.detail = (
        f"{found[0]['statistic']} {value:.3g} ({found[0]['interpretation']}), "
        f"{found[0]['raters']} raters, {found[0]['items']} items"
    )
    return res


def _bias_gate(gate: Gate, ev: Evidence) -> GateResult:
    s = gate.settings
    res = GateResult(gate.label, gate.kind, MISSING, threshold=float(s["max_gap"]), line=gate.line)
    wanted = [f"bias_gap_{s['metric']}"] if "metric" in s else None
    for run in ev.evals:
        gaps = {
            k: v
            for k, v in run.metrics.items()
            if k.startswith("bias_gap_") and (wanted is None or k in wanted) and math.isfinite(v)
        }
        if gaps:
            key = max(gaps, key=lambda k: abs(gaps[k]))
            res.value = abs(gaps[key])
            res.status = PASS if res.value <= s["max_gap"] else FAIL
            res.run_id, res.link = run.run_id, ev.link(run)
            res.detail = f"largest gap {gaps[key]:+.4g} ({key.removeprefix('bias_gap_')})"
            return res
    res.detail = (
        "no bias probe of this version: run %llmops eval --model models:/"
        f"{ev.name}/{ev.version} --data EVAL_SET --counterfactual 'he:she,his:her'"
    )
    return res


def _signoff_gate(gate: Gate, ev: Evidence) -> GateResult:
    from llmops_magics.governance._signoff import standing

    need = int(gate.settings["min"])
    res = GateResult(gate.label, gate.kind, MISSING, threshold=float(need), line=gate.line)
    approvers, blockers, stale = standing(ev.signoffs, author=ev.author, evidence=ev.digest())
    res.value = float(len(approvers))
    if blockers:
        res.status = FAIL
        res.detail = "; ".join(f"{who}: {what}" for who, what in blockers.items())
        return res
    if len(approvers) >= need:
        res.status = PASS
    note = f" ({', '.join(stale)} approved other evidence)" if stale else ""
    res.detail = (
        f"{len(approvers)} of {need} approval(s) by others than {ev.author or 'the author'}"
        f"{': ' + ', '.join(approvers) if approvers else ''}{note}"
    )
    if res.status == MISSING:
        res.detail += f"; an approver runs %llmops approve {ev.name} --version {ev.version}"
    return res


_CHECKS = {
    "metric": _metric_gate,
    "no_regression": _regression_gate,
    "ratings": _ratings_gate,
    "agreement": _agreement_gate,
    "bias": _bias_gate,
    "signoffs": _signoff_gate,
}


def check(rules: AliasPolicy, ev: Evidence) -> list[GateResult]:
    """Each gate of ``rules`` judged on ``ev`` (no store access)."""
    results = [_CHECKS[g.kind](g, ev) for g in rules.gates]
    for r in results:
        r.alias = rules.alias
    return results


# -- the policy of a model, and evaluate ---------------------------------------------------------


def current_policy(name: str, *, records: list[Any] | None = None) -> Policy:
    """The policy stored with model ``name``: the latest one :func:`set_policy` recorded."""
    from llmops_magics.governance._policy import model_policy

    return model_policy(name, records=records)


def evaluate(
    name: str,
    version: str | int,
    alias: str | None = None,
    policy: Policy | str | Path | None = None,
) -> GateReport:
    """Judge every gate that ``alias`` requires of ``name`` version ``version``, from the store
    as it is now.

    Parameters
    ----------
    name, version
        The registered model and its version (a number, or an alias naming one).
    alias
        The alias to judge against; default: every alias of the policy (each result says which).
    policy
        A :class:`Policy`, a YAML file's path or YAML text; default: the policy stored with the
        model (:func:`set_policy`).

    Returns
    -------
    GateReport
        A list-like of :class:`GateResult` (``pass``, ``fail`` or ``missing``); ``.passed``.
    """
    from llmops_magics.governance import _audit, _registry

    _registry.get_version(name, str(version))  # an unknown model or version first
    trail = _audit.records(name)  # read once: the policy and the sign-offs
    pol = current_policy(name, records=trail) if policy is None else load_policy(policy)
    chosen = [pol.for_alias(alias)] if alias is not None else list(pol.aliases.values())
    ev = collect(name, version, records=trail)
    known = _registry.versions(name)
    results: list[GateResult] = []
    for rules in chosen:
        results += check(rules, for_alias(ev, rules.alias, known))
    return GateReport(
        name,
        ev.version,
        ", ".join(r.alias for r in chosen),
        results,
        policy_hash=pol.hash,
        evidence_hash=ev.digest(),
        allow_override=all(r.allow_override for r in chosen),
    )


def gate_status(
    name: str, version: str | int, policy: Policy | str | Path | None = None
) -> dict[str, str]:
    """``{alias: pass|fail|missing}`` for every alias of the policy: ``fail`` when a gate
    fails, else ``missing`` when one lacks evidence, else ``pass``."""
    report = evaluate(name, version, policy=policy)
    out: dict[str, str] = {}
    for r in report:
        now = out.get(r.alias, PASS)
        rank = {PASS: 0, MISSING: 1, FAIL: 2}
        out[r.alias] = r.status if rank[r.status] > rank[now] else now
    return out
