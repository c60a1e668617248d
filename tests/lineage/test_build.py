"""The graph rebuilt from a real MLflow store: what each stage's tags become, dangling links shown
as missing, the same graph in a fresh process, and the public questions (graph, upstream,
downstream, path, impact) by every kind of reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmops_magics import lineage, tracking, workspace
from llmops_magics.lineage import _cache
from llmops_magics.testing.lineage import MISSING_RUN


def _edges(g: lineage.LineageGraph) -> set[tuple[str, str, str]]:
    return {(e.src, e.relation, e.dst) for e in g.edges}


def test_each_stage_becomes_nodes_and_edges(active: dict[str, str]) -> None:
    s = active
    g = lineage.graph()
    raw, train, prepared = f"data:{s['raw']}", f"data:{s['train']}", f"data:{s['prepared']}"
    adapter = f"adapter:{s['finetune']}"
    assert {
        (raw, "profiled", s["eda"]),
        (raw, "prepared-from", s["prep"]),
        (s["prep"], "produced", prepared),
        (prepared, "split", train),
        (train, "trained-on", s["finetune"]),
        (f"data:{s['validation']}", "validated-on", s["finetune"]),
        ("model:smollm2", "base-model", s["finetune"]),
        ("prompt:qa/1", "prompted-with", s["finetune"]),
        (s["finetune"], "produced", adapter),
        (s["sweep"], "contains", s["trial"]),
        (s["trial"], "contains", s["finetune"]),
        (adapter, "generated-by", s["generate"]),
        (adapter, "evaluated", s["eval"]),
        (s["generate"], "scored", s["eval"]),
        (f"data:{s['test']}", "evaluated-on", s["eval"]),
        (s["generate"], "generated", f"trace:{s['trace']}"),
        (adapter, "output-of", f"trace:{s['trace']}"),
        (f"trace:{s['trace']}", "rated", f"assessment:{s['assessment']}"),
        # the pipeline: its stage runs, the hash its prep stage made and its fine-tune took
        (s["pipeline"], "ran", s["finetune"]),
        (s["prep"], "produced", train),
        (train, "input", s["finetune"]),
    } <= _edges(g)
    kinds = {
        n: g.node(n).kind
        for n in (
            s["eda"],
            s["prep"],
            s["finetune"],
            s["eval"],
            prepared,
            train,
            adapter,
            s["pipeline"],
        )
    }
    assert list(kinds.values()) == [
        "eda",
        "prep",
        "finetune",
        "eval",
        "prepared",
        "data",
        "adapter",
        "pipeline",
    ]
    ft = g.node(s["finetune"])
    assert (
        ft.attrs["run_id"] == s["finetune"] and ft.attrs["tags"][tracking.BASE_MODEL] == "smollm2"
    )
    assert g.node(f"assessment:{s['assessment']}").attrs["value"] == 5
    assert g.node(f"assessment:{s['assessment']}").attrs["rater"] == "ann"


def test_dangling_references_are_missing(active: dict[str, str]) -> None:
    t = tracking.tracker()
    gone_parent = "e" * 32
    with t.start_run("trial", parent=gone_parent) as orphan:
        pass
    g = lineage.graph()
    assert g.node(MISSING_RUN).missing and g.node(gone_parent).missing
    assert (MISSING_RUN, "compared-with", active["eval"]) in _edges(g)
    assert not g.node(orphan.id).missing
    assert "missing" in g._summary()
    # a missing node is a node like any other for the questions
    assert orphan.id in lineage.downstream(gone_parent).nodes


def test_a_fresh_process_gives_the_same_graph(active: dict[str, str]) -> None:
    """After a change of the store (its copy no longer valid), a fresh process answers from the
    SQLite file without importing MLflow (or SQLAlchemy); then from the copy it wrote; and
    ``cache=False`` rebuilds the same graph: all as here."""
    here = lineage.graph().to_dict()
    impact = lineage.impact(f"data:{active['train']}").ids()
    copy = Path(active["root"]) / "cache" / "lineage" / "graph.bin"
    copy.unlink()
    code = (
        "import json, sys; from llmops_magics import lineage, workspace; "
        f"workspace.use({active['root']!r}); "
        f"impact = lineage.impact('data:{active['train']}').ids(); "
        "cached = lineage.build().to_dict(); rebuilt = lineage.build(cache=False).to_dict(); "
        "no_mlflow = not {'mlflow', 'sqlalchemy'} & set(sys.modules); "
        "print(json.dumps([impact, cached, rebuilt, no_mlflow], default=str))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("LLMOPS_HOME",)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    got, cached, rebuilt, no_mlflow = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == impact and copy.exists()
    assert json.loads(json.dumps(here, default=str)) == cached == rebuilt
    assert no_mlflow  # the store read with sqlite3, then its copy


@pytest.mark.parametrize(
    "ref",
    ["finetune", "run:finetune", "data:train", "prompt:qa/1", "smollm2", "trace", "assessment"],
)
def test_every_kind_of_reference(active: dict[str, str], ref: str) -> None:
    s = active
    given = {
        "finetune": s["finetune"],
        "run:finetune": f"run:{s['finetune']}",
        "data:train": f"data:{s['train']}",
        "prompt:qa/1": "prompt:qa/1",
        "smollm2": "smollm2",
        "trace": s["trace"],
        "assessment": s["assessment"],
    }[ref]
    g = lineage.graph(given)
    assert g.focus is not None and g.focus in g
    # everything it shows is related to it, and the chain's rating is always among them
    assert f"assessment:{s['assessment']}" in g
    assert s["finetune"] in g


def test_the_questions(active: dict[str, str]) -> None:
    s = active
    up = lineage.upstream(f"run:{s['finetune']}")
    assert up.focus == f"adapter:{s['finetune']}"
    assert {f"data:{s['raw']}", s["finetune"], s["trial"], s["sweep"]} <= set(up.nodes)
    assert s["eval"] not in up
    down = lineage.downstream(f"data:{s['raw']}", depth=2)
    assert set(down.nodes) == {
        f"data:{s['raw']}",
        s["eda"],
        s["prep"],
        f"data:{s['prepared']}",
        f"data:{s['train']}",
    }
    chain = [n.id for n in lineage.path(s["assessment"], f"data:{s['raw']}")]
    assert chain[0] == f"assessment:{s['assessment']}" and chain[-1] == f"data:{s['raw']}"
    # the shortest way back goes through the generation's prompts; the training rows too:
    to_train = [n.id for n in lineage.path(s["assessment"], f"data:{s['train']}")]
    assert to_train[-3:] == [f"adapter:{s['finetune']}", s["finetune"], f"data:{s['train']}"]
    impact = lineage.impact(f"data:{s['train']}")
    assert impact.ids("adapter") == [f"adapter:{s['finetune']}"]
    assert impact.ids("eval") == [s["eval"]] and impact.ids("assessment") == [
        f"assessment:{s['assessment']}"
    ]
    shown = lineage.lineage(s["eval"], lineage.LineageConfig(direction="upstream", depth=1))
    assert set(shown.nodes) == {
        s["eval"],
        s["pipeline"],
        f"data:{s['test']}",
        f"adapter:{s['finetune']}",
        s["generate"],
        MISSING_RUN,
    }


def test_unknown_and_wrong_kind(active: dict[str, str]) -> None:
    with pytest.raises(lineage.UnknownNodeError, match="'0{32}'"):
        lineage.graph("0" * 32)
    with pytest.raises(lineage.UnknownNodeError, match="data:abcdef12"):
        lineage.impact("data:abcdef12")
    with pytest.raises(lineage.WrongKindError, match="not a data reference"):
        lineage.graph("data:Zebra")
    with pytest.raises(lineage.UnknownNodeError):
        lineage.path(active["eval"], "tr-nothing")


def test_new_kinds_and_collectors_plug_in(active: dict[str, str]) -> None:
    """How a later stage (registered versions, deployments) joins the graph."""
    lineage.register_kind("demo_version", "a registered model version", "#123456")

    def versions(snap: lineage.Snapshot, b: lineage.Builder) -> None:
        adapter = f"adapter:{active['finetune']}"
        b.link(adapter, b.define("version:demo/1", "demo_version", "demo v1"), "registered")

    lineage.register_collector("demo_versions", versions)
    try:
        impact = lineage.impact(f"data:{active['train']}")
        assert impact.ids("demo_version") == ["version:demo/1"]
        assert lineage.graph("version:demo/1").node("version:demo/1").colour == "#123456"
    finally:
        lineage.COLLECTORS.unregister("demo_versions")
        lineage.KINDS.unregister("demo_version")


def test_a_serving_deployment(active: dict[str, str]) -> None:
    t = tracking.tracker()
    spec = f"run:{active['finetune']}"
    with t.start_run("serve", params={"model.qa": spec}, tags={tracking.MODEL: spec}) as run:
        served = {tracking.MODEL: "qa", tracking.SERVED: "true", tracking.RUN_ID: run.id}
        span = t.traces.span("chat", inputs={"q": "hi"}, tags=served, run_id=run.id)
        span.end(outputs={"a": "hello"})
    t.traces.flush()
    impact = lineage.impact(f"data:{active['train']}")
    assert impact.ids("deployment") == [run.id]
    assert f"trace:{span.trace_id}" in impact.ids("trace")
    g = lineage.graph(run.id)
    assert (f"adapter:{active['finetune']}", "served", run.id) in _edges(g)
    assert "model:qa" not in g  # a served trace names the public name, not a spec


def test_a_dpo_run_learned_from_ratings(active: dict[str, str]) -> None:
    t = tracking.tracker()
    rated = f"assessment:{active['assessment']}"
    tags = {tracking.METHOD: "dpo", tracking.PREFIX + "preference_ratings": "1"}
    with t.start_run("finetune", tags=tags) as run:
        run.log_dict({"assessment_ids": [active["assessment"]]}, "preferences_lineage.json")
    with t.start_run("finetune", tags=tags) as lost:  # its artifact never written
        pass
    g = lineage.graph()
    assert g.node(run.id).kind == "dpo"
    assert (rated, "trained-on", run.id) in _edges(g)
    # a rating of the base adapter's output reaches the DPO run trained on it
    assert run.id in lineage.impact(f"data:{active['train']}").ids("dpo")
    assert "preferences_lineage.json is gone" in g.node(lost.id).attrs["note"]


def test_the_cached_copy_follows_the_store(active: dict[str, str]) -> None:
    """Any write to the store (a new run, a changed tag, a trace) is seen by the next build; a
    damaged copy is rebuilt; a copy never says more or less than the store."""
    t = tracking.tracker()
    copy = Path(active["root"]) / "cache" / "lineage" / "graph.bin"
    first = lineage.build()
    assert copy.exists() and lineage.build().to_dict() == first.to_dict()
    with t.start_run("eval", tags={tracking.DATA_HASH: active["train"]}) as run:
        pass
    assert (f"data:{active['train']}", "evaluated-on", run.id) in _edges(lineage.build())
    t.set_tags(run.id, {tracking.DATA_HASH: active["test"]})  # a value changed in place
    g = lineage.build()
    assert (f"data:{active['test']}", "evaluated-on", run.id) in _edges(g)
    assert (f"data:{active['train']}", "evaluated-on", run.id) not in _edges(g)
    assert g.to_dict() == lineage.build(cache=False).to_dict()
    copy.write_bytes(copy.read_bytes()[:-100])  # damaged: rebuilt from the store, rewritten
    assert lineage.build().to_dict() == g.to_dict()
    key = _cache.read_key(workspace.current())
    assert key is not None and key["mark"] == tracking.Tracker.store_mark(t.uri)


def test_a_feedback_export(active: dict[str, str], tmp_path: Path) -> None:
    """ratings → export → the data it wrote → a fine-tune trained on the file."""
    import pandas as pd

    from llmops_magics import data, feedback

    t = tracking.tracker()
    rating = {"mode": "stars", "value": 5, "prompt": "hi", "output": "hello", "rater": "ann"}
    ratings = pd.DataFrame(
        [rating | {"trace_id": active["trace"], "assessment_id": active["assessment"]}]
    )  # the store's rating, as load_feedback gives it
    done = feedback.export("sft", tmp_path / "good.jsonl", ratings)
    written = data.content_hash(pd.read_json(done.path, lines=True, dtype=False))
    run = t.get_run(done.run_id, stage="feedback")
    assert run.data.tags[tracking.DATA_HASH] == written
    read = {tracking.DATA_SOURCE_HASH: written, tracking.DATA_CONTENT_HASH: "cd" * 8}
    with t.start_run("finetune", tags=read) as trained:
        pass  # the tags a fine-tune on the file writes (the file's frame, the columns it read)
    g = lineage.graph()
    rated = f"assessment:{active['assessment']}"
    assert g.node(done.run_id).kind == "feedback"
    assert (rated, "exported", done.run_id) in _edges(g)
    assert (done.run_id, "exported-to", f"data:{written}") in _edges(g)
    assert trained.id in lineage.impact(rated).ids("finetune")
    chain = [n.id for n in lineage.path(f"data:{active['train']}", trained.id)]
    assert chain[0] == f"data:{active['train']}" and done.run_id in chain


def _as_json(g: lineage.LineageGraph) -> str:
    return json.dumps(g.to_dict(), default=str)  # NaN metrics compare equal as text


def test_both_readers_give_the_same_graph(active: dict[str, str]) -> None:
    """The SQLite file read with the standard library and the store read through MLflow give
    the same graph, node for node and edge for edge, in the same order: with registered
    versions and aliases (a deleted version and a prompt are not models), a trace with two
    ratings, a NaN metric, and what neither shows (a deleted run, a deleted experiment).
    Last in the module: what it adds would change the other tests' answers."""
    from llmops_magics.lineage import _build
    from llmops_magics.workspace import current

    s, t = active, tracking.tracker()
    with t.start_run("eval", tags={tracking.MODEL: "models:/bot@champion"}) as run:
        run.log_metrics({"bleu": float("nan"), "rougeL": 0.5})
    with t.start_run("eval") as deleted:
        pass
    t.client.delete_run(deleted.id)
    gone = t.client.create_experiment("gone")
    t.client.create_run(gone, tags={tracking.STAGE: "eval"})
    t.client.delete_experiment(gone)
    span = t.traces.span("generate", inputs={"q": "hi"}, run_id=run.id)
    span.end(outputs={"a": "hello"})
    t.traces.flush()
    for name, value, rater in (("llmops.thumbs", "up", "bob"), ("llmops.stars", 2, "cy")):
        t.traces.log_feedback(span.trace_id, name=name, value=value, rater=rater)
    reg, spec = tracking.model_registry(t), f"run:{s['finetune']}"
    reg.ensure_model("bot")
    for _ in range(3):
        reg.create_version(
            "bot", source=spec, run_id=s["finetune"], tags={tracking.SPEC: spec}, logged_model=False
        )
    reg.set_alias("bot", "champion", "2")
    reg.delete_version("bot", "3")
    t.prompts.register("qa", "Answer: {{q}}", tags={})

    direct = _build.read_store(current())
    assert type(direct.registry).__name__ == "StoredRegistry"  # read without MLflow
    by_mlflow = _build.snapshot(t)
    g = _build.collect(direct, t.uri)
    assert _as_json(g) == _as_json(_build.collect(by_mlflow, t.uri))
    assert g.node("model:models:/bot@champion").attrs["version"] == "2"
    assert "model:models:/bot/2" in g and "model:models:/bot/3" not in g
    assert "model:models:/qa/1" not in g  # a prompt, not a model
    assert deleted.id not in g and len(g.children(f"trace:{span.trace_id}")) == 2
    assert str(g.node(run.id).attrs["metrics"]["bleu"]) == "nan"
