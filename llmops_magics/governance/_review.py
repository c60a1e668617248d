"""A review of one registered version: the evidence, each gate with its run, the card draft and
the sign-offs so far; approve, reject and request changes as methods (the review panel's buttons
call them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.governance._errors import PolicyError
from llmops_magics.governance._gates import Evidence, GateReport
from llmops_magics.governance._policy import Policy
from llmops_magics.governance._signoff import SignOff
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Review", "review"]


@dataclass
class Review(Result):
    """What a reviewer of ``name`` version ``version`` sees, read from the store now.

    Shown in a notebook as the review panel; :meth:`approve`, :meth:`reject` and
    :meth:`request_changes` record a sign-off (with the hash of this evidence) and refresh.
    """

    name: str
    version: str
    alias: str | None
    evidence: Evidence
    gates: GateReport | None
    card: str = ""
    needs_human: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    policy: Policy | str | Path | None = None

    _title = "review"
    _live_panel = True

    # -- what it shows -----------------------------------------------------------------------

    @property
    def signoffs(self) -> list[SignOff]:
        """The sign-offs on this version so far, oldest first."""
        return list(self.evidence.signoffs)

    def evals_frame(self) -> pd.DataFrame:
        """One row per eval run and metric: score, interval, delta and p against its baseline,
        the baseline, and the run (with its link). Every eval run of the version is listed: a
        run logged without bootstrap intervals (``--bootstrap 0``) has empty (NaN) interval
        cells, and a run that logged no score has one row with an empty metric."""
        import pandas as pd

        rows = []
        for run in self.evidence.evals:
            for m in _scores(run.metrics) or [""]:
                rows.append(
                    {
                        "metric": m,
                        "score": run.metrics.get(m, math.nan),
                        "ci_low": run.metrics.get(f"{m}_ci_low", math.nan),
                        "ci_high": run.metrics.get(f"{m}_ci_high", math.nan),
                        "delta": run.metrics.get(f"delta_{m}", math.nan),
                        "p_value": run.metrics.get(f"p_{m}", math.nan),
                        "bias_gap": run.metrics.get(f"bias_gap_{m}", math.nan),
                        "baseline": run.baseline,
                        "run_id": run.run_id,
                        "link": self.evidence.link(run),
                    }
                )
        cols = ["metric", "score", "ci_low", "ci_high", "delta", "p_value", "bias_gap"]
        return pd.DataFrame(rows, columns=[*cols, "baseline", "run_id", "link"])

    def feedback_summary(self) -> dict[str, Any]:
        """Ratings of this version: how many, by how many raters, mean stars, thumbs-up share."""
        frame = self.evidence.ratings
        if frame is None or frame.empty:
            return {"ratings": 0}
        out: dict[str, Any] = {"ratings": len(frame), "raters": int(frame["rater"].nunique())}
        stars = frame.loc[frame["mode"] == "stars", "value"]
        if not stars.empty:
            out["mean_stars"] = round(float(stars.astype(float).mean()), 3)
        thumbs = frame.loc[frame["mode"] == "thumbs", "value"]
        if not thumbs.empty:
            out["thumbs_up"] = round(float((thumbs == "up").mean()), 3)
        return out

    def to_frame(self) -> pd.DataFrame:
        """The gates: gate, status, value, threshold, detail, run_id, link."""
        import pandas as pd

        if self.gates is None:
            return pd.DataFrame(columns=["gate", "status", "detail"])
        return self.gates.to_frame()

    def _summary(self) -> str:
        verdict = (
            "no policy"
            if self.gates is None
            else ("all gates pass" if self.gates.passed else "blocked")
        )
        on = f" for @{self.alias}" if self.alias else ""
        return (
            f"review of {self.name}/{self.version}{on}: {verdict} · "
            f"{len(self.evidence.evals)} eval run(s) · {self.feedback_summary()['ratings']} "
            f"rating(s) · {len(self.signoffs)} sign-off(s)"
        )

    def __repr__(self) -> str:
        lines = [self._summary(), *self.notes]
        if self.gates is not None:
            lines += repr(self.gates).splitlines()[1:]
        return "\n".join(lines)

    # -- what a reviewer does ----------------------------------------------------------------

    def _sign(self, decision: str, comment: str, user: str | None) -> SignOff:
        from llmops_magics.governance._signoff import sign_off

        made = sign_off(
            self.name, self.version, decision, user=user, comment=comment, alias=self.alias
        )
        self.refresh()
        return made

    def approve(self, comment: str = "", *, user: str | None = None) -> SignOff:
        """Approve this version (not its author); the review then reads the store again."""
        return self._sign("approve", comment, user)

    def reject(self, comment: str, *, user: str | None = None) -> SignOff:
        """Reject this version, saying why."""
        return self._sign("reject", comment, user)

    def request_changes(self, comment: str, *, user: str | None = None) -> SignOff:
        """Ask the author for changes, saying which."""
        return self._sign("request_changes", comment, user)

    def refresh(self) -> Review:
        """Read the evidence and the gates from the store again (the card draft stays)."""
        fresh = _read(self.name, self.version, self.alias, self.policy)
        self.evidence, self.gates, self.notes = fresh.evidence, fresh.gates, fresh.notes
        self.alias = fresh.alias
        return self


_DERIVED = (("", "_ci_low"), ("", "_ci_high"), ("delta_", ""), ("p_", ""), ("bias_gap_", ""))


def _scores(metrics: dict[str, float]) -> list[str]:
    """The metric names of an eval run's logged values, in their order: every key but the
    interval bounds, deltas, p-values and bias gaps of another of its keys (the eval stage's
    names, ``evaluation/_tracking.py``). A bias gap or delta whose score was not logged stays
    listed under its own name, so nothing logged is hidden."""
    derived = {
        key
        for key in metrics
        for pre, post in _DERIVED
        if key.startswith(pre)
        and key.endswith(post)
        and key[len(pre) : len(key) - len(post)] in metrics
    }
    return [k for k in metrics if k not in derived]


def _read(name: str, version: str, alias: str | None, policy: Policy | str | Path | None) -> Review:
    from llmops_magics.governance import _registry
    from llmops_magics.governance._gates import check, collect, for_alias
    from llmops_magics.governance._policy import load_policy, model_policy

    ev = collect(name, version)
    notes: list[str] = []
    try:
        pol = model_policy(name) if policy is None else load_policy(policy)
        rules = pol.for_alias(alias)
    except PolicyError as exc:
        if policy is not None or "no policy" not in exc.message:
            raise
        notes.append(f"{exc.message} {exc.hint or ''}".strip())
        return Review(name, ev.version, alias, ev, None, notes=notes, policy=policy)
    ev = for_alias(ev, rules.alias, _registry.versions(name))
    report = GateReport(
        name,
        ev.version,
        rules.alias,
        check(rules, ev),
        policy_hash=pol.hash,
        evidence_hash=ev.digest(),
        allow_override=rules.allow_override,
    )
    if ev.holder:
        notes.append(f"@{rules.alias} is held by version {ev.holder} now")
    return Review(name, ev.version, rules.alias, ev, report, notes=notes, policy=policy)


def review(
    name: str,
    version: str | int,
    *,
    alias: str | None = None,
    policy: Policy | str | Path | None = None,
    card: bool = True,
) -> Review:
    """The review of ``name`` version ``version`` (a number or an alias) for ``alias``.

    Parameters
    ----------
    name, version
        The registered model and its version.
    alias
        The alias the version is reviewed for (default: the policy's only alias).
    policy
        A policy (object, YAML file or text); default: the one stored with the model.
    card
        Draft the model card too (not stored).
    """
    from llmops_magics.governance._card import model_card

    result = _read(name, str(version), alias, policy)
    if card:
        draft = model_card(f"{name}/{result.version}", save=False)
        result.card, result.needs_human = draft.text, draft.needs_human
    return result
