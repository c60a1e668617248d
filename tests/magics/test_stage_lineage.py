"""The lineage stage's subcommands: lineage (flags from LineageConfig) and reproduce (flags from
ReproduceConfig); and the same commands from the console script."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from llmops_magics import lineage
from llmops_magics import workspace as workspace_module


@pytest.fixture(scope="module")
def lineage_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace of this module's own: other modules add runs on the same data hashes to the
    shared one, which would add their ratings to this chain's impact."""
    return tmp_path_factory.mktemp("lineage-magic") / ".llmops"


@pytest.fixture
def workspace(lineage_workspace: Path) -> Iterator[Path]:
    """This module's workspace, active for one test (``ip`` asks for it too)."""
    workspace_module.use(lineage_workspace)
    yield lineage_workspace
    workspace_module.use(None)


@pytest.fixture(scope="module")
def chain(lineage_workspace: Path) -> Iterator[dict[str, str]]:
    """A tagged chain (data → prep → fine-tune → eval → a rated trace)."""
    from llmops_magics.testing.lineage import lineage_store

    workspace_module.use(lineage_workspace)
    yield lineage_store()
    workspace_module.use(None)


def test_magic_lineage(ip, chain: dict[str, str], tmp_path: Path) -> None:
    s = chain
    g = ip.run_line_magic("llmops", f"lineage {s['eval']} -o g")
    assert isinstance(g, lineage.LineageGraph) and ip.user_ns["g"] is g
    assert g.focus == s["eval"] and f"data:{s['raw']}" in g and s["generate"] in g
    assert f"trace:{s['trace']}" not in g  # a sibling (the generation's), not its lineage
    impact = ip.run_line_magic("llmops", f"lineage data:{s['train']} --impact")
    assert impact.ids("adapter") == [f"adapter:{s['finetune']}"]
    assert impact.ids("assessment") == [f"assessment:{s['assessment']}"]
    up = ip.run_line_magic("llmops", f"lineage run:{s['finetune']} --direction upstream --depth 1")
    assert set(up.nodes) == {f"adapter:{s['finetune']}", s["finetune"]}
    svg = tmp_path / "g.svg"
    ip.run_line_magic("llmops", f"lineage {s['assessment']} --svg {svg}")
    assert svg.read_text().startswith("<svg") and f"assessment:{s['assessment']}" in svg.read_text()


def test_magic_bad_input(ip, chain: dict[str, str]) -> None:
    with pytest.raises(UsageError, match=r"--depth: depth=0 is out of range"):
        ip.run_line_magic("llmops", f"lineage {chain['eval']} --depth 0")
    with pytest.raises(UsageError, match="invalid choice: 'sideways'"):
        ip.run_line_magic("llmops", f"lineage {chain['eval']} --direction sideways")
    with pytest.raises(UsageError, match="--svg draws the graph"):
        ip.run_line_magic("llmops", f"lineage {chain['eval']} --impact --svg x.svg")
    with pytest.raises(lineage.UnknownNodeError, match="'0{32}'"):
        ip.run_line_magic("llmops", f"lineage {'0' * 32}")
    with pytest.raises(lineage.WrongKindError, match="not a prompt version"):
        ip.run_line_magic("llmops", "lineage prompt:qa")
    with pytest.raises(lineage.WrongKindError, match="is a prep run"):
        ip.run_line_magic("llmops", f"reproduce {chain['prep']}")
    with pytest.raises(UsageError, match=r"--tolerance"):
        ip.run_line_magic("llmops", f"reproduce {chain['eval']} --tolerance -1")


def test_reproduce_names_the_input_that_is_gone(ip, chain: dict[str, str]) -> None:
    # the tagged chain's fine-tune kept no config: the first input checked is named
    with pytest.raises(lineage.ReproduceError, match="config") as e:
        ip.run_line_magic("llmops", f"reproduce run:{chain['finetune']}")
    assert e.value.missing == "config"
    with pytest.raises(lineage.ReproduceError, match=f"eval data {chain['test']} is gone"):
        ip.run_line_magic("llmops", f"reproduce {chain['eval']}")


def test_cli(workspace, chain: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    from llmops_magics.cli import main

    assert main(["lineage", f"data:{chain['train']}", "--impact"]) == 0
    out = capsys.readouterr().out
    assert f"adapter:{chain['finetune']}" in out and "Impact of" in out
    assert main(["lineage", chain["finetune"]]) == 0
    assert f"data:{chain['train']} --trained-on--> {chain['finetune']}" in capsys.readouterr().out
    assert main(["reproduce", chain["prep"]]) == 1
    assert "WrongKindError" in capsys.readouterr().err
