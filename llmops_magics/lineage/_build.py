"""Rebuilding the lineage graph from the MLflow store alone: the runs with their lineage tags,
the traces with their assessments. No side database: a fresh process gives the same graph.

Each kind of record is read by a *collector*; later stages (registered versions and aliases,
serving deployments) add theirs with :func:`register_collector` and their node kinds with
:func:`~llmops_magics.lineage.register_kind`.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics._registry import Registry
from llmops_magics.lineage._graph import Edge, LineageGraph, Node
from llmops_magics.lineage._kinds import kind_of_stage

if TYPE_CHECKING:
    from llmops_magics.workspace import Workspace

__all__ = ["COLLECTORS", "Builder", "Snapshot", "build", "register_collector"]

#: what the other stages write and lineage reads (their modules are private to them)
EVAL_GENERATE_RUN = tracking.PREFIX + "generate_run_id"
EVAL_BASELINE = tracking.PREFIX + "baseline"
PREFERENCE_RATINGS = tracking.PREFIX + "preference_ratings"
PREFERENCES_ARTIFACT = "preferences_lineage.json"
SOURCE_TRACES = tracking.PREFIX + "source_traces"
PROMPT_URI = tracking.PROMPT + "_uri.v"
PIPELINE_OUTPUT = "llmops.outputs."
EXPORT_KIND = "export"  # feedback exports (feedback._export)
EXPORT_FORMAT = tracking.PREFIX + "export.format"
EXPORT_ARTIFACT = "export_lineage.json"
_HEX = frozenset("0123456789abcdef")


def data_id(digest: str) -> str:
    return f"data:{digest}"


def model_id(spec: str) -> str:
    """A model spec's node: the adapter of a fine-tune run, or a base model."""
    if spec.startswith("run:"):
        return f"adapter:{spec.removeprefix('run:')}"
    return f"model:{spec}"


def is_hash(text: str) -> bool:
    return len(text) >= 8 and set(text) <= _HEX


class Snapshot:
    """What the store holds, read once: every run and every trace (with assessments), and the
    model registry.

    ``runs``: every active run, newest first: ``run.info`` (``run_id``, ``experiment_id``,
    ``run_name``, ``status``, ``start_time``, ``artifact_uri``...) and ``run.data`` (``tags``,
    ``params``, ``metrics`` dicts), as on an MLflow ``Run``. ``traces``: every trace;
    ``trace.info`` has ``trace_id``, ``experiment_id``, ``tags``, ``trace_metadata`` and
    ``assessments`` as MLflow's ``TraceInfo``. A local SQLite store is read without MLflow:
    ``tracker`` is then made (and MLflow imported) only if a collector asks for it.
    """

    def __init__(
        self,
        tracker: tracking.Tracker | None,
        runs: list[Any],
        traces: list[Any],
        *,
        workspace: Workspace | None = None,
        registry: Any = None,
    ) -> None:
        if tracker is None and workspace is None:
            raise ValueError("a Snapshot needs a tracker or a workspace")
        self._tracker = tracker
        self.workspace = workspace if workspace is not None else tracker.workspace  # type: ignore[union-attr]
        self.runs = runs
        self.traces = traces
        self._registry = registry

    @property
    def tracker(self) -> tracking.Tracker:
        """The store's tracker (made on first use)."""
        if self._tracker is None:
            self._tracker = tracking.tracker(self.workspace)
        return self._tracker

    @property
    def registry(self) -> Any:
        """The model registry: ``models()`` (``.name``, ``.aliases``) and ``versions(name)``
        (``.version``, ``.tags``, ``.source``, ``.run_id``, ``.creation_timestamp``)."""
        if self._registry is None:
            self._registry = tracking.model_registry(self.tracker)
        return self._registry

    def load_json(self, run: Any, path: str) -> Any:
        """A JSON artifact of ``run`` (read from its folder when the store keeps artifacts on
        this machine)."""
        local = run.local_artifact(path) if hasattr(run, "local_artifact") else None
        if local is not None:
            return json.loads(local.read_text(encoding="utf-8"))
        return self.tracker.load_json(run.info.run_id, path)


