"""Links from lineage nodes to the MLflow UI."""

from __future__ import annotations

import os

from llmops_magics.lineage._graph import Node

__all__ = ["UI_ENV", "ui_base", "ui_url"]

#: where the MLflow UI of a local store is served (``mlflow ui`` listens on port 5000)
UI_ENV = "LLMOPS_MLFLOW_UI"
_DEFAULT_UI = "http://127.0.0.1:5000"


def ui_base(tracking_uri: str) -> str:
    """The MLflow UI that shows ``tracking_uri``: the server itself, or ``$LLMOPS_MLFLOW_UI``
    (default ``http://127.0.0.1:5000``, where ``mlflow ui --backend-store-uri URI`` listens)."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return os.environ.get(UI_ENV, _DEFAULT_UI).rstrip("/")


def ui_url(node: Node, tracking_uri: str) -> str:
    """The node's page in the MLflow UI: a run's page, a trace in its experiment ('' if none)."""
    exp = node.attrs.get("experiment_id")
    if node.missing or not exp:
        return ""
    base = ui_base(tracking_uri)
    if node.kind == "trace" or node.kind == "assessment":
        trace = node.attrs.get("trace_id", "")
        return f"{base}/#/experiments/{exp}/traces?selectedEvaluationId={trace}"
    run_id = node.attrs.get("run_id")
    if run_id:
        return f"{base}/#/experiments/{exp}/runs/{run_id}"
    return ""
