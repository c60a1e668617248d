"""%llmops finetune and merge: flags generated from FineTuneConfig, usage errors, a real run."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError

from llmops_magics import finetune


def _pairs(n: int = 24):
    import pandas as pd

    return pd.DataFrame(
        {
            "q": [f"What does the model do {i}?" for i in range(n)],
            "a": [f"The model learns short questions {i % 3}." for i in range(n)],
        }
    )


@pytest.fixture
def calls(monkeypatch):
    """Stand-ins for the stage calls: record what the magic passes, train nothing."""
    seen: dict[str, tuple] = {}

    def record(name):
        def call(*args, **kwargs):
            seen[name] = (args, kwargs)
            return name

        return call

    for name in ("train", "train_dpo", "resume"):
        monkeypatch.setattr(finetune, name, record(name))
    return seen


def test_lora_alpha_parses_into_the_config_as_an_int(ip, calls):
    ip.user_ns["df"] = _pairs()
    ip.run_line_magic(
        "llmops", "finetune --data df --prompt-col q --response-col a --lora-alpha 32"
    )
    (config, data, evals), kwargs = calls["train"]
    assert config.lora_alpha == 32 and type(config.lora_alpha) is int
    assert config.model == "smollm2"  # the session's default_model
    assert config.lora_r == 8 and config.lr == 2e-4  # not given: the config's defaults
    assert data is ip.user_ns["df"] and evals is None
    assert kwargs == {"run_name": None, "progress": None}


def test_flags_reach_the_config(ip, calls):
    ip.user_ns["df"] = _pairs()
    ip.user_ns["ev"] = _pairs(4)
    ip.run_line_magic("config", "LlmopsMagics.default_model = 'other-model'")
    try:
        ip.run_line_magic(
            "llmops",
            "finetune --data df --eval-data ev --text q --max-steps 5 --lr 1e-3 --qlora "
            "--target-modules q_proj k_proj --prompt-version qa/2 --scheduler cosine "
            "--run-name mine --quiet",
        )
    finally:
        ip.run_line_magic("config", "LlmopsMagics.default_model = 'smollm2'")
    (config, _, evals), kwargs = calls["train"]
    assert config.model == "other-model" and config.text_col == "q"
    assert config.max_steps == 5 and config.lr == 1e-3 and config.quantize == "4bit"
    assert config.target_modules == ["q_proj", "k_proj"] and config.scheduler == "cosine"
    assert config.prompt_version == "qa/2" and len(evals) == 4
    assert kwargs == {"run_name": "mine", "progress": False}
    ip.run_line_magic("llmops", "finetune -m given --data df --text q")
    assert calls["train"][0][0].model == "given"


def test_dpo_and_resume_go_to_their_calls(ip, calls, tmp_path):
    ip.user_ns["prefs"] = _pairs()
    ip.run_line_magic("llmops", "finetune --method dpo --preferences prefs --beta 0.2")
    (config, prefs, _), _ = calls["train_dpo"]
    assert config.method == "dpo" and config.beta == 0.2 and config.prompt_col == "prompt"
    assert prefs is ip.user_ns["prefs"]
    ip.run_line_magic("llmops", "finetune --resume abc --quiet")
    assert calls["resume"] == (("abc",), {"data": None, "eval_data": None, "progress": False})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("finetune --prompt-col q --response-col a", "give training data"),
        ("finetune --data df --prompt-col q", "--response-col"),
        ("finetune --data df --text q --prompt-col q", "not both"),
        ("finetune --method dpo", "--preferences"),
        ("finetune --method dpo --preferences df --data df", "leave out --data"),
        ("finetune --data df --text q --preferences df", "--preferences goes with --method dpo"),
        ("finetune --data nothere --text q", "no variable named 'nothere'"),
        (
            "finetune --resume abc --max-steps 9 --lora-alpha 4",
            "leave out --lora-alpha, --max-steps",
        ),
        ("finetune --data df --text q --lora-alpha 3.5", "invalid int value"),
        ("finetune --data df --text q --precision int8", "invalid choice"),
    ],
)
def test_usage_errors(ip, calls, line, message):
    ip.user_ns["df"] = _pairs()
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("llmops", line)
    assert not calls


def test_finetune_and_merge_magics(ip, tiny_model, tmp_path):
    ip.user_ns["df"] = _pairs()
    res = ip.run_line_magic(
        "llmops",
        f"finetune --model {tiny_model} --data df --prompt-col q --response-col a "
        "--max-steps 3 --lr 5e-3 --lora-r 4 --target-modules q_proj,k_proj --quiet -o ft",
    )
    assert ip.user_ns["ft"] is res and res.status == "finished" and res.global_step == 3
    assert res.config["lora_r"] == 4 and res.config["target_modules"] == ["q_proj", "k_proj"]
    merged = ip.run_line_magic("llmops", f"merge {res.spec} --out {tmp_path / 'm'}")
    assert Path(merged.out, "model.safetensors").exists()