@dataclass
class Builder:
    """Nodes and edges being collected; a node only referred to stays ``missing`` unless a
    record defines it."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], Edge] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)

    def define(self, node_id: str, kind: str, label: str = "", **attrs: Any) -> str:
        """Add a node that the store holds (its details in ``attrs``)."""
        node = self.nodes.get(node_id)
        if node is None:  # ``attrs`` is this call's own dict
            self.nodes[node_id] = Node(node_id, kind, label or node_id, attrs)
        else:
            node.kind, node.label = kind, label or node.label
            node.attrs.update(attrs)
        self.defined.add(node_id)
        return node_id

    def refer(self, node_id: str, kind: str, label: str = "") -> str:
        """A node that a record refers to (a data hash, a model, another run)."""
        if node_id not in self.nodes:
            self.nodes[node_id] = Node(node_id, kind, label or node_id)
        return node_id

    def link(self, src: str, dst: str, relation: str) -> None:
        """``dst`` came from ``src``."""
        if src != dst:
            self.edges.setdefault((src, dst, relation), Edge(src, dst, relation))

    def data(self, digest: str, kind: str = "data") -> str:
        node_id = self.refer(data_id(digest), kind, f"data {digest[:12]}")
        if kind != "data":
            self.nodes[node_id].kind = kind
        return node_id

    def model(self, spec: str) -> str:
        node_id = model_id(spec)
        return self.refer(node_id, "adapter" if node_id.startswith("adapter:") else "model", spec)

    def run(self, run_id: str) -> str:
        return self.refer(run_id, "run", f"run {run_id[:8]}")

    def graph(self, tracking_uri: str) -> LineageGraph:
        """The graph; what was referred to but never defined is marked missing."""
        for node_id, node in self.nodes.items():
            if node.kind in _STORED and node_id not in self.defined:
                node.missing = True
                node.attrs.setdefault("note", "referred to, but the store no longer holds it")
        return LineageGraph(dict(self.nodes), list(self.edges.values()), None, tracking_uri)


#: node kinds that the store defines: a reference to one it does not hold is "missing"
_STORED = frozenset(
    {
        "run",
        "eda",
        "prep",
        "prompt_run",
        "chain",
        "generate",
        "finetune",
        "dpo",
        "adapter",
        "sweep",
        "trial",
        "eval",
        "trace",
        "assessment",
        "feedback",
        "pipeline",
    }
)

Collector = Callable[[Snapshot, Builder], None]
COLLECTORS: Registry[Collector] = Registry("lineage collector")


def register_collector(name: str, collector: Collector) -> Collector:
    """Add a collector: ``collector(snapshot, builder)`` adds the nodes and edges of a kind of
    record (e.g. registered model versions) to the graph being built."""
    return COLLECTORS.register(name, collector, replace=True)


# --- runs --------------------------------------------------------------------------------------


def _run_attrs(run: Any, prefix: str = tracking.PREFIX) -> dict[str, Any]:
    """A run node's details: the snapshot's own dicts of params and metrics (read for this
    build alone, not copied again), its lineage tags."""
    info, data = run.info, run.data
    return {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "name": info.run_name or "",
        "status": info.status,
        "start_time": info.start_time,
        "params": data.params,
        "metrics": data.metrics,
        "tags": {k: v for k, v in data.tags.items() if k.startswith(prefix)},
    }


def _runs(snap: Snapshot, b: Builder) -> None:
    for run in snap.runs:
        tags = run.data.tags
        rid = run.info.run_id
        stage = tags.get(tracking.STAGE, "")
        kind = kind_of_stage(stage, tags.get(tracking.METHOD, ""))
        b.define(rid, kind, run.info.run_name or f"{stage or 'run'} {rid[:8]}", **_run_attrs(run))
        if parent := tags.get(tracking.PARENT_RUN):
            b.link(b.run(parent), rid, "contains")
        if pipeline := tags.get(tracking.PIPELINE_RUN):
            b.link(b.run(pipeline), rid, "ran")
        if original := tags.get(tracking.REPRODUCES):
            b.link(b.run(original), rid, "reproduced")
        handler = _STAGES.get(stage)
        if handler is not None:
            handler(snap, b, run)


def _eda(snap: Snapshot, b: Builder, run: Any) -> None:
    if digest := run.data.tags.get(tracking.DATA_HASH):
        b.link(b.data(digest), run.info.run_id, "profiled")


def _prep(snap: Snapshot, b: Builder, run: Any) -> None:
    tags, rid = run.data.tags, run.info.run_id
    if digest := tags.get(tracking.INPUT_HASH):
        b.link(b.data(digest), rid, "prepared-from")
    recipe = json.dumps(dict(sorted(run.data.params.items())))
    rec = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    b.define(f"recipe:{rec}", "recipe", f"recipe {rec}", params=dict(run.data.params))
    b.link(f"recipe:{rec}", rid, "applied")
    out = tags.get(tracking.DATA_HASH)
    if out:
        b.link(rid, b.data(out, "prepared"), "produced")
    for key, value in tags.items():
        if key.startswith(tracking.SPLIT_HASH + "."):
            split = b.data(value)
            b.nodes[split].attrs.setdefault("split", key.rsplit(".", 1)[1])
            b.link(b.data(out, "prepared") if out else rid, split, "split")


def _finetune(snap: Snapshot, b: Builder, run: Any) -> None:
    tags, rid = run.data.tags, run.info.run_id
    for content, source, legacy, relation in (
        (tracking.DATA_CONTENT_HASH, tracking.DATA_SOURCE_HASH, tracking.DATA_HASH, "trained-on"),
        (
            tracking.EVAL_DATA_CONTENT_HASH,
            tracking.EVAL_DATA_SOURCE_HASH,
            tracking.EVAL_DATA_HASH,
            "validated-on",
        ),
    ):
        rows = tags.get(content) or tags.get(legacy)
        if not rows:
            continue
        b.link(b.data(rows), rid, relation)
        if (given := tags.get(source)) and given != rows:  # the columns it read of a frame
            b.link(b.data(given), b.data(rows), "columns")
    if base := tags.get(tracking.BASE_MODEL):
        b.link(b.model(base), rid, "base-model")
    if version := tags.get(tracking.PROMPT_VERSION):
        b.link(_prompt(b, version), rid, "prompted-with")
    if tags.get(tracking.CHECKPOINT_DIR) or run.info.status == "FINISHED":
        adapter = b.define(
            model_id(f"run:{rid}"),
            "adapter",
            f"adapter run:{rid[:8]}",
            run_id=rid,
            experiment_id=run.info.experiment_id,
            spec=f"run:{rid}",
        )
        b.link(rid, adapter, "produced")
    if tags.get(PREFERENCE_RATINGS, "0") not in ("", "0"):
        _preferences(snap, b, run)


def _preferences(snap: Snapshot, b: Builder, run: Any) -> None:
    """A DPO run learned from ratings: its artifact names the assessments and traces."""
    try:
        found = snap.load_json(run, PREFERENCES_ARTIFACT)
    except Exception:  # an artifact that is gone: the run stays, without these edges
        b.nodes[run.info.run_id].attrs["note"] = f"{PREFERENCES_ARTIFACT} is gone"
        return
    for assessment in found.get("assessment_ids", []):
        b.link(b.refer(f"assessment:{assessment}", "assessment"), run.info.run_id, "trained-on")


def _prompt(b: Builder, version: str) -> str:
    version = version.removeprefix("prompts:/").removeprefix("prompt:")
    return b.refer(f"prompt:{version}", "prompt", f"prompt {version}")


def _eval(snap: Snapshot, b: Builder, run: Any) -> None:
    tags, rid = run.data.tags, run.info.run_id
    digest = tags.get(tracking.DATA_HASH)
    if digest:
        b.link(b.data(digest), rid, "evaluated-on")
    model = tags.get(tracking.MODEL, "")
    if model and not model.startswith("column "):
        b.link(b.model(model), rid, "evaluated")
    if version := tags.get(tracking.PROMPT_VERSION):
        b.link(_prompt(b, version), rid, "prompted-with")
    if generated := tags.get(EVAL_GENERATE_RUN):
        b.link(b.run(generated), rid, "scored")
        if digest:  # the generation's prompts are the eval data's
            b.link(b.data(digest), generated, "prompts-from")
    baseline = tags.get(EVAL_BASELINE, "")
    if len(baseline) == 32 and set(baseline) <= _HEX:
        b.link(b.run(baseline), rid, "compared-with")


def _generate(snap: Snapshot, b: Builder, run: Any) -> None:
    if model := run.data.tags.get(tracking.MODEL):
        b.link(b.model(model), run.info.run_id, "generated-by")


def _prompt_run(snap: Snapshot, b: Builder, run: Any) -> None:
    tags, rid = run.data.tags, run.info.run_id
    if digest := tags.get(tracking.DATA_HASH):
        b.link(b.data(digest), rid, "input")
    for key, uri in tags.items():
        if key.startswith(PROMPT_URI):
            b.link(_prompt(b, uri), rid, "prompted-with")
    if version := tags.get(tracking.PROMPT_VERSION):
        b.link(_prompt(b, version), rid, "prompted-with")


def _feedback(snap: Snapshot, b: Builder, run: Any) -> None:
    """A feedback export: the ratings it was made of, and the data set it wrote (by the content
    hash of the file as a fine-tune reads it)."""
    tags, rid = run.data.tags, run.info.run_id
    if tags.get(tracking.KIND) != EXPORT_KIND:
        return
    b.nodes[rid].label = f"export {tags.get(EXPORT_FORMAT, '')} {rid[:8]}".replace("  ", " ")
    if digest := tags.get(tracking.DATA_HASH):
        b.link(rid, b.data(digest), "exported-to")
    try:
        found = snap.load_json(run, EXPORT_ARTIFACT)
    except Exception:  # an artifact that is gone: the export stays, without these edges
        b.nodes[rid].attrs["note"] = f"{EXPORT_ARTIFACT} is gone"
        return
    for assessment in found.get("assessment_ids", []):
        b.link(b.refer(f"assessment:{assessment}", "assessment"), rid, "exported")


def _serve(snap: Snapshot, b: Builder, run: Any) -> None:
    """A server's run: the model specs it served (parameters ``model.<name>``)."""
    for key, spec in run.data.params.items():
        if key.startswith("model.") and spec:
            b.link(b.model(spec), run.info.run_id, "served")


