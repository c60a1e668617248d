"""The shipped template notebooks: papermill contracts, and a real pipeline on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from llmops_magics import pipelines, tracking
from llmops_magics.pipelines import PipelineError

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["eda", "evaluate", "feedback_report", "finetune", "prep", "review", "sweep"]


def test_every_stage_has_a_template():
    assert pipelines.template_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_template_is_a_papermill_contract(name):
    import papermill

    path = pipelines.template_path(name)
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    declared = papermill.inspect_notebook(str(path))
    # every assignment in the parameters cell is a declared parameter (papermill skips lines
    # it cannot parse, which would make a parameter impossible to set)
    assigned = [
        ln.split("=")[0].strip()
        for ln in tagged[0].source.splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert list(declared) == assigned
    info = pipelines.describe_template(path, name)
    assert info.description and info.outputs
    assert all(p["help"] for p in declared.values()), "every parameter says what it is"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "record_outputs(" in nb.cells[-1].source
    for output in info.outputs:
        assert f"{output}=" in code
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # shipped clean


def test_templates_listing():
    listing = pipelines.templates()
    frame = listing.to_frame()
    assert frame["template"].tolist() == NAMES
    assert "lr=2e-4" in frame.set_index("template").loc["finetune", "parameters"]
    assert "model_spec" in listing["finetune"].outputs
    assert "%llmops template copy NAME" in repr(listing)


def test_template_copy_never_overwrites(tmp_path):
    name = pipelines.template_names()[0]
    copied = pipelines.copy_template(name, tmp_path)
    assert Path(copied.path) == tmp_path / f"{name}.ipynb"
    assert Path(copied.path).read_bytes() == pipelines.template_path(name).read_bytes()
    with pytest.raises(PipelineError, match="already exists"):
        pipelines.copy_template(name, tmp_path)
    assert pipelines.copy_template(name, tmp_path / "mine.ipynb").path.endswith("mine.ipynb")
    with pytest.raises(PipelineError, match="no template named 'nope'"):
        pipelines.copy_template("nope", tmp_path)


def test_demo_pipeline_is_valid():
    demo = pipelines.load_pipeline(ROOT / "pipelines" / "demo.yaml")
    assert demo.order == ["eda", "prep", "finetune", "evaluate", "feedback_report", "review"]
    assert demo.stages["evaluate"].inputs == {
        "model": ("finetune", "model_spec"),
        "baseline": ("finetune", "base_model"),
        "data_hash": ("prep", "test_hash"),
    }
    assert demo.stages["finetune"].params["model"] == "smollm2"
    assert demo.stages["feedback_report"].upstream == ["finetune", "evaluate"]
    assert demo.stages["review"].inputs == {"model": ("finetune", "model_spec")}


def test_the_stage_templates_run_as_a_pipeline(
    tmp_path, fresh_workspace, tiny_model, widget_outputs
):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        (ROOT / "pipelines" / "demo.yaml")
        .read_text()
        .replace("model: smollm2", f"model: {tiny_model}")
    )
    small = {
        "eda.limit": 60,
        "finetune.max_steps": 2,
        "finetune.batch_size": 2,
        "finetune.eval_steps": 1,
        "finetune.max_rows": 8,
        "finetune.max_length": 128,  # the tiny tokenizer spells chatterbot prompts in many tokens
        "evaluate.max_rows": 3,
        "evaluate.max_new_tokens": 4,
        "evaluate.bootstrap": 10,
    }
    result = pipelines.run_pipeline(spec, params=small, progress=False, log=lambda m: None)
    assert result.executed == [
        "eda",
        "prep",
        "finetune",
        "evaluate",
        "feedback_report",
        "review",
    ]
    out = result.outputs
    assert out["eda"]["rows"] == 60
    stored = pipelines.load_data(out["eda"]["data_hash"])
    assert len(stored) == 60 and list(stored.columns[:2]) == ["question", "answer"]
    train = pipelines.load_data(out["prep"]["train_hash"])
    assert 0 < len(train) < 60 and result.metrics["prep.train_rows"] == len(train)
    assert out["finetune"]["model_spec"] == f"run:{out['finetune']['run_id']}"
    assert result.metrics["finetune.steps"] == 2
    comparison = pd.read_csv(out["evaluate"]["comparison_path"])
    assert set(comparison["role"]) == {"model", "baseline"}
    assert "evaluate.chrf" in result.metrics and "evaluate.chrf_delta" in result.metrics
    assert out["feedback_report"]["ratings"] == 0
    assert json.loads(Path(out["feedback_report"]["report_path"]).read_text()) is not None
    # review: the adapter registered with its lineage, gates judged from the store, a card
    from llmops_magics import governance

    version = governance.get_version("demo-qa", out["review"]["version"])
    assert out["review"]["model_spec"] == version.spec
    assert version.source == out["finetune"]["model_spec"]
    assert out["review"]["gates"] == "blocked"  # no ratings nor sign-off yet: a human decides
    assert result.metrics["review.gates_missing"] >= 2
    assert not version.aliases  # promotion waits for a human
    assert "## Quantitative Analyses" in Path(out["review"]["card_path"]).read_text()
    # lineage: the fine-tune run points back at this pipeline run
    run = tracking.tracker().get_run(out["finetune"]["run_id"], stage="finetune")
    assert run.data.tags[tracking.PIPELINE_RUN] == result.run_id
    assert run.data.tags[tracking.PIPELINE_STAGE] == "finetune"
    # every artifact the pipeline made has a path back to a data hash (the lineage graph)
    from llmops_magics import lineage

    graph = lineage.graph()
    made = [n for n in graph.nodes.values() if n.kind not in ("data", "prepared", "model")]
    assert {"eda", "prep", "finetune", "adapter", "eval", "trace"} <= {n.kind for n in made}
    for node in made:
        # the audit trail's run keeps records of the registry; it is not derived from data
        if node.attrs.get("tags", {}).get(tracking.STAGE) == "audit":
            continue
        if node.kind not in ("recipe", "pipeline"):
            up = graph.upstream_ids(node.id)
            assert any(graph.nodes[u].kind in ("data", "prepared") for u in up), node.id
    # the stage kernels are plain: no panel or widget bar is left in an executed notebook
    shown = {s.name: widget_outputs(s.notebook) for s in result.stages}
    assert shown == {s.name: [] for s in result.stages}
    # run again: every stage from the cache, same outputs
    again = pipelines.run_pipeline(spec, params=small, progress=False, log=lambda m: None)
    assert again.cached == result.executed and again.outputs == result.outputs


def test_sweep_template_runs(tmp_path, fresh_workspace, tiny_model, widget_outputs):
    frame = pd.DataFrame(
        {
            "question": [f"What is {i} plus one?" for i in range(12)],
            "answer": [f"It is {i + 1}." for i in range(12)],
        }
    )
    data_hash = pipelines.save_data(frame)
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        "name: sweep\nstages:\n  sweep:\n    params:\n"
        f"      model: '{tiny_model}'\n      train_hash: '{data_hash}'\n"
        "      trials: 2\n      max_steps: 1\n"
    )
    result = pipelines.run_pipeline(spec, progress=False, log=lambda m: None)
    out = result.outputs["sweep"]
    assert out["model_spec"].startswith("run:") and set(out["best_params"]) == {"lr", "lora_r"}
    assert result.metrics["sweep.best_eval_loss"] > 0
    assert widget_outputs(result.stage("sweep").notebook) == []  # no sweep board in papermill


def test_template_copy_force_replaces_a_symlink_never_writes_through(tmp_path):
    name = pipelines.template_names()[0]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "nb" / f"{name}.ipynb"
    link.parent.mkdir()
    link.symlink_to(victim)
    with pytest.raises(PipelineError, match="already exists"):
        pipelines.copy_template(name, link.parent)
    pipelines.copy_template(name, link.parent, overwrite=True)
    assert victim.read_text() == "precious" and not link.is_symlink()
    assert link.read_bytes() == pipelines.template_path(name).read_bytes()
    dangling = tmp_path / "dangling.ipynb"
    dangling.symlink_to(tmp_path / "created-through-the-link.ipynb")
    with pytest.raises(PipelineError, match="already exists"):
        pipelines.copy_template(name, dangling)
    assert not (tmp_path / "created-through-the-link.ipynb").exists()


def test_template_copy_bad_destinations_are_one_line_errors(tmp_path):
    name = pipelines.template_names()[0]
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(PipelineError, match="is a file, not a folder"):
        pipelines.copy_template(name, tmp_path / "notes.txt")
    with pytest.raises(PipelineError, match="Cannot write .*Not a directory"):
        pipelines.copy_template(name, tmp_path / "notes.txt" / "sub" / "x.ipynb")
    assert (tmp_path / "notes.txt").read_text() == "mine"
