"""`%llmops sweep`: flags generated from SweepConfig and FineTuneConfig, parsing only."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from llmops_magics import sweeps
from llmops_magics.errors import LlmopsError
from llmops_magics.sweeps import SpaceError, SweepConfig

SPACE = '--space "lr=loguniform(1e-4,1e-2)" --prompt-col question --response-col answer'


@pytest.fixture(scope="module")
def chat_frame():
    from llmops_magics import data

    return data.load_dataset("chatterbot", limit=24, seed=0)


def test_magic_runs_a_sweep(ip, tiny_model, chat_frame):
    ip.user_ns["df"] = chat_frame
    result = ip.run_line_magic(
        "llmops",
        f'sweep --model {tiny_model} --data df --space "lr=loguniform(1e-4,1e-2)" --trials 2 '
        "--prompt-col question --response-col answer --max-steps 2 --eval-steps 1 "
        "--max-length 192 --pruner none --no-progress --study magic-sweep -o sw",
    )
    assert isinstance(result, sweeps.SweepResult) and ip.user_ns["sw"] is result
    assert result.n_complete == 2 and result.trials[0]["steps"] == 2
    # resuming by name adds trials
    result2 = ip.run_line_magic("llmops", "sweep --study magic-sweep --trials 3 --no-progress")
    assert result2.n_complete == 3
    with pytest.raises(UsageError, match="give a search space"):
        ip.run_line_magic("llmops", "sweep --data df")
    with pytest.raises(UsageError, match="invalid choice: 'bogus'"):
        ip.run_line_magic("llmops", "sweep --space x=uniform(0,1) --pruner bogus")
    with pytest.raises(UsageError, match="worker needs --study"):
        ip.run_line_magic("llmops", "sweep worker")
    with pytest.raises(UsageError, match="drop --space"):
        ip.run_line_magic("llmops", "sweep worker --study s --space x=uniform(0,1)")
    with pytest.raises(SpaceError) as info:
        ip.run_line_magic("llmops", 'sweep --data df --space "lr=uniform(0.1,"')
    assert info.value.token == ""
    with pytest.raises(LlmopsError):
        ip.run_line_magic("llmops", 'sweep --data df --space "lr=x(1)"')


def test_lora_alpha_32_is_a_fixed_setting(ip, chat_frame):
    ip.user_ns["df"] = chat_frame
    queued = ip.run_line_magic(
        "llmops", f"sweep --data df {SPACE} --lora-alpha 32 --n-jobs 0 --study alpha-32"
    )
    stored = SweepConfig.from_study(queued.study_object())
    assert stored.fixed["lora_alpha"] == 32 and type(stored.fixed["lora_alpha"]) is int
    assert stored.fixed["model"] == "smollm2"  # the session's default model
    with pytest.raises(UsageError, match="--lora-alpha: invalid int value: '32.5'"):
        ip.run_line_magic("llmops", f"sweep --data df {SPACE} --lora-alpha 32.5")


def test_a_bad_option_names_its_flag_and_field(ip, chat_frame):
    ip.user_ns["df"] = chat_frame
    bad = {
        "--lora-alpha 0": "--lora-alpha: lora_alpha=0 is out of range: it must be in [1, 4096]",
        "--lora-dropout 1": "--lora-dropout: lora_dropout=1.0 is out of range",
        "--lr 0.1": "--lr: 'lr' is both in the search space and fixed.",
        "--trials 0": "--trials: trials=0 is out of range: it must be at least 1",
        "--heartbeat 0": "--heartbeat: heartbeat=0 is out of range",
        "--eval-split 1": "--eval-split: eval_split=1.0 is out of range",
    }
    for flag, words in bad.items():
        with pytest.raises(UsageError) as info:
            ip.run_line_magic("llmops", f"sweep --data df {SPACE} {flag} --study bad")
        assert str(info.value).startswith(f"%llmops sweep: {words}"), str(info.value)
    with pytest.raises(UsageError, match="^%llmops sweep: --heartbeat: heartbeat=0"):
        ip.run_line_magic("llmops", "sweep worker --study bad --heartbeat 0")
    for flag in ("--lora-alpha 32", "--trials 3", "--model smollm2", "--sampler random"):
        with pytest.raises(UsageError, match=f"drop {flag.split()[0]}"):
            ip.run_line_magic("llmops", f"sweep worker --study s {flag}")
    assert sweeps.fixed_fields()[0] == "model"
