"""A model that a generation engine of the seam serves (CTranslate2 here) is served through it:
greedy answers equal the engine's in-process ones for the base and an adapter (merged per
version), concurrent requests share its batches, streaming and stop strings work."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import threading
import weakref
from collections import Counter
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


def _os_threads() -> Counter[str]:
    """Threads of this process by name, native ones (the engines' compute pools) included."""
    gc.collect()
    names: Counter[str] = Counter()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            names[Path(f"/proc/self/task/{task}/comm").read_text().strip()] += 1
    names.update(re.sub(r"Thread-\d+", "Thread", f"py:{t.name}") for t in threading.enumerate())
    return names


def test_moves_leave_no_engine_threads_behind(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMOPS_CACHE_DIR", str(tmp_path / "cache"))
    path = make_tiny_adapter(tiny_model, tmp_path / "mv", seed=11)
    server = serving.serve([f"mv={path}"], port=0, track=False, refresh_s=0, engine=ENGINE)
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)
    holds = server.app.models.holds

    def move(seed: int) -> object:
        make_tiny_adapter(tiny_model, path, seed=seed)  # saved again: a new version
        assert server.app.models.refresh() == ["mv"]
        # nobody uses the old version: it is unloaded and its engine stopped before the next
        # request (an OpenMP runtime keeps the threads of a stopped engine for the next one; a
        # second engine computing at once would need a second team of them)
        holds.join(60)
        return _ask(client, "mv", "What is AI?").choices[0].text

    try:
        move(12)  # the first merge starts torch's own pool: count from here
        level = _os_threads()
        threads = [e._thread for e in server.app.engines.values()]  # not the engines: they
        # hold their weights
        weights = weakref.ref(server.app.models.models["mv"].current.loaded)
        answers = [move(seed) for seed in (13, 14)]
        now = _os_threads()
        assert now == level, f"more: {now - level}, fewer: {level - now}"
        assert len(server.app.engines) == 1
        assert not any(t.is_alive() for t in threads)
        assert weights() is None  # the old versions' weights are gone, not cached
        expected = models.generate(["What is AI?"], model=path, engine=ENGINE, max_new_tokens=6,
                                   chat=False, track=False).texts[0]  # fmt: skip
        assert answers[-1] == expected
    finally:
        server.stop()
