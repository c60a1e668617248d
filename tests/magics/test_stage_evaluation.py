"""The evaluation stage's subcommands: eval (its flags come from EvalConfig and
GenerationParams) and compare; and the same commands from the console script."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError

from llmops_magics import evaluation, models
from llmops_magics.evaluation import EvaluationError


def _scored_frame(n: int) -> pd.DataFrame:
    refs = [f"the answer number {i} is {i * 7 % 13} apples today" for i in range(n)]
    good = [r if i % 4 else r.replace("apples", "pears") for i, r in enumerate(refs)]
    bad = [f"unrelated words {i}" for i in range(n)]
    return pd.DataFrame(
        {"prompt": [f"q{i}" for i in range(n)], "answer": refs, "good": good, "bad": bad}
    )


def test_magics_eval_and_compare(ip, workspace, tiny_model):
    ip.user_ns["df"] = _scored_frame(12)
    a = ip.run_line_magic(
        "llmops", "eval --data df --prediction-col good --metrics bleu,f1 --bootstrap 50 -o ev"
    )
    b = ip.run_line_magic(
        "llmops", "eval --data df --prediction-col bad --metrics bleu,f1 --bootstrap 50"
    )
    assert ip.user_ns["ev"] is a
    assert a.score("f1") > b.score("f1")
    runs = [next(iter(a.run_ids.values())), next(iter(b.run_ids.values()))]
    cmp = ip.run_line_magic("llmops", f"compare {runs[0]} {runs[1]}")
    frame = cmp.to_frame()
    assert set(frame["run_id"]) == set(runs)
    f1 = frame[frame["metric"] == "f1"].set_index("run_id")["score"]
    assert f1[runs[0]] == pytest.approx(a.score("f1")) and f1[runs[1]] == pytest.approx(
        b.score("f1")
    )
    assert list(cmp.table()["metric"]) == ["bleu", "f1"]
    newest = ip.run_line_magic("llmops", "compare --limit 2")
    assert {r["run_id"] for r in newest.runs} == set(runs)
    with pytest.raises(UsageError, match="invalid choice: 'fp16'"):
        ip.run_line_magic("llmops", "eval --data df --prediction-col good --precision fp16")
    with pytest.raises(UsageError, match=r"--bootstrap: bootstrap=-5 is out of range"):
        ip.run_line_magic("llmops", "eval --data df --prediction-col good --bootstrap -5")
    with pytest.raises(UsageError, match="no variable named 'nodf'"):
        ip.run_line_magic("llmops", "eval --data nodf --prediction-col good")
    gen = models.generate(["hi"], model=str(tiny_model), max_new_tokens=2)
    with pytest.raises(EvaluationError, match=r"is not an? eval run \(its stage is 'generate'"):
        ip.run_line_magic("llmops", f"compare {gen.run_id}")
    with pytest.raises(EvaluationError, match="No eval run 'f{32}'"):
        ip.run_line_magic("llmops", f"compare {'f' * 32}")


def test_cli_eval(tmp_path, workspace, capsys):
    from llmops_magics.cli import main

    csv = tmp_path / "qa.csv"
    csv.write_text("question,answer,prediction\nCapital?,Paris,Paris\nSum?,four,five\n")
    args = ["eval", "--data", str(csv), "--prediction-col", "prediction", "--no-track"]
    assert main([*args, "--metrics", "exact_match,chrf", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "exact_match  0.5" in out and "column prediction" in out
    csv.write_text("question,answer,prediction\nCapital?,,Paris\nSum?,four,five\n")
    assert main([*args, "--metrics", "exact_match"]) == 1
    assert "1 missing value(s) (NaN) of 2 rows, at rows [0]" in capsys.readouterr().err


def test_eval_flags_fill_the_config(ip, workspace, monkeypatch):
    """Each eval flag reaches its EvalConfig field; config errors are usage errors that name
    the flag."""
    seen = {}

    def fake_evaluate(data, model=None, *, config, params):
        seen.update(config=config, params=params, rows=len(data))
        return config

    monkeypatch.setattr(evaluation, "evaluate", fake_evaluate)
    ip.user_ns["df"] = _scored_frame(5)
    ip.run_line_magic(
        "llmops",
        "eval --data df -m a -m b --prompt-col prompt --reference-col answer --metrics bleu,rouge "
        "--baseline base --bootstrap 20 --seed 7 --counterfactual he:she --precision fp32 "
        "--prompt-version p/2 --no-track --max-new-tokens 5 --batch-size 3 --system 'Be brief.'",
    )
    config, params = seen["config"], seen["params"]
    assert config == evaluation.EvalConfig(
        models=["a", "b"],
        prompt_col="prompt",
        reference_col="answer",
        metrics=["bleu", "rouge"],
        baseline="base",
        bootstrap=20,
        seed=7,
        counterfactual=[["he", "she"]],
        precision="fp32",
        prompt_version="p/2",
        track=False,
    )
    assert (params.max_new_tokens, params.batch_size, params.system) == (5, 3, "Be brief.")
    assert seen["rows"] == 5
    # no --model and no --prediction-col: the session's model; decoding: the session's defaults
    ip.run_line_magic("config", "LlmopsMagics.max_new_tokens = 11")
    try:
        ip.run_line_magic("llmops", "eval --data df")
    finally:
        ip.run_line_magic("config", "LlmopsMagics.max_new_tokens = 64")
    assert seen["config"].models == ["smollm2"] and seen["params"].max_new_tokens == 11
    assert seen["config"].track is True and seen["config"].bootstrap == 1000
    ip.run_line_magic("llmops", "eval --data df --prediction-col good")
    assert seen["config"].models == []
    for line, flag in [
        ("--prediction-col good --bootstrap 1", "--bootstrap"),
        ("--prediction-col good --max-new-tokens 0", "--max-new-tokens"),
        ("--prediction-col good --batch-size 0", "--batch-size"),
        ("--prediction-col good --seed -1", "--seed"),
        ("--prediction-col good -m a -m b", "--model"),
        ("--prediction-col good --counterfactual he:she", "--counterfactual"),
        ("--prediction-col good --metrics bleuu", "--metrics"),
    ]:
        with pytest.raises(UsageError, match=f"%llmops eval: {flag}: "):
            ip.run_line_magic("llmops", f"eval --data df {line}")
