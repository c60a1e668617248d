"""The serving stage's subcommand: %llmops serve (a background handle, --stop) and the
console script's refusals."""

from __future__ import annotations

import openai
import pytest
from IPython.core.error import UsageError

from llmops_magics import cli, serving


def test_serve_in_the_background_then_stop(ip, tiny_model):
    srv = ip.run_line_magic("llmops", f"serve {tiny_model} --port 0 --no-track -o srv")
    try:
        assert ip.user_ns["srv"] is srv and srv.ready
        assert srv.url.startswith("http://127.0.0.1:") and srv.url.endswith("/v1")
        client = openai.OpenAI(base_url=srv.url, api_key="none", max_retries=0)
        out = client.completions.create(model=str(tiny_model), prompt="What is AI?", max_tokens=3)
        assert out.usage.completion_tokens <= 3
        assert srv.stats().requests == 1
        assert "serving" in repr(srv) and srv.url in srv._repr_html_()
    finally:
        stats = ip.run_line_magic("llmops", "serve --stop")
    assert stats.requests == 1 and stats.completion_tokens == out.usage.completion_tokens
    assert serving.running() == []
    with pytest.raises(UsageError, match="no server is running"):
        ip.run_line_magic("llmops", "serve --stop")
    with pytest.raises(openai.APIConnectionError):
        client.models.list()


def test_bad_flags_are_one_line_usage_errors(ip, tiny_model):
    with pytest.raises(UsageError, match="--port"):
        ip.run_line_magic("llmops", f"serve {tiny_model} --port 70000")
    with pytest.raises(UsageError, match="--stop takes no SPEC"):
        ip.run_line_magic("llmops", f"serve {tiny_model} --stop")


def test_off_loopback_needs_a_key_from_the_environment(ip, tiny_model, monkeypatch, capsys):
    with pytest.raises(serving.ServingError, match="without an API key"):
        ip.run_line_magic("llmops", f"serve {tiny_model} --host 0.0.0.0 --port 0")
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    assert cli.main(["serve", str(tiny_model), "--api-key-env", "NO_SUCH_KEY_VAR"]) == 1
    assert "NO_SUCH_KEY_VAR" in capsys.readouterr().err
    assert serving.running() == []
