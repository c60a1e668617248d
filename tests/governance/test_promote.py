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


@pytest.fixture(scope="module")
def mlflow_server(gov_workspace, tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1 (its own SQLite store, copied from a migrated one so
    it starts without migrations), stopped after the module."""
    import os
    import socket
    import sqlite3
    import subprocess
    import sys
    import time
    import urllib.request

    tracking.tracker()  # the module's store exists and is migrated
    root = tmp_path_factory.mktemp("mlflow-server")
    with (
        sqlite3.connect(gov_workspace / "mlflow.db") as src,
        sqlite3.connect(root / "server.db") as dst,
    ):
        src.backup(dst)  # the WAL's pages too
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--backend-store-uri", f"sqlite:///{root / 'server.db'}", "--workers", "1"]
    cmd += ["--artifacts-destination", str(root / "artifacts")]
    log = open(root / "server.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((root / "server.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        yield url, root / "server.db"
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        log.close()


@pytest.mark.slow  # starting mlflow server takes 20 s quiet, minutes on a loaded machine
def test_against_a_real_mlflow_server(
    mlflow_server, gov_workspace, tiny_model, tmp_path, monkeypatch
):
    """Versions, the policy, sign-offs, promotion and the audit trail all live on the server:
    a fresh workspace pointed at it sees them, and tampering there is found."""
    import sqlite3

    from llmops_magics import models, workspace
    from llmops_magics.governance import _policy, _signoff

    url, db = mlflow_server
    monkeypatch.setenv("LLMOPS_TRACKING_URI", url)
    workspace.use(tmp_path / ".llmops")
    try:
        v = governance.register(str(tiny_model), "srv-bot", author="alice")
        assert v.version == "1" and v.tags[tracking.LOGGED_MODEL].startswith("m-")
        _policy.set_policy("srv-bot", "aliases: {champion: {gates: [{signoffs: {min: 1}}]}}")
        with pytest.raises(governance.PromotionBlockedError, match="missing"):
            _promote.promote("srv-bot", 1, "champion", user="carol")
        _signoff.approve("srv-bot", 1, user="bob")
        _promote.promote("srv-bot", 1, "champion", user="carol")
        assert models.resolve("models:/srv-bot@champion").path == tiny_model
        workspace.use(tmp_path / "another" / ".llmops")  # nothing local: all on the server
        assert [r.kind for r in governance.records("srv-bot")] == [
            "register",
            "policy",
            "signoff",
            "promote",
        ]
        assert governance.verify("srv-bot").ok
        run_id = tracking.model_registry().records_run("srv-bot")
        with sqlite3.connect(db) as con:
            con.execute(
                "UPDATE params SET value = replace(value, 'carol', 'mallory') "
                "WHERE run_uuid = ? AND key = 'audit.000004'",
                (run_id,),
            )
        tracking.model_registry().client.delete_registered_model_alias("srv-bot", "champion")
        found = {(f.seq, f.problem) for f in governance.verify("srv-bot").findings}
        assert found == {(4, "edited"), (None, "alias")}
    finally:
        monkeypatch.delenv("LLMOPS_TRACKING_URI")
        workspace.use(gov_workspace)  # back to the module's store (not the default workspace)


def test_nothing_half_written_when_a_step_fails(bot, tiny_model, monkeypatch):
    """A registration whose record cannot be written leaves no version; a promotion whose alias
    cannot be moved is reverted in the trail, which still verifies."""
    from llmops_magics.governance import _registry

    before = [v.version for v in governance.versions(bot)]

    def refuse(*args, **kwargs):
        raise governance.AuditError("the store is read-only")

    with monkeypatch.context() as m:
        m.setattr(_audit, "append", refuse)
        with pytest.raises(governance.AuditError, match="read-only"):
            _registry.register(str(tiny_model), bot, author="alice")
    assert [v.version for v in governance.versions(bot)] == before

    if tracking.model_registry().version_by_alias(bot, "champion") is None:  # run on its own
        _promote.promote(bot, 1, "champion", user="carol", override=True, reason="set up")
    holder = governance.get_version(bot, "champion").version
    other = "2" if holder == "1" else "1"
    reg = type(tracking.model_registry())

    def broken(self, *args, **kwargs):
        raise tracking.TrackingError("connection lost")

    with monkeypatch.context() as m:
        m.setattr(reg, "set_alias", broken)
        with pytest.raises(tracking.TrackingError, match="connection lost"):
            _promote.promote(bot, other, "champion", user="carol", override=True, reason="x")
    assert governance.get_version(bot, "champion").version == holder
    assert [r.kind for r in governance.records(bot)][-2:] == ["override", "revert"]
    assert governance.verify(bot).ok
