"""Reproduce, and lineage coverage of a real chain on the tiny model: data prepared (its splits
kept by hash) → fine-tune → eval → a rating of an eval row. The rating reaches the training rows
of the adapter that produced the output; ``reproduce`` redoes the fine-tune and the eval from
their lineage alone (fp32 on a CPU: bit-identical adapter weights and metrics) and names an input
that is gone. (The demo pipeline's own coverage is checked in tests/pipelines/test_templates.py,
on the run it already makes.)"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from llmops_magics import data, evaluation, feedback, finetune, lineage, tracking, workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[dict[str, Any]]:
    """The demo pipeline's stages in this process, small; the workspace stays active for the
    module. ``out`` names what each stage made, as the pipeline records it."""
    workspace.use(tmp_path_factory.mktemp("chain") / ".llmops")
    frame = pd.DataFrame(
        {
            "question": [f"What is item {i}?" for i in range(30)],
            "answer": [f"Item {i} is a thing of kind {i % 3}." for i in range(30)],
        }
    )
    prepared = data.prepare(frame, ["question", "answer"], split=[0.7, 0.15, 0.15], progress=False)
    config = finetune.FineTuneConfig(
        model=str(tiny_model),
        prompt_col="question",
        response_col="answer",
        max_steps=2,
        batch_size=2,
        eval_steps=1,
        save_steps=100,
        lr=5e-3,
    )
    ft = finetune.train(config, prepared.train, prepared.validation, progress=False)
    ev = evaluation.evaluate(
        prepared.test,
        ft.spec,
        metrics="chrf,f1",
        bootstrap=0,
        max_new_tokens=3,
        progress=False,
    )
    session = feedback.open_session(ev.examples().iloc[:1], rater="ann")
    rating = session.rate(4)
    out = {
        "prep": {"prep_run_id": prepared.run_id, "train_hash": data.content_hash(prepared.train)},
        "finetune": {"run_id": ft.run_id},
        "evaluate": {"run_id": ev.run_ids[ft.spec]},
        "eda": {"data_hash": prepared.input_hash},
    }
    yield {"out": out, "rating": rating}
    workspace.use(None)


def test_every_artifact_reaches_a_data_hash(demo: dict[str, Any]) -> None:
    g = lineage.graph()
    made = [n for n in g.nodes.values() if n.kind not in ("data", "prepared", "model", "recipe")]
    assert {"prep", "finetune", "adapter", "eval", "generate", "trace", "assessment"} == {
        n.kind for n in made
    }
    for node in made:
        up = g.upstream_ids(node.id)
        assert any(g.nodes[u].kind in ("data", "prepared") for u in up), node.id
    assert not [n.id for n in g.nodes.values() if n.missing]


def test_a_rating_reaches_the_training_rows(demo: dict[str, Any]) -> None:
    out = demo["out"]
    g = lineage.graph()
    rated = [n for n in g.nodes.values() if n.kind == "assessment"]
    assert len(rated) == 1 and rated[0].attrs["rater"] == "ann" and rated[0].attrs["value"] == 4
    ft = tracking.tracker().get_run(out["finetune"]["run_id"])
    trained = f"data:{ft.data.tags[tracking.DATA_CONTENT_HASH]}"
    chain = [n.id for n in g.path(rated[0].id, trained)]
    assert chain[0] == rated[0].id and chain[-1] == trained
    assert f"adapter:{ft.info.run_id}" in chain and ft.info.run_id in chain
    # the rows it read are kept under that hash, and they came from the prepared train split
    # (its source_row column says which input rows those were)
    split = f"data:{out['prep']['train_hash']}"
    assert (split, "columns", trained) in {(e.src, e.relation, e.dst) for e in g.edges}
    rows = data.kept(trained.removeprefix("data:"))
    source = data.kept(out["prep"]["train_hash"])
    assert list(rows.columns) == ["question", "answer"] and len(rows) == len(source)
    assert "source_row" in source.columns
    to_raw = [n.id for n in g.path(rated[0].id, f"data:{out['eda']['data_hash']}")]
    assert to_raw[-2:] == [out["prep"]["prep_run_id"], f"data:{out['eda']['data_hash']}"]


def test_impact_of_the_raw_data(demo: dict[str, Any]) -> None:
    out = demo["out"]
    impact = lineage.impact(f"data:{out['eda']['data_hash']}")
    assert impact.ids("adapter") == [f"adapter:{out['finetune']['run_id']}"]
    assert impact.ids("eval") == [out["evaluate"]["run_id"]]
    assert len(impact.ids("assessment")) == 1 and impact.ids("prep") == [out["prep"]["prep_run_id"]]


def test_reproduce_the_fine_tune_bit_for_bit(demo: dict[str, Any]) -> None:
    run_id = demo["out"]["finetune"]["run_id"]
    redone = lineage.reproduce(run_id, progress=False)
    assert redone.exact and redone.precision == "fp32"
    assert redone.identical and redone.reproduced and redone.max_difference == 0.0
    table = redone.to_frame().set_index("what")
    assert table.loc["adapter tensors that differ", "reproduced"] == 0
    assert "metric final_train_loss" in table.index
    assert {"config", "training data", "evaluation data", "base model", "seed"} == set(
        redone.inputs_frame()["input"]
    )
    again = tracking.tracker().get_run(redone.new_run_id)
    assert again.data.tags[tracking.REPRODUCES] == run_id
    assert (run_id, "reproduced", redone.new_run_id) in {
        (e.src, e.relation, e.dst) for e in lineage.graph(run_id).edges
    }


def test_bf16_is_judged_by_the_tolerance(demo: dict[str, Any], tiny_model: Path) -> None:
    """A bf16 fine-tune (CPU autocast here: no GPU) is redone and judged within the tolerance,
    not bit for bit; the verdict follows the tolerance."""
    config = finetune.FineTuneConfig(
        model=str(tiny_model),
        prompt_col="question",
        response_col="answer",
        max_steps=2,
        batch_size=2,
        save_steps=100,
        lr=5e-3,
        precision="bf16",
    )
    ft = finetune.train(config, data.kept(demo["out"]["prep"]["train_hash"]), progress=False)
    assert tracking.tracker().get_run(ft.run_id).data.params["precision_used"] == "bf16"
    redone = lineage.reproduce(ft.run_id, lineage.ReproduceConfig(tolerance=0.05), progress=False)
    assert redone.precision == "bf16" and not redone.exact and redone.tolerance == 0.05
    assert redone.reproduced and redone.max_difference <= 0.05
    assert "tolerance 0.05" in repr(redone)
    off = {"what": "adapter weights (max |diff|)", "original": 0.0, "reproduced": 0.01}
    near = dataclasses.replace(redone, differences=[off | {"abs_diff": 0.01, "identical": False}])
    assert near.reproduced and not near.identical  # within 0.05
    assert not dataclasses.replace(near, tolerance=0.001).reproduced
    assert not dataclasses.replace(near, exact=True).reproduced  # fp32 on a CPU: no tolerance


def test_reproduce_the_eval(demo: dict[str, Any]) -> None:
    run_id = demo["out"]["evaluate"]["run_id"]
    redone = lineage.reproduce(run_id, progress=False)
    assert redone.stage == "eval" and redone.exact and redone.identical
    assert {"metric chrf", "metric f1"} <= set(redone.to_frame()["what"])


def test_an_input_that_is_gone_is_named(demo: dict[str, Any]) -> None:
    run_id = demo["out"]["finetune"]["run_id"]
    digest = tracking.tracker().get_run(run_id).data.tags[tracking.DATA_CONTENT_HASH]
    kept = data.kept_path(digest)
    aside = kept.with_suffix(".aside")
    shutil.move(kept, aside)
    try:
        with pytest.raises(lineage.ReproduceError, match=f"training data {digest} is gone") as e:
            lineage.reproduce(run_id, progress=False)
        assert e.value.missing == f"training data {digest}"
        # the graph still shows it, as data that is no longer kept
        assert lineage.graph(run_id).node(f"data:{digest}").attrs["kept"] is False
    finally:
        shutil.move(aside, kept)


def test_reproduce_refuses_other_runs(demo: dict[str, Any]) -> None:
    prep = demo["out"]["prep"]["prep_run_id"]
    with pytest.raises(lineage.WrongKindError, match="is a prep run"):
        lineage.reproduce(prep)
    with pytest.raises(tracking.RunNotFoundError):
        lineage.reproduce("0" * 32)