_STAGES: dict[str, Callable[[Snapshot, Builder, Any], None]] = {
    "serve": _serve,
    "feedback": _feedback,
    "eda": _eda,
    "prep": _prep,
    "finetune": _finetune,
    "eval": _eval,
    "generate": _generate,
    "prompt": _prompt_run,
    "chain": _prompt_run,
}


def _pipelines(snap: Snapshot, b: Builder) -> None:
    """A pipeline's stages pass data by hash: a stage's ``*_hash`` parameters are its inputs,
    its ``*_hash`` outputs what its runs produced."""
    by_stage: dict[tuple[str, str], list[str]] = {}
    for run in snap.runs:
        tags = run.data.tags
        if (p := tags.get(tracking.PIPELINE_RUN)) and (s := tags.get(tracking.PIPELINE_STAGE)):
            by_stage.setdefault((p, s), []).append(run.info.run_id)
    for run in snap.runs:
        if run.data.tags.get(tracking.STAGE) != "pipeline":
            continue
        pid = run.info.run_id
        for key, value in run.data.params.items():
            stage, _, name = key.partition(".")
            if name.endswith("hash") and is_hash(value):
                for dst in by_stage.get((pid, stage), [pid]):
                    b.link(b.data(value), dst, "input")
        for key, value in run.data.tags.items():
            if not key.startswith(PIPELINE_OUTPUT):
                continue
            stage, _, name = key.removeprefix(PIPELINE_OUTPUT).partition(".")
            if name.endswith("hash") and is_hash(value):
                for src in by_stage.get((pid, stage), [pid]):
                    b.link(src, b.data(value), "produced")


