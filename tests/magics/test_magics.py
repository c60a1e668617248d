"""The %llmops magic: help, parsing, usage errors, -o and session defaults."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

SUBCOMMANDS = ["workspace", "runs", "models", "data", "generate"]


def test_bare_magic_prints_help_with_every_subcommand(ip, capsys):
    assert ip.run_line_magic("llmops", "") is None
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f"%llmops {name} " in text  # its usage line
    assert "-o NAME" in text


def test_question_mark_help_is_the_full_help(ip):
    info = ip.object_inspect("%llmops")  # what %llmops? shows
    assert info["found"] and "usage of each subcommand" in info["docstring"]
    for name in SUBCOMMANDS:
        assert f"%llmops {name}" in info["docstring"]


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(ip, capsys, name):
    assert ip.run_line_magic("llmops", f"{name} -h") is None
    text = capsys.readouterr().out
    assert text.startswith(f"usage: %llmops {name}")
    assert "--output NAME" in text


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("nonsense", "invalid choice: 'nonsense'"),
        ("data", "the following arguments are required: name"),
        ("generate --model", "expected one argument"),
        ("runs --limit many", "invalid int value"),
        ("workspace a b", "unrecognized arguments: b"),
        ('generate "unclosed', "No closing quotation"),
        ("generate", "give prompts"),
        ("generate --data df --column q", "no variable named 'df'"),
        ("generate --data df", "--data and --column go together"),
        ('generate "hi" --data df --column q', "one way only"),
        ("data chatterbot -o 1bad", "not a valid variable name"),
        ("data chatterbot -o class", "not a valid variable name"),
        ("workspace somewhere --reset", "not both"),
    ],
)
def test_bad_usage_raises_one_line_usage_error(ip, line, fragment):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("llmops", line)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_cell_body_refused_where_it_means_nothing(ip):
    with pytest.raises(UsageError, match="takes no cell body"):
        ip.run_cell_magic("llmops", "models", "something")


def test_output_option_stores_the_returned_object(ip):
    result = ip.run_line_magic("llmops", "data chatterbot --limit 2 -o qa")
    assert ip.user_ns["qa"] is result
    assert list(result.columns) == ["question", "answer", "topic"]
    assert len(result) == 2


def test_domain_failure_is_an_llmops_error_with_a_short_traceback(ip):
    from llmops_magics.errors import LlmopsError

    with pytest.raises(LlmopsError) as info:
        ip.run_line_magic("llmops", "data no_such_set")
    assert "chatterbot" in str(info.value) and "rotten_tomatoes" in str(info.value)
    rendered = info.value._render_traceback_()
    assert len(rendered) == 1 and "UnknownNameError" in rendered[0]


def test_session_defaults_are_configurable_traitlets(ip, tiny_model, capsys):
    ip.run_line_magic("config", f"LlmopsMagics.default_model = '{tiny_model}'")
    ip.run_line_magic("config", "LlmopsMagics.max_new_tokens = 3")
    try:
        result = ip.run_line_magic("llmops", 'generate "What is AI?" --no-track')
    finally:
        ip.run_line_magic("config", "LlmopsMagics.default_model = 'smollm2'")
        ip.run_line_magic("config", "LlmopsMagics.max_new_tokens = 64")
    assert result.model == str(tiny_model)
    assert result.completion_tokens[0] <= 3


def test_an_unexpected_failure_is_one_line_too_and_llmops_debug_shows_it(ip, monkeypatch):
    """A bug below a magic (here a stage call that fails with a plain RuntimeError) shows as
    one line; the error keeps its type, and LLMOPS_DEBUG=1 gives the traceback."""
    from IPython.utils.capture import capture_output

    from llmops_magics import prompts

    def broken(name=None):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(prompts, "list_prompts", broken)
    monkeypatch.delenv("LLMOPS_DEBUG", raising=False)
    with pytest.raises(RuntimeError) as info:
        ip.run_line_magic("llmops", "prompts")
    [line] = info.value._render_traceback_()
    assert "RuntimeError" in line and "boom" in line and "second" not in line
    assert "%llmops prompts failed unexpectedly; LLMOPS_DEBUG=1" in line
    with capture_output() as shown:
        ip.run_cell("%llmops prompts")
    assert "boom" in shown.stdout + shown.stderr and "Traceback" not in shown.stdout
    monkeypatch.setenv("LLMOPS_DEBUG", "1")
    with pytest.raises(NotImplementedError):
        info.value._render_traceback_()
