"""Lineage: every artifact's origins and everything that came from it, rebuilt from the MLflow
store alone (run tags, traces, assessments), and ``reproduce`` to redo a run from its lineage.

>>> from llmops_magics import lineage
>>> g = lineage.graph("data:3f2a9c0d1b7e4a55")  # doctest: +SKIP
>>> lineage.impact("data:3f2a9c0d1b7e4a55").to_frame()  # adapters, evals, ratings  # doctest: +SKIP
>>> lineage.reproduce("<fine-tune run id>").identical  # doctest: +SKIP
True

Nodes have a kind (``data``, ``prepared``, ``recipe``, ``eda``, ``prep``, ``prompt``,
``finetune``, ``dpo``, ``adapter``, ``sweep``, ``trial``, ``eval``, ``trace``, ``assessment``,
``pipeline``...); later stages add kinds with :func:`register_kind` and read their records with
:func:`register_collector`.
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.lineage._api import downstream, graph, impact, lineage, path, upstream
    from llmops_magics.lineage._build import (
        COLLECTORS,
        Builder,
        Snapshot,
        build,
        register_collector,
    )
    from llmops_magics.lineage._config import LineageConfig, LineageConfigError, ReproduceConfig
    from llmops_magics.lineage._errors import (
        LineageError,
        ReproduceError,
        UnknownNodeError,
        WrongKindError,
    )
    from llmops_magics.lineage._graph import Edge, ImpactResult, LineageGraph, Node
    from llmops_magics.lineage._kinds import KINDS, NodeKind, register_kind
    from llmops_magics.lineage._links import ui_base
    from llmops_magics.lineage._reproduce import ReproduceResult, reproduce
    from llmops_magics.lineage._svg import layers

__all__ = [
    "COLLECTORS",
    "KINDS",
    "Builder",
    "Edge",
    "ImpactResult",
    "LineageConfig",
    "LineageConfigError",
    "LineageError",
    "LineageGraph",
    "Node",
    "NodeKind",
    "ReproduceConfig",
    "ReproduceError",
    "ReproduceResult",
    "Snapshot",
    "UnknownNodeError",
    "WrongKindError",
    "build",
    "downstream",
    "graph",
    "impact",
    "layers",
    "lineage",
    "path",
    "register_collector",
    "register_kind",
    "reproduce",
    "ui_base",
    "upstream",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "COLLECTORS": "_build",
        "KINDS": "_kinds",
        "Builder": "_build",
        "Edge": "_graph",
        "ImpactResult": "_graph",
        "LineageConfig": "_config",
        "LineageConfigError": "_config",
        "LineageError": "_errors",
        "LineageGraph": "_graph",
        "Node": "_graph",
        "NodeKind": "_kinds",
        "ReproduceConfig": "_config",
        "ReproduceError": "_errors",
        "ReproduceResult": "_reproduce",
        "Snapshot": "_build",
        "UnknownNodeError": "_errors",
        "WrongKindError": "_errors",
        "build": "_build",
        "downstream": "_api",
        "graph": "_api",
        "impact": "_api",
        "layers": "_svg",
        "lineage": "_api",
        "path": "_api",
        "register_collector": "_build",
        "register_kind": "_kinds",
        "reproduce": "_reproduce",
        "ui_base": "_links",
        "upstream": "_api",
    },
)
