"""Prompt iteration: versions, multi-model runs, the cache, scores, streaming and bad input."""

from __future__ import annotations

import itertools
import json
import math

import pandas as pd
import pytest
from IPython.core.error import UsageError

from llmops_magics import models, prompts
from llmops_magics.errors import DataError, ModelNotFoundError
from llmops_magics.models import _load
from llmops_magics.prompts import _run

_ids = itertools.count()


@pytest.fixture
def name(workspace) -> str:
    """A prompt name no other test uses (the workspace is shared)."""
    return f"p{next(_ids)}_{id(workspace) % 10_000}"


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": ["What is AI?", "How are you?", "Tell me a joke."],
            "answer": ["AI is a field", "I am fine", "a joke about robots"],
        }
    )


def make_adapter(base: str, dest, seed: int) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(
        model,
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    peft_model.save_pretrained(dest)
    config = json.loads((dest / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(base)
    (dest / "adapter_config.json").write_text(json.dumps(config))
    return str(dest)


# --- versions ------------------------------------------------------------------------------


def test_same_text_never_makes_a_new_version(name):
    v1 = prompts.register(name, "Answer: {{ question }}")
    again = prompts.register(name, "\nAnswer: {{ question }}\n\n")  # same text, cell whitespace
    v2 = prompts.register(name, "Answer briefly: {{ question }}")
    assert (v1.version, v1.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    assert (v2.version, v2.created) == (2, True)
    listed = prompts.list_prompts(name).to_frame()
    assert listed["version"].tolist() == [1, 2]
    assert listed["uri"].tolist() == [f"prompts:/{name}/1", f"prompts:/{name}/2"]
    every = prompts.list_prompts().to_frame().set_index("name")
    assert every.loc[name, "version"] == 2 and every.loc[name, "versions"] == 2
    assert prompts.get_prompt(name, 1).template == "Answer: {{ question }}"


def test_diff_between_versions(name):
    prompts.register(name, "Answer: {{ question }}\nBe nice.")
    prompts.register(name, "Answer briefly: {{ question }}\nBe nice.")
    d = prompts.diff(name, 1, 2)
    assert d.changed
    assert "-Answer: {{ question }}" in d.lines and "+Answer briefly: {{ question }}" in d.lines
    kinds = d.to_frame().set_index("line")["kind"]
    assert kinds["-Answer: {{ question }}"] == "removed"
    assert kinds[" Be nice."] == "context"
    assert "#ffeef0" in d._repr_html_()
    assert not prompts.diff(name, 2, "latest").changed


def test_magics_prompts_and_diff(ip, name, tiny_model, df):
    ip.user_ns["df"] = df
    spec = str(tiny_model)
    line = f"prompt {name} --data df --model {spec} --max-new-tokens 3 --no-track"
    first = ip.run_cell_magic("llmops", line, "Q: {{ question }}\n")
    second = ip.run_cell_magic("llmops", line, "Question: {{ question }}\n")
    assert (first.versions, second.versions) == ([1], [2])
    assert first.created_version and second.created_version
    listed = ip.run_line_magic("llmops", f"prompts {name}")
    assert listed.to_frame()["template"].tolist() == [
        "Q: {{ question }}",
        "Question: {{ question }}",
    ]
    d = ip.run_line_magic("llmops", f"prompt-diff {name} 1 2")
    assert "+Question: {{ question }}" in d.lines
    assert ip.run_line_magic("llmops", f"prompt-diff {name} 1 2 -o dd") is ip.user_ns["dd"]


# --- runs, grid, cache ---------------------------------------------------------------------


def test_run_long_table_and_rerun_from_cache(name, tiny_model, df):
    spec = str(tiny_model)
    first = prompts.run(name, "Answer: {{ question }}", df, models=[spec], max_new_tokens=5)
    frame = first.to_frame()
    assert frame.columns.tolist() == _run.COLUMNS
    assert len(frame) == 3 and first.generated == 3 and not frame["cached"].any()
    assert frame["prompt"].tolist() == [f"Answer: {q}" for q in df["question"]]
    assert frame["input"].tolist() == df["question"].tolist()
    assert (frame["tokens"] <= 5).all() and (frame["prompt_tokens"] > 0).all()
    assert frame["trace_id"].str.startswith("tr-").all()
    direct = models.generate(
        frame["prompt"].tolist(), model=spec, max_new_tokens=5, track=False
    ).texts
    assert frame["output"].tolist() == direct  # the same text plain generation gives
    second = prompts.run(name, "Answer: {{ question }}", df, models=[spec], max_new_tokens=5)
    again = second.to_frame()
    assert second.generated == 0 and again["cached"].all()
    assert again["output"].tolist() == frame["output"].tolist()
    assert again["trace_id"].tolist() == frame["trace_id"].tolist()  # feedback finds the trace
    # another setting is another cache entry
    third = prompts.run(name, "Answer: {{ question }}", df, models=[spec], max_new_tokens=4)
    assert third.generated == 3


def test_adapters_share_the_base_and_only_the_changed_model_generates(
    name, tiny_model, df, tmp_path
):
    base = str(tiny_model)
    a = make_adapter(base, tmp_path / "a", seed=1)
    b = make_adapter(base, tmp_path / "b", seed=2)
    models.clear_cache()
    _load.load_counts.clear()
    template = "Say: {{ question }}"
    run1 = prompts.run(name, template, df, models=[base, a], max_new_tokens=4, seed=7, track=False)
    assert run1.generated == 6
    wide = run1.wide()
    assert wide.columns.tolist() == [base, a] and len(wide) == 3
    count = _run.generation_count
    run2 = prompts.run(name, template, df, models=[base, b], max_new_tokens=4, seed=7, track=False)
    assert run2.generated == 3 and _run.generation_count == count + 3  # only b generated
    frame = run2.to_frame()
    assert frame[frame["model"] == base]["cached"].all()
    assert not frame[frame["model"] == b]["cached"].any()
    assert frame[frame["model"] == base]["output"].tolist() == wide[base].tolist()
    assert sum(_load.load_counts.values()) == 1  # three models, one base read from disk


def test_resaved_adapter_misses_the_cache(name, tiny_model, df, tmp_path):
    a = make_adapter(str(tiny_model), tmp_path / "a", seed=1)
    prompts.run(name, "X {{ question }}", df.head(1), models=[a], max_new_tokens=3, track=False)
    make_adapter(str(tiny_model), tmp_path / "a", seed=5)  # new weights, same folder
    rerun = prompts.run(
        name, "X {{ question }}", df.head(1), models=[a], max_new_tokens=3, track=False
    )
    assert rerun.generated == 1


def test_versions_compare_side_by_side(name, tiny_model, df):
    spec = str(tiny_model)
    prompts.register(name, "A: {{ question }}")
    prompts.register(name, "B: {{ question }}")
    prompts.register(name, "C: {{ question }}")
    out = prompts.run(name, None, df, models=[spec], versions=[1, 3], max_new_tokens=3, track=False)
    assert out.versions == [1, 3]
    frame = out.to_frame()
    assert len(frame) == 6
    assert frame[frame["version"] == 3]["prompt"].str.startswith("C: ").all()
    assert out.wide().columns.tolist() == [f"{spec} · v1", f"{spec} · v3"]
    grid = out.grid()
    assert len(grid.cells) == 6 and (0, f"{spec} · v3") in grid.cells


def test_reference_scores_match_sacrebleu_and_rouge(name, tiny_model, df):
    import sacrebleu
    from rouge_score import rouge_scorer

    out = prompts.run(
        name,
        "{{ question }}",
        df,
        models=[str(tiny_model)],
        max_new_tokens=6,
        reference="answer",
        track=False,
    )
    frame = out.to_frame()
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    for _, r in frame.iterrows():
        assert r["reference"] == df["answer"][r["example"]]
        assert r["bleu"] == pytest.approx(
            sacrebleu.sentence_bleu(r["output"], [r["reference"]]).score
        )
        expected = scorer.score(r["reference"], r["output"])["rougeL"].fmeasure
        assert r["rougeL"] == pytest.approx(expected, abs=1e-6)
    assert out.reference == "answer" and not frame[["bleu", "rougeL"]].isna().any().any()


def test_namespace_variables_and_limit(name, tiny_model, df):
    out = prompts.run(
        name,
        "{{ style }}: {{ question }}",
        df,
        models=[str(tiny_model)],
        namespace={"style": "Briefly", "question": "shadowed by the column"},
        limit=2,
        max_new_tokens=2,
        track=False,
    )
    assert out.to_frame()["prompt"].tolist() == ["Briefly: What is AI?", "Briefly: How are you?"]


def test_no_data_renders_once_from_the_namespace(name, tiny_model):
    out = prompts.run(
        name,
        "Hello {{ who }}",
        models=[str(tiny_model)],
        namespace={"who": "Ada"},
        max_new_tokens=3,
        track=False,
    )
    assert out.n_examples == 1 and out.to_frame()["prompt"].tolist() == ["Hello Ada"]


def test_prompt_run_is_logged_with_its_prompt_version(name, tiny_model, df, workspace):
    from llmops_magics import workspace as ws

    out = prompts.run(name, "Q {{ question }}", df, models=[str(tiny_model)], max_new_tokens=2)
    runs = ws.runs(filter_string=f"tags.`llmops.prompt` = '{name}'")
    assert runs["run_id"].tolist() == [out.run_id]
    row = runs.iloc[0]
    assert row["params.versions"] == "1" and row["params.n_examples"] == "3"
    assert row["metrics.generated"] == 3.0
    mlflow = ws._mlflow()
    linked = mlflow.get_run(out.run_id).data.tags.get("mlflow.linkedPrompts", "")
    assert name in linked


# --- streaming -----------------------------------------------------------------------------


def test_stream_one_shows_text_as_it_grows(tiny_model, workspace):
    from llmops_magics.models._generate import GenerationParams

    seen: list[str] = []
    params = GenerationParams(max_new_tokens=12)
    gen = _run._stream_one(str(tiny_model), "What is AI?", params, seen.append)
    plain = models.generate(["What is AI?"], model=str(tiny_model), max_new_tokens=12, track=False)
    assert gen.output == plain.texts[0] and gen.completion_tokens == plain.completion_tokens[0]
    assert len(seen) >= 3 and seen[-1] == gen.output
    assert len(set(seen)) > 1  # it grew: several different partial texts were shown


def test_single_example_run_streams_into_a_display_handle(name, tiny_model, ip):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        out = prompts.run(
            name,
            "Hi {{ who }}",
            models=[str(tiny_model)],
            namespace={"who": "Bob"},
            max_new_tokens=8,
            stream=True,
        )
    assert out.generated == 1 and out.records[0]["trace_id"].startswith("tr-")
    views = [o for o in captured.outputs]
    assert len(views) >= 3
    first, *updates = views
    assert not first.update and all(o.update for o in updates)  # one view, updated in place
    final = out.to_frame()["output"][0]
    assert updates[-1].data["text/html"].count(final.replace("&", "&amp;")[:5]) >= 1
    assert len({o.data["text/html"] for o in views}) > 2  # the text grew


# --- bad input -----------------------------------------------------------------------------


def test_syntax_error_names_the_line_and_stores_nothing(name, tiny_model, df):
    with pytest.raises(prompts.TemplateError, match="line 2") as info:
        prompts.run(name, "Answer:\n{{ question }\nthanks", df, models=[str(tiny_model)])
    assert info.value.line == 2
    with pytest.raises(prompts.PromptNotFoundError):
        prompts.get_prompt(name)


def test_unknown_variable_is_named(name, tiny_model, df):
    with pytest.raises(prompts.UnknownVariableError, match="questoin") as info:
        prompts.run(name, "Q: {{ questoin }}", df, models=[str(tiny_model)])
    assert info.value.variable == "questoin" and info.value.line == 1
    assert "question" in str(info.value)  # the columns are listed


def test_empty_frame_and_bad_data(name, tiny_model, df):
    with pytest.raises(DataError, match="no rows"):
        prompts.run(name, "{{ question }}", df.iloc[:0], models=[str(tiny_model)])
    with pytest.raises(DataError, match="DataFrame"):
        prompts.run(name, "{{ question }}", [1, 2], models=[str(tiny_model)])
    with pytest.raises(DataError, match="reference column 'gold'"):
        prompts.run(name, "{{ question }}", df, models=[str(tiny_model)], reference="gold")


def test_unknown_model_spec_fails_before_anything_is_stored(name, df):
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        prompts.run(name, "{{ question }}", df, models=["no-such-model"])
    with pytest.raises(prompts.PromptNotFoundError, match=name):
        prompts.get_prompt(name)


def test_missing_version_and_prompt(name, tiny_model):
    prompts.register(name, "x {{ y }}")
    with pytest.raises(prompts.PromptNotFoundError, match="version 4"):
        prompts.diff(name, 1, 4)
    with pytest.raises(prompts.PromptNotFoundError, match="no prompt 'nope_"):
        prompts.run("nope_" + name, None, models=[str(tiny_model)])


def test_magic_usage_errors(ip, name, tiny_model, df):
    ip.user_ns["df"] = df
    with pytest.raises(prompts.PromptNotFoundError, match="Create it with a %%llmops prompt"):
        ip.run_cell_magic("llmops", f"prompt {name} --model {tiny_model}", "  \n")
    with pytest.raises(UsageError, match="--versions"):
        ip.run_line_magic("llmops", f"prompt {name} --versions 1,x")
    with pytest.raises(UsageError, match="no variable named 'nodf'"):
        ip.run_cell_magic("llmops", f"prompt {name} --data nodf", "{{ q }}")
    with pytest.raises(UsageError, match="not both"):
        ip.run_cell_magic("llmops", f'prompt {name} --template "a"', "b")
    with pytest.raises(UsageError, match="versions are numbers"):
        ip.run_line_magic("llmops", f"prompt-diff {name} one")
    # domain errors through the magic keep their class
    with pytest.raises(prompts.UnknownVariableError):
        ip.run_cell_magic("llmops", f"prompt {name} --data df --model {tiny_model}", "{{ nope }}")


def test_magic_returns_a_prompt_run_and_stores_it(ip, name, tiny_model, df):
    ip.user_ns["df"] = df
    out = ip.run_cell_magic(
        "llmops",
        f"prompt {name} --data df --model {tiny_model} --limit 2 --max-new-tokens 3 -o pr",
        "Answer: {{ question }}",
    )
    assert ip.user_ns["pr"] is out and isinstance(out, prompts.PromptRun)
    assert out.n_examples == 2 and out.params["max_new_tokens"] == 3
    assert not math.isnan(out.total_s)


def test_cache_is_shared_safely_by_two_processes(tmp_path):
    import subprocess
    import sys

    from llmops_magics.prompts import GenerationCache

    path = tmp_path / "prompts.sqlite"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from llmops_magics.prompts._cache import CachedGeneration, GenerationCache\n"
        "cache = GenerationCache(Path(sys.argv[1]))\n"
        "for i in range(150):\n"
        "    g = CachedGeneration(f'{sys.argv[2]}{i}', 1, 2, 0.1, None, None)\n"
        "    cache.put_many([(f'{sys.argv[2]}{i}', 'm', 'p', g)])\n"
        "    assert cache.get_many([f'{sys.argv[2]}{i}'])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), tag], stderr=subprocess.PIPE)
        for tag in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    cache = GenerationCache(path)
    assert len(cache) == 300
    assert cache.get_many(["a7"])["a7"].output == "a7"
