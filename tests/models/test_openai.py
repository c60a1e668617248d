"""``openai:`` model specs: generate, a prompt grid and a chain against our own server on
loopback, each call traced; named endpoints from the workspace's endpoints.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from llmops_magics import models, prompts, tracking
from llmops_magics.errors import GenerationError, ModelNotFoundError
from llmops_magics.models import GenerationParams

KEY_ENV = "LLMOPS_TEST_REMOTE_KEY"


@pytest.fixture(scope="module")
def url(tiny_model: Path) -> Iterator[str]:
    import os

    from llmops_magics import serving

    os.environ[KEY_ENV] = "k-remote"
    server = serving.serve(
        [f"tiny={tiny_model}"], port=0, track=False, refresh_s=0, api_key_env=KEY_ENV
    )
    yield server.url
    server.stop()


def _write_endpoints(root: Path, url: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    table = {"local": {"base_url": url, "model": "tiny", "api_key_env": KEY_ENV}}
    (root / "endpoints.json").write_text(json.dumps(table))


def test_a_named_endpoint_generates_as_the_local_model_and_is_traced(
    url: str, tiny_model: Path, workspace: Path
) -> None:
    _write_endpoints(workspace, url)
    questions = ["What is AI?", "How are you?", "Tell me a joke."]
    local = models.generate(questions, model=str(tiny_model), max_new_tokens=6, track=False)
    remote = models.generate(questions, model="openai:local", max_new_tokens=6)
    assert remote.texts == local.texts
    assert remote.completion_tokens == local.completion_tokens
    assert len(remote.trace_ids) == 3 and remote.run_id
    trace = tracking.tracker().traces.get(remote.trace_ids[0])
    assert trace.info.tags[tracking.MODEL] == "openai:local"
    assert json.loads(trace.info.response_preview)["text"] == remote.texts[0]
    plain = models.generate(
        ["What is AI?"], model="openai:local", chat=False, max_new_tokens=4, track=False
    )
    direct = models.generate(
        ["What is AI?"], model=str(tiny_model), chat=False, max_new_tokens=4, track=False
    )
    assert plain.texts == direct.texts
    rows = {r["name"] for r in models.list_models().rows}
    assert "openai:local" in rows


def test_streaming_through_the_endpoint(url: str, tiny_model: Path, workspace: Path) -> None:
    _write_endpoints(workspace, url)
    seen: list[str] = []
    out = models.generate(
        ["What is AI?"],
        model="openai:local",
        max_new_tokens=6,
        track=False,
        on_text=lambda i, text: seen.append(text),
    )
    assert seen and seen[-1] == out.texts[0]


def test_a_prompt_grid_compares_a_local_and_a_served_model(
    url: str, tiny_model: Path, workspace: Path
) -> None:
    _write_endpoints(workspace, url)
    frame = pd.DataFrame({"question": ["What is AI?", "How are you?"]})
    run = prompts.run(
        "served-grid",
        "Answer: {{ question }}",
        frame,
        models=[str(tiny_model), "openai:local"],
        params=GenerationParams(max_new_tokens=5),
    )
    wide = run.to_frame().pivot(index="example", columns="model", values="output")
    assert list(wide[str(tiny_model)]) == list(wide["openai:local"])


def test_bad_remote_specs_say_what_is_wrong(url: str, workspace: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelNotFoundError, match="refused the API key"):
        models.resolve(f"openai:tiny@{url}")
    monkeypatch.setenv("OPENAI_API_KEY", "k-remote")
    assert models.resolve(f"openai:tiny@{url}").meta["model"] == "tiny"
    with pytest.raises(ModelNotFoundError, match="serves no model 'nope'"):
        models.resolve(f"openai:nope@{url}")
    with pytest.raises(ModelNotFoundError, match="names no endpoint 'missing'"):
        models.resolve("openai:missing")
    with pytest.raises(ModelNotFoundError, match="openai:NAME@BASE_URL"):
        models.resolve("openai:tiny@ftp://x")
    with pytest.raises(ModelNotFoundError, match="did not answer"):
        models.resolve("openai:tiny@http://127.0.0.1:9/v1")
    _write_endpoints(workspace, url)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(GenerationError, match=KEY_ENV):
        models.resolve("openai:local")
