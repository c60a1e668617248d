"""The registry's subcommands: register, registry, promote, rollback, audit (and the CLI)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from llmops_magics import governance, tracking

POLICY = "aliases: {champion: {gates: [{signoffs: {min: 1}}], allow_override: true}}"


def test_register_promote_rollback_and_audit_from_the_notebook(ip, tiny_model, monkeypatch):
    from llmops_magics.governance import _policy, _signoff

    monkeypatch.setenv("LLMOPS_USER", "alice")
    v = ip.run_line_magic("llmops", f"register {tiny_model} --name magic-bot -o v")
    assert isinstance(v, governance.Version) and ip.user_ns["v"] is v
    assert (v.version, v.author, v.source) == ("1", "alice", str(tiny_model))
    ip.run_line_magic("llmops", f"register {tiny_model} --name magic-bot --author alice")
    _policy.set_policy("magic-bot", POLICY, user="alice")
    listing = ip.run_line_magic("llmops", "registry magic-bot").to_frame()
    assert listing["gates"].tolist() == ["@champion: missing", "@champion: missing"]
    with pytest.raises(governance.PromotionBlockedError, match="missing"):
        ip.run_line_magic("llmops", "promote magic-bot --version 1 --alias champion --user carol")
    for version in (1, 2):
        _signoff.approve("magic-bot", version, user="bob")
    assert ip.run_line_magic("llmops", "registry magic-bot").to_frame()["gates"].tolist() == [
        "@champion: pass",
        "@champion: pass",
    ]
    done = ip.run_line_magic("llmops", "promote magic-bot --version 1 --user carol")
    assert (done.kind, done.alias, done.version) == ("promote", "champion", "1")
    ip.run_line_magic("llmops", "promote magic-bot --version 2 --user carol")
    back = ip.run_line_magic("llmops", "rollback magic-bot --alias champion --user dave")
    assert (back.version, back.previous) == ("1", "2")
    every = ip.run_line_magic("llmops", "registry --no-gates").to_frame().set_index("model")
    assert every.loc["magic-bot", "aliases"] == "@champion=1"
    trail = ip.run_line_magic("llmops", "audit magic-bot").to_frame()
    assert trail["kind"].tolist()[-3:] == ["promote", "promote", "rollback"]
    assert ip.run_line_magic("llmops", "audit magic-bot --verify").ok
    tracking.model_registry().set_alias("magic-bot", "champion", "2")  # outside the gate
    with pytest.raises(governance.AuditError, match="@champion points to version 2"):
        ip.run_line_magic("llmops", "audit magic-bot --verify")


def test_bad_input(ip):
    with pytest.raises(UsageError, match="--name"):
        ip.run_line_magic("llmops", "register smollm2")
    with pytest.raises(UsageError, match="--version"):
        ip.run_line_magic("llmops", "promote magic-bot")
    with pytest.raises(UsageError, match="--reason goes with --override"):
        ip.run_line_magic("llmops", "promote magic-bot --version 1 --reason why")
    with pytest.raises(governance.RegistryLookupError, match="no registered model 'nobody'"):
        ip.run_line_magic("llmops", "audit nobody")
    with pytest.raises(governance.RegistryLookupError, match="no registered model 'nobody'"):
        ip.run_line_magic("llmops", "registry nobody")
