"""Registered versions and aliases in the lineage graph.

A version is the node of its ``models:/NAME/VERSION`` spec (so the eval, prompt and serving runs
that name that spec hang from it), linked from what it was registered from (a fine-tune's
adapter, a model folder, the base) and to each alias that points to it now
(``models:/NAME@ALIAS``). Importing :mod:`llmops_magics.governance` registers the collector.
"""

from __future__ import annotations

from typing import Any

from llmops_magics import lineage, tracking

__all__ = ["collect_versions"]

lineage.register_kind("version", "a registered model version (models:/NAME/VERSION)", "#3a86ff")
lineage.register_kind("alias", "a registry alias (models:/NAME@ALIAS)", "#fb5607")


def collect_versions(snap: Any, b: Any) -> None:
    """Add every registered version and alias of the snapshot's store to the graph (its
    ``registry``: read with the store, without MLflow, for a local store)."""
    reg = snap.registry
    for model in reg.models():
        name = model.name
        nodes: dict[str, str] = {}
        for v in reg.versions(name):
            number = str(v.version)
            tags = dict(v.tags or {})
            node = b.model(f"models:/{name}/{number}")
            b.define(
                node,
                "version",
                f"{name} v{number}",
                name=name,
                version=number,
                source=tags.get(tracking.SPEC, v.source or ""),
                run_id=v.run_id or "",
                author=tags.get(tracking.AUTHOR, ""),
                created=int(v.creation_timestamp or 0),
                tags={k: t for k, t in tags.items() if k.startswith(tracking.PREFIX)},
            )
            if spec := tags.get(tracking.SPEC):
                b.link(b.model(spec), node, "registered-as")
            nodes[number] = node
        for alias, number in sorted((model.aliases or {}).items()):
            node = b.model(f"models:/{name}@{alias}")
            b.define(node, "alias", f"{name}@{alias}", name=name, alias=alias, version=str(number))
            if str(number) in nodes:
                b.link(nodes[str(number)], node, "holds")


lineage.register_collector("registry", collect_versions)
