"""Registered versions and aliases are nodes of the lineage graph."""

from __future__ import annotations

from llmops_magics import governance, lineage, tracking


def test_versions_and_aliases_join_the_graph(adapter_run):
    spec = adapter_run(seed=5)
    governance.register(spec, "lin-bot", author="alice")
    tracking.model_registry().set_alias("lin-bot", "champion", "1")
    with tracking.tracker().start_run("eval", tags={tracking.MODEL: "models:/lin-bot@champion"}):
        pass
    g = lineage.build(cache=False)
    version, alias = g.node("model:models:/lin-bot/1"), g.node("model:models:/lin-bot@champion")
    assert (version.kind, version.attrs["source"], version.attrs["author"]) == (
        "version",
        spec,
        "alice",
    )
    assert (alias.kind, alias.attrs["version"]) == ("alias", "1")
    adapter = f"adapter:{spec.removeprefix('run:')}"
    assert {(e.src, e.relation) for e in g.parents(version.id)} == {(adapter, "registered-as")}
    assert {(e.src, e.relation) for e in g.parents(alias.id)} == {(version.id, "holds")}
    # an eval of the alias hangs from it: the fine-tune's impact reaches it
    down = g.downstream_ids(adapter)
    assert version.id in down and alias.id in down
    assert any(g.node(n).kind == "eval" for n in g.downstream_ids(alias.id))
