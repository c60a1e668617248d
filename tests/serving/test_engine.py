"""A model that a generation engine of the seam serves (CTranslate2 here) is served through it:
greedy answers equal the engine's in-process ones for the base and an adapter (merged per
version), concurrent requests share its batches, streaming and stop strings work."""

from __future__ import annotations

import threading
from pathlib import Path

import openai
import pytest

from llmops_magics import models, serving
from llmops_magics.testing import make_tiny_adapter

ENGINE = "ctranslate2-float32"


@pytest.fixture(scope="module")
def seam_server(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMOPS_CACHE_DIR", str(tmp_path_factory.mktemp("engine-cache")))
        adapter = make_tiny_adapter(tiny_model, tmp_path_factory.mktemp("seam") / "a", seed=3)
        server = serving.serve(
            [f"base={tiny_model}", f"a={adapter}"],
            port=0,
            track=False,
            engine=ENGINE,
            batch_wait_ms=50,
        )
        client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)
        yield server, client, {"base": str(tiny_model), "a": adapter}
        server.stop()


def _ask(client: openai.OpenAI, model: str, prompt: str, **kw: object) -> object:
    return client.completions.create(model=model, prompt=prompt, max_tokens=6, **kw)


def test_served_through_the_engine_with_its_answers(seam_server) -> None:
    server, client, specs = seam_server
    listed = {m.id: m.model_extra["engine"] for m in client.models.list()}
    assert listed == {"base": f"{ENGINE} (float32)", "a": f"{ENGINE} (float32)"}
    prompts = ["What is AI?", "Tell me a joke.", "Why?"]
    for name, spec in specs.items():
        expected = models.generate(
            prompts, model=spec, engine=ENGINE, max_new_tokens=6, chat=False, track=False
        ).texts
        answers: dict[str, str] = {}

        def one(prompt: str, model: str = name, out: dict[str, str] = answers) -> None:
            out[prompt] = _ask(client, model, prompt).choices[0].text

        threads = [threading.Thread(target=one, args=(p,)) for p in prompts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [answers[p] for p in prompts] == expected
    assert server.stats().mean_batch > 1  # the concurrent requests shared engine batches
    chunks = list(_ask(client, "a", prompts[0], stream=True))
    assert "".join(c.choices[0].text for c in chunks) == expected[0]


def test_stop_strings_through_the_engine(seam_server) -> None:
    _, client, _ = seam_server
    full = _ask(client, "base", "What is AI?").choices[0].text
    assert len(full) > 2
    stop = full[1:3]
    cut = _ask(client, "base", "What is AI?", stop=[stop]).choices[0]
    assert cut.text == full[: full.index(stop)].strip() and cut.finish_reason == "stop"
