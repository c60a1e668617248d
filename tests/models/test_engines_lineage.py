"""Runs above ``models`` record the engine that ran, not ``auto``: prompt runs and chains log the
resolved engine, their cache keys on it (one engine's outputs never answer for another's), eval
runs log the engine name and its compute type (which ``--engine`` takes back)."""

from __future__ import annotations

import pandas as pd
import pytest

from llmops_magics import evaluation, models, prompts, tracking

DF = pd.DataFrame({"question": ["What is AI?", "Why?"], "answer": ["A field.", "Because."]})


@pytest.fixture(scope="module", autouse=True)
def engine_cache(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMOPS_CACHE_DIR", str(tmp_path_factory.mktemp("engine-cache")))
        yield


def test_prompt_runs_key_and_log_the_resolved_engine(fresh_workspace, tiny_model):
    spec, template = str(tiny_model), "Q: {{ question }}"
    auto = prompts.run("eng", template, DF, models=[spec], max_new_tokens=4)
    assert auto.generated == 2  # auto is torch for a model no fast engine was guarded on
    named = prompts.run(
        "eng", template, DF, models=[spec], max_new_tokens=4, engine="torch", track=False
    )
    assert named.generated == 0  # the same engine: the cache answers
    int8 = prompts.run("eng", template, DF, models=[spec], max_new_tokens=4, engine="ctranslate2")
    assert int8.generated == 2  # another engine: its own outputs
    t = tracking.tracker()
    assert t.get_run(auto.run_id).data.params["engine"] == "torch (float32)"
    assert t.get_run(int8.run_id).data.params["engine"] == "ctranslate2 (int8)"
    trace = t.traces.get(int8.to_frame()["trace_id"][0])
    assert trace.data.spans[0].attributes["engine"] == "ctranslate2 (int8)"


def test_eval_runs_log_the_engine_name_and_compute_type(fresh_workspace, tiny_model):
    result = evaluation.evaluate(
        DF,
        str(tiny_model),
        prompt_col="question",
        reference_col="answer",
        metrics="bleu",
        bootstrap=10,
        max_new_tokens=4,
    )
    params = tracking.tracker().get_run(next(iter(result.run_ids.values()))).data.params
    assert (params["engine"], params["compute_type"]) == ("torch", "float32")
    models.GenerationParams(engine=params["engine"])  # a reproduction can ask for it back
