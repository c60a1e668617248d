"""Promotion moves an alias only when every gate passes now; override, rollback, concurrent
promotions."""

from __future__ import annotations

import threading

import pytest

from llmops_magics import governance, tracking
from llmops_magics.governance import _audit, _gates, _promote

POLICY = """\
aliases:
  champion:
    gates:
      - metric: bleu
        min: 10
      - signoffs: {min: 1}
    allow_override: true
  strict:
    gates:
      - signoffs: {min: 2}
"""


def _eval(model_spec: str, bleu: float) -> str:
    """An eval run of a model spec, as the eval stage stores one."""
    with tracking.tracker().start_run("eval", tags={tracking.MODEL: model_spec}) as run:
        run.log_metrics({"bleu": bleu})
    return run.id


@pytest.fixture(scope="module")
def bot(gov_workspace, tiny_model):
    """Two versions by alice with a policy; version 1 has passing evidence."""
    name = "promo-bot"
    governance.register(str(tiny_model), name, author="alice")
    governance.register(str(tiny_model), name, author="alice")
    from llmops_magics.governance import _policy

    _policy.set_policy(name, POLICY, user="alice")
    _eval(f"models:/{name}/1", 20.0)
    return name


def test_promote_when_every_gate_passes_then_rollback(bot):
    from llmops_magics.governance import _signoff

    with pytest.raises(governance.PromotionBlockedError, match="sign-off") as blocked:
        _promote.promote(bot, 1, "champion", user="carol")
    assert {r.status for r in blocked.value.results} == {"pass", "missing"}
    assert tracking.model_registry().version_by_alias(bot, "champion") is None

    _signoff.approve(bot, 1, user="bob", comment="looks good")
    done = _promote.promote(bot, 1, "champion", user="carol")
    assert (done.kind, done.version, done.previous, done.user) == ("promote", "1", None, "carol")
    assert governance.get_version(bot, "champion").version == "1"
    record = governance.records(bot)[-1]
    assert (record.seq, record.kind, record.payload["version"]) == (done.record, "promote", "1")
    assert [g["status"] for g in record.payload["gates"]] == ["pass", "pass"]

    # version 2 has no eval: its bleu gate is missing, never pass; the override is recorded
    _signoff.approve(bot, 2, user="bob")
    with pytest.raises(
        governance.PromotionBlockedError,
        match=r"bleu >= 10 \(score\): missing \(bleu was never logged.*--override",
    ):
        _promote.promote(bot, 2, "champion", user="carol")
    with pytest.raises(governance.GovernanceError, match="needs a reason"):
        _promote.promote(bot, 2, "champion", user="carol", override=True)
    over = _promote.promote(bot, 2, "champion", user="carol", override=True, reason="hotfix")
    assert (over.kind, over.previous) == ("override", "1")
    assert governance.records(bot)[-1].payload["reason"] == "hotfix"
    assert governance.get_version(bot, "champion").version == "2"
    assert governance.verify(bot).ok

    back = _promote.rollback(bot, "champion", user="dave")
    assert (back.kind, back.version, back.previous) == ("rollback", "1", "2")
    assert governance.get_version(bot, "champion").version == "1"
    assert governance.verify(bot).ok
    with pytest.raises(governance.GovernanceError, match="no earlier holder"):
        _promote.rollback(bot, "champion", user="dave")


def test_an_override_the_policy_does_not_allow(bot):
    with pytest.raises(governance.GovernanceError, match="does not allow overriding"):
        _promote.promote(bot, 2, "strict", user="carol", override=True, reason="now")
    assert tracking.model_registry().version_by_alias(bot, "strict") is None


def test_bad_promotions(bot):
    with pytest.raises(governance.RegistryLookupError, match="no version 9"):
        _promote.promote(bot, 9, "champion", user="carol")
    with pytest.raises(governance.RegistryLookupError, match="no registered model"):
        _promote.promote("ghost-bot", 1, "champion", user="carol")
    with pytest.raises(governance.GovernanceError, match="cannot be an alias"):
        _promote.promote(bot, 1, "latest", user="carol")
    with pytest.raises(governance.RegistryLookupError, match="no alias 'staging'"):
        _promote.rollback(bot, "staging", user="carol")


def test_two_promotions_at_once_one_wins(bot, tiny_model, monkeypatch):
    """Both decide on the same trail (a barrier after each has judged its gates); one record is
    written, the other promotion fails and moves nothing."""
    from llmops_magics.governance import _signoff

    name = "race-bot"
    for _ in range(2):
        governance.register(str(tiny_model), name, author="alice")
    from llmops_magics.governance import _policy

    _policy.set_policy(name, "aliases: {champion: {gates: [{signoffs: {min: 1}}]}}", user="alice")
    for v in (1, 2):
        _signoff.approve(name, v, user="bob")
    barrier = threading.Barrier(2, timeout=30)
    judge = _gates.evaluate

    def judged_then_wait(*args, **kwargs):
        report = judge(*args, **kwargs)
        barrier.wait()
        return report

    monkeypatch.setattr(_gates, "evaluate", judged_then_wait)
    outcome: dict[int, object] = {}

    def go(version: int) -> None:
        try:
            outcome[version] = _promote.promote(name, version, "champion", user="carol")
        except Exception as exc:
            outcome[version] = exc

    threads = [threading.Thread(target=go, args=(v,)) for v in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    won = [v for v, o in outcome.items() if isinstance(o, _promote.Promotion)]
    lost = [o for o in outcome.values() if isinstance(o, governance.PromotionConflictError)]
    assert len(won) == 1 and len(lost) == 1, outcome
    assert "changed nothing" in str(lost[0])
    assert governance.get_version(name, "champion").version == str(won[0])
    assert [r.kind for r in governance.records(name)].count("promote") == 1
    assert governance.verify(name).ok
    assert _audit.head(name) == len(governance.records(name))
