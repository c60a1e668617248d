"""Chains: prompts that read other prompts' outputs, one MLflow trace per row."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from llmops_magics import prompts, tracking

_ids = itertools.count()


@pytest.fixture
def names(workspace) -> tuple[str, str]:
    n = next(_ids)
    return f"summ{n}_{id(workspace) % 10_000}", f"title{n}_{id(workspace) % 10_000}"


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame({"text": ["The model learns today.", "A notebook reads data again."]})


def test_chain_runs_in_order_with_one_trace_per_row(names, tiny_model, df, workspace):
    summ, title = names
    prompts.register(summ, "Summarize: {{ text }}")
    prompts.register(title, "Title for: {{ outputs." + summ + " }}")
    out = prompts.chain([summ, title], df, models=[str(tiny_model)], max_new_tokens=5)
    frame = out.to_frame()
    assert frame["step"].tolist() == [summ, summ, title, title]
    first = frame[frame["step"] == summ].set_index("example")["output"]
    second = frame[frame["step"] == title].set_index("example")["prompt"]
    for ex in (0, 1):
        assert second[ex] == f"Title for: {first[ex]}".strip()  # the earlier step's output
    assert out.generated == 4
    wide = out.outputs()
    assert wide.columns.tolist() == [summ, title] and len(wide) == 2
    traces_api = tracking.tracker().traces
    traces = out.trace_ids[str(tiny_model)]
    assert len(set(traces)) == 2  # one per row
    for ex, trace_id in enumerate(traces):
        trace = traces_api.get(trace_id)
        spans = trace.data.spans
        root = [s for s in spans if s.parent_id is None]
        assert len(root) == 1 and root[0].span_type == "CHAIN"
        children = sorted((s for s in spans if s.parent_id), key=lambda s: s.start_time_ns)
        assert [s.name for s in children] == [summ, title]
        assert all(s.parent_id == root[0].span_id for s in children)
        assert children[1].inputs == {"prompt": second[ex]}
        assert root[0].outputs == {"output": frame[frame["step"] == title]["output"].iloc[ex]}
    assert (frame["trace_id"] == frame["example"].map(dict(enumerate(traces)))).all()
    run = tracking.tracker().get_run(out.run_id, stage="chain")
    assert run.data.params["steps"] == f"{summ},{title}" and run.data.tags[tracking.DATA_HASH]
    found = traces_api.search(run_id=out.run_id)  # the traces are listed under the run
    assert sorted(t.info.trace_id for t in found) == sorted(traces)
    # again: everything comes from the cache, and a new trace still records the chain
    again = prompts.chain([summ, title], df, models=[str(tiny_model)], max_new_tokens=5)
    assert again.generated == 0 and again.to_frame()["cached"].all()
    assert again.to_frame()["output"].tolist() == frame["output"].tolist()


def test_prompt_cell_runs_the_prompts_it_reads(names, tiny_model, df):
    summ, title = names
    prompts.register(summ, "Summarize: {{ text }}")
    out = prompts.run(
        title, "Title: {{ outputs." + summ + " }}", df, models=[str(tiny_model)], max_new_tokens=4
    )
    assert out.generated == 4  # two summaries first, then two titles
    direct = prompts.chain([summ], df, models=[str(tiny_model)], max_new_tokens=4, track=False)
    summaries = direct.to_frame()["output"].tolist()
    assert out.to_frame()["prompt"].tolist() == [f"Title: {s}".strip() for s in summaries]
    assert direct.generated == 0  # the summaries were cached by the prompt run


def test_chain_step_order_does_not_matter_for_dependencies(names, tiny_model, df):
    summ, title = names
    prompts.register(summ, "S: {{ text }}")
    prompts.register(title, "T: {{ outputs[" + repr(summ) + "] }}")
    out = prompts.chain([title], df, models=[str(tiny_model)], max_new_tokens=3, track=False)
    assert out.to_frame()["step"].tolist() == [summ, summ, title, title]


def test_cycles_and_unknown_steps_are_refused(names, tiny_model, df):
    a, b = names
    prompts.register(a, "{{ outputs." + b + " }}")
    prompts.register(b, "{{ outputs." + a + " }}")
    with pytest.raises(prompts.TemplateError, match="cycle"):
        prompts.chain([a], df, models=[str(tiny_model)], track=False)
    with pytest.raises(prompts.PromptNotFoundError, match="no prompt 'nope"):
        prompts.chain(["nope" + a], df, models=[str(tiny_model)])
    with pytest.raises(prompts.TemplateError, match="literally"):
        prompts.run(a + "x", "{{ outputs[text] }}", df, models=[str(tiny_model)])
