"""The prompt stage's subcommands: prompt, prompts, prompt-diff and chain."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from IPython.core.error import UsageError

from llmops_magics import models, prompts

_ids = itertools.count()


@pytest.fixture
def name(workspace) -> str:
    """A prompt name no other test uses (the workspace is shared)."""
    return f"m{next(_ids)}_{id(workspace) % 10_000}"


@pytest.fixture
def names(name) -> tuple[str, str]:
    """Two prompt names for a chain."""
    return f"summ_{name}", f"title_{name}"


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": ["What is AI?", "How are you?", "Tell me a joke."],
            "answer": ["AI is a field", "I am fine", "a joke about robots"],
            "text": ["The model learns today.", "A notebook reads data again.", "Hi."],
        }
    )


@pytest.fixture
def calls(monkeypatch):
    """The stage calls the magic makes (prompts.run / prompts.chain), instead of running them."""
    seen: list[tuple[str, tuple, dict]] = []
    for fn in ("run", "chain"):
        monkeypatch.setattr(
            prompts, fn, lambda *a, _fn=fn, **kw: seen.append((_fn, a, kw)) or "result"
        )
    return seen


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


def test_chain_magic(ip, names, tiny_model, df):
    summ, title = names
    ip.user_ns["df"] = df
    ip.run_cell_magic(
        "llmops", f"prompt {summ} --model {tiny_model} --data df --no-track", "S {{ text }}"
    )
    prompts.register(title, "T {{ outputs." + summ + " }}")
    out = ip.run_line_magic(
        "llmops", f"chain {summ} {title} --data df --model {tiny_model} --limit 1 -o ch"
    )
    assert ip.user_ns["ch"] is out and out.n_examples == 1
    assert out.to_frame()["step"].tolist() == [summ, title]
    assert out.generated == 1  # the summary of row 0 was cached by the prompt cell


def test_flags_fill_the_prompt_config_and_the_decoding_settings(ip, calls):
    ip.run_cell_magic(
        "llmops",
        "prompt qa -m a --model b --limit 2 --reference answer --versions 1,latest --no-stream "
        "--no-track --temperature 0.5 --top-p 0.9 --seed 3 --no-chat --system 'Be brief.'",
        "T {{ x }}",
    )
    [(fn, args, kwargs)] = calls
    assert (fn, args) == ("run", ("qa", "T {{ x }}"))
    assert kwargs["config"] == prompts.PromptConfig(
        models=["a", "b"],
        limit=2,
        reference="answer",
        versions=[1, "latest"],
        stream=False,
        track=False,
    )
    assert kwargs["params"] == models.GenerationParams(
        temperature=0.5, top_p=0.9, seed=3, system="Be brief.", chat=False
    )
    assert kwargs["data"] is None and kwargs["namespace"] is ip.user_ns


def test_without_flags_the_session_defaults_apply(ip, calls):
    ip.run_line_magic("config", "LlmopsMagics.default_model = 'mine'")
    ip.run_line_magic("config", "LlmopsMagics.max_new_tokens = 7")
    try:
        ip.run_line_magic("llmops", "prompt qa")
        ip.run_line_magic("llmops", "chain a b --batch-size 2 --limit 1")
    finally:
        ip.run_line_magic("config", "LlmopsMagics.default_model = 'smollm2'")
        ip.run_line_magic("config", "LlmopsMagics.max_new_tokens = 64")
    (_, run_args, run_kw), (_, chain_args, chain_kw) = calls
    assert run_args == ("qa", None)  # the line magic runs the stored latest version
    assert run_kw["config"] == prompts.PromptConfig(models=["mine"])
    assert run_kw["params"] == models.GenerationParams(max_new_tokens=7)
    assert chain_args == (["a", "b"],)
    assert chain_kw["config"] == prompts.ChainConfig(models=["mine"], limit=1)
    assert chain_kw["params"] == models.GenerationParams(max_new_tokens=7, batch_size=2)
    with pytest.raises(UsageError, match="--reference"):  # a chain has no reference column
        ip.run_line_magic("llmops", "chain a --reference answer")