# --- traces and assessments --------------------------------------------------------------------


def _traces(snap: Snapshot, b: Builder) -> None:
    for trace in snap.traces:
        info = trace.info
        tid = info.trace_id
        tags = dict(info.tags or {})
        meta = dict(getattr(info, "trace_metadata", None) or {})
        node = b.define(
            f"trace:{tid}",
            "trace",
            f"trace {tid[:12]}",
            trace_id=tid,
            experiment_id=getattr(info, "experiment_id", None),
            tags={k: v for k, v in tags.items() if k.startswith(tracking.PREFIX)},
        )
        source = meta.get("mlflow.sourceRun") or tags.get(tracking.RUN_ID)
        if source:
            b.link(b.run(source), node, "generated")
        model = tags.get(tracking.MODEL)
        if model and tags.get(tracking.SERVED) != "true":  # a served trace names the model's
            b.link(b.model(model), node, "output-of")  # public name; its run links the spec
        for other in filter(None, tags.get(SOURCE_TRACES, "").split(",")):
            b.link(b.refer(f"trace:{other}", "trace"), node, "copied")
        for a in info.assessments or []:
            value = a.feedback.value if getattr(a, "feedback", None) is not None else None
            aid = b.define(
                f"assessment:{a.assessment_id}",
                "assessment",
                f"{a.name} = {value}",
                assessment_id=a.assessment_id,
                trace_id=tid,
                experiment_id=getattr(info, "experiment_id", None),
                name=a.name,
                value=value,
                rater=a.source.source_id if a.source else "",
                valid=getattr(a, "valid", True),
            )
            b.link(node, aid, "rated")


