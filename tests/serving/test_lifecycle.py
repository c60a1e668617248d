"""A server's life: 503 while loading, 429 when the queue is full, an error event when it stops
mid-stream, a graceful stop that finishes in-flight requests, and a model that moves under load."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import openai
import pytest

from llmops_magics import models, serving
from llmops_magics.serving._models import load_version
from llmops_magics.testing import make_tiny_adapter


def _client(server: serving.Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)


def _chat(client: openai.OpenAI, model: str = "tiny", **kw: object) -> object:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What is AI?"}], **kw
    )


def _until(condition, timeout: float = 120.0, state=lambda: "") -> None:
    """Wait for ``condition`` (a deadline for a hung server, not a speed check: CI runs two
    workers on two loaded cores, where a tiny model's answer can take seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out {state()}"
        time.sleep(0.01)


def test_503_while_loading_then_ready(tiny_model: Path) -> None:
    guard_held = threading.Event()
    server = serving.serve([f"tiny={tiny_model}"], port=0, track=False, wait=False)
    try:
        guard = server.app.models.guard
        # loading takes the guard; while the test holds it the models cannot load
        if guard.acquire(blocking=False):
            guard_held.set()
        client = _client(server)
        if guard_held.is_set() and not server.ready:
            with pytest.raises(openai.InternalServerError) as info:
                _chat(client, max_tokens=2)
            assert info.value.status_code == 503 and "loading" in str(info.value)
            guard.release()
        server.wait_ready(60)
        assert _chat(client, max_tokens=2).usage.completion_tokens <= 2
    finally:
        server.stop()


def test_429_when_the_queue_is_full(tiny_model: Path) -> None:
    server = serving.serve(
        [f"tiny={tiny_model}"], port=0, track=False, max_queue=1, batch_wait_ms=0
    )
    client = _client(server)
    guard = server.app.models.guard
    results: list[object] = []
    try:
        with guard:  # the engine takes the first request and waits for the guard
            first = threading.Thread(target=lambda: results.append(_chat(client, max_tokens=2)))
            first.start()
            engine = next(iter(server.app.engines.values()))
            _until(lambda: len(engine.running) == 1)
            second = threading.Thread(target=lambda: results.append(_chat(client, max_tokens=2)))
            second.start()
            _until(lambda: engine.depth == 1)
            with pytest.raises(openai.RateLimitError) as info:
                _chat(client, max_tokens=2)
            assert info.value.body["code"] == "queue_full"
        first.join()
        second.join()
        assert len(results) == 2
        assert 'status="429"' in server.app.metrics().body
    finally:
        server.stop()


def test_a_stop_mid_stream_is_an_error_event_and_a_graceful_stop_finishes(
    tiny_model: Path,
) -> None:
    server = serving.serve([f"tiny={tiny_model}"], port=0, track=False)
    client = _client(server)
    guard = server.app.models.guard
    with guard:
        stream = _chat(client, max_tokens=40, stream=True)
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
        engine = next(iter(server.app.engines.values()))
        _until(lambda: len(engine.running) == 1)
        stopper = threading.Thread(target=server.stop, kwargs={"abort": True})
        stopper.start()
        _until(lambda: engine.running[0].cancelled.is_set())
    with pytest.raises(openai.APIError, match="stopped"):
        list(stream)
    stopper.join()

    graceful = serving.serve([f"tiny={tiny_model}"], port=0, track=False)
    client = _client(graceful)
    answers: list[object] = []
    with graceful.app.models.guard:
        threads = [
            threading.Thread(target=lambda: answers.append(_chat(client, max_tokens=4)))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        engine = next(iter(graceful.app.engines.values()))
        _until(lambda: len(engine.running) + engine.depth == 3)  # all three in flight
        stopper = threading.Thread(target=graceful.stop)
        stopper.start()
        _until(lambda: graceful.stopped.is_set())
    for t in threads:
        t.join()
    stopper.join()
    assert len(answers) == 3  # in-flight requests finished
    assert graceful.stats().requests == 3


def _load_until(stop: threading.Event, call, seen: list, errors: list) -> None:
    while not stop.is_set():
        try:
            out = call()
            seen.append((out.system_fingerprint, out.choices[0].message.content))
        except BaseException as exc:
            errors.append(exc)


def test_a_re_saved_adapter_moves_its_traffic_under_load(tiny_model: Path, tmp_path: Path) -> None:
    path = make_tiny_adapter(tiny_model, tmp_path / "moving", seed=5)
    old_version = models.resolve(path).content_hash[:12]
    server = serving.serve([f"mv={path}"], port=0, track=False, refresh_s=0.1)
    client = _client(server)
    old_name = server.app.models.models["mv"].current.loaded.adapter_name
    seen: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    args = (stop, lambda: _chat(client, "mv", max_tokens=4), seen, errors)
    workers = [threading.Thread(target=_load_until, args=args) for _ in range(3)]
    try:
        for w in workers:
            w.start()
        _until(lambda: len(seen) >= 3)
        make_tiny_adapter(tiny_model, path, seed=6)  # saved again: new weights
        new_version = models.resolve(path).content_hash[:12]
        _until(
            lambda: sum(v == new_version for v, _ in seen) >= 3,
            state=lambda: (
                f"new {new_version}, served {server.app.models.models['mv'].current.version}, "
                f"seen {[v for v, _ in seen[-5:]]}, errors {errors}"
            ),
        )
        stop.set()
        for w in workers:
            w.join()
        assert errors == []
        assert old_version != new_version
        assert {v for v, _ in seen} == {old_version, new_version}
        expected = models.generate(["What is AI?"], model=path, max_new_tokens=4, track=False)
        assert seen[-1] == (new_version, expected.texts[0])
        base = server.app.models.models["mv"].current.base
        server.app.models.holds.join(30)
        assert old_name not in base.peft_model.peft_config  # the old version was unloaded
        assert [m.version for m in client.models.list()] == [new_version]
    finally:
        stop.set()
        server.stop()


def test_old_weights_leave_after_their_batch_and_never_while_the_new_version_uses_them(
    tiny_model: Path, tmp_path: Path
) -> None:
    path = make_tiny_adapter(tiny_model, tmp_path / "same", seed=7)
    server = serving.serve([f"mv={path}"], port=0, track=False, refresh_s=0)
    client = _client(server)
    models_ = server.app.models
    served = models_.models["mv"]
    expected = _chat(client, "mv", max_tokens=4).choices[0].message.content
    try:
        # the folder loaded again (a refresh while it was being written) gives the same weights
        # as a new version: letting the old version go must not unload them
        in_flight = served.acquire()
        served.swap(load_version(path, models_.guard))
        served.release(in_flight)
        models_.holds.join(30)
        assert served.current.loaded.adapter_name in served.current.base.peft_model.peft_config
        assert _chat(client, "mv", max_tokens=4).choices[0].message.content == expected

        # other weights: the old ones leave when their last request is done, and not while a
        # batch runs (the batch holds the guard)
        make_tiny_adapter(tiny_model, path, seed=8)
        old = served.acquire()
        old_name = old.loaded.adapter_name
        with models_.guard:  # a batch is running
            served.swap(load_version(path, models_.guard))
            served.release(old)
            time.sleep(0.2)
            assert old_name in served.current.base.peft_model.peft_config
        models_.holds.join(30)
        assert old_name not in served.current.base.peft_model.peft_config
        new = models.generate(["What is AI?"], model=path, max_new_tokens=4, track=False)
        assert _chat(client, "mv", max_tokens=4).choices[0].message.content == new.texts[0]
    finally:
        server.stop()