register_collector("runs", _runs)
register_collector("pipelines", _pipelines)
register_collector("traces", _traces)


def snapshot(tracker: tracking.Tracker) -> Snapshot:
    """Read every run and trace of the store once through MLflow (in a few bulk queries on a
    SQL store, paged searches on a server)."""
    runs, traces = tracker.read_all()
    return Snapshot(tracker, runs, traces)


def read_store(ws: Workspace, tracker: tracking.Tracker | None = None) -> Snapshot:
    """Read the store once: a local SQLite store with the standard library alone (no MLflow
    import: a fresh process answers in a fraction of a second), any other through MLflow."""
    uri = tracker.uri if tracker else ws.tracking_uri
    local = tracking.Tracker.read_local(uri)
    if local is None:
        return snapshot(tracker or tracking.tracker(ws))
    return Snapshot(tracker, local.runs, local.traces, workspace=ws, registry=local.registry)


#: stages that add collectors when imported: imported before every build, so that every process
#: (whatever it imported before) builds the same graph from the same store
PLUGINS = ("llmops_magics.governance",)


def _load_plugins() -> None:
    import importlib

    for name in PLUGINS:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a stage not in this installation
            if exc.name != name:
                raise


def _collectors() -> list[str]:
    """The registered collectors, by name and function (the cache's key)."""
    _load_plugins()
    out = []
    for name in COLLECTORS:
        fn = COLLECTORS.get(name)
        out.append(f"{name}={getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}")
    return out


def collect(snap: Snapshot, uri: str) -> LineageGraph:
    """The graph that the registered collectors make of ``snap`` (a store at ``uri``)."""
    _load_plugins()
    b = Builder()
    for name in COLLECTORS:
        COLLECTORS.get(name)(snap, b)
    return b.graph(uri)


def _mark_kept(graph: LineageGraph, ws: Workspace) -> None:
    """Data nodes say whether the workspace keeps the set (a file, not the store: checked on
    each build, cached graph or not)."""
    from llmops_magics.data import kept_path

    sample = kept_path("0" * 16, workspace=ws)  # <folder>/<hash><suffix>
    try:
        files = {entry.name for entry in os.scandir(sample.parent)}
    except OSError:  # no data kept yet
        files = set()
    for n in graph.nodes.values():
        if n.kind in ("data", "prepared"):
            digest = n.id.removeprefix("data:")
            n.attrs.setdefault("hash", digest)
            n.attrs["kept"] = is_hash(digest) and f"{digest}{sample.suffix}" in files


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cycle collector while the graph is built: the build makes hundreds of
    thousands of objects and no cycles, and the collector's full passes over them cost more
    than the build itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build(
    tracker: tracking.Tracker | None = None,
    *,
    cache: bool = True,
    workspace: Workspace | None = None,
) -> LineageGraph:
    """The whole lineage graph of the store of ``tracker`` (default: the workspace's).

    With ``cache`` (the default) a local store's graph is kept in the workspace's ``cache/``
    folder and reused by any process while the store is unchanged: its change mark (file sizes
    and times, taken before the store is read) says so, without importing MLflow.
    ``cache=False`` always rebuilds from the store.
    """
    from llmops_magics import workspace as workspaces
    from llmops_magics.lineage import _cache

    ws = tracker.workspace if tracker else (workspace or workspaces.current())
    uri = tracker.uri if tracker else ws.tracking_uri
    mark = tracking.Tracker.store_mark(uri) if cache else None
    graph = None
    with _no_gc():
        if mark is not None:
            graph = _cache.load(ws, mark, uri, _collectors())
        if graph is None:
            graph = collect(read_store(ws, tracker), uri)
            if mark is not None:
                _cache.save(ws, graph, mark, uri, _collectors())
        _mark_kept(graph, ws)
    return graph
