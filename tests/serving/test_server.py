"""The server through the official ``openai`` client: models, chat, streaming, completions,
errors, batching, tracing and feedback."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest

from llmops_magics import models, tracking

QUESTIONS = ["What is AI?", "How are you?", "Tell me a joke.", "Numbers 0123456789 %$#@!"]


def _chat(s: Any, model: str, prompt: str, **kw: object) -> object:
    return s.client.chat.completions.create(  # type: ignore[attr-defined]
        model=model, messages=[{"role": "user", "content": prompt}], **kw
    )


def test_models_list_names_each_model_with_its_base_and_version(served: Any) -> None:
    rows = {m.id: m for m in served.client.models.list()}  # type: ignore[attr-defined]
    assert set(rows) == {"base", "a1", "a2"}
    assert rows["base"].parent is None
    assert rows["a1"].parent == served.base == rows["a2"].parent
    assert rows["a1"].version == models.resolve(served.adapters["a1"]).content_hash[:12]
    assert rows["a1"].version != rows["a2"].version


def test_greedy_chat_equals_in_process_generate_for_the_base_and_each_adapter(
    served: Any,
) -> None:
    for name, spec in [("base", served.base), *served.adapters.items()]:
        expected = models.generate(QUESTIONS[:2], model=spec, max_new_tokens=8, track=False)
        for prompt, text in zip(QUESTIONS[:2], expected.texts, strict=True):
            out = _chat(served, name, prompt, max_tokens=8, temperature=0)
            assert out.choices[0].message.content == text, name
            assert out.model == name
            assert out.usage.completion_tokens <= 8
    # the adapters really change the output (so the model field picks one)
    texts = {
        n: _chat(served, n, QUESTIONS[0], max_tokens=8).choices[0].message.content
        for n in ("base", "a1", "a2")
    }
    assert len(set(texts.values())) == 3
    # one base in memory, one batching engine: the adapters ride on it
    assert len(served.server.app.engines) == 1


def test_completions_use_the_prompt_as_it_is(served: Any) -> None:
    expected = models.generate(
        ["What is AI?"], model=served.base, max_new_tokens=6, chat=False, track=False
    )
    out = served.client.completions.create(model="base", prompt="What is AI?", max_tokens=6)
    assert out.choices[0].text == expected.texts[0]
    assert out.usage.prompt_tokens == expected.prompt_tokens[0]
    several = served.client.completions.create(
        model="a1", prompt=["What is AI?", "How are you?"], max_tokens=4
    )
    assert [c.index for c in several.choices] == [0, 1]


def test_streaming_sends_the_same_text_then_usage_then_done(served: Any) -> None:
    whole = _chat(served, "a1", QUESTIONS[1], max_tokens=10).choices[0].message.content
    stream = _chat(
        served,
        "a1",
        QUESTIONS[1],
        max_tokens=10,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1
    assert chunks[-2].choices[0].finish_reason in ("stop", "length")
    assert len({c.id for c in chunks}) == 1
    # the raw stream ends with [DONE]
    req = urllib.request.Request(
        served.server.url + "/chat/completions",  # type: ignore[attr-defined]
        data=json.dumps(
            {
                "model": "base",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "max_tokens": 3,
            }
        ).encode(),
        headers={"Authorization": f"Bearer {served.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        lines = [ln for ln in resp.read().decode().splitlines() if ln]
    assert lines[-1] == "data: [DONE]"


def test_decoding_fields_stop_cap_and_seed(served: Any) -> None:
    long = _chat(served, "base", QUESTIONS[2], max_tokens=12).choices[0].message.content
    cut = long[3:6]
    stopped = _chat(served, "base", QUESTIONS[2], max_tokens=12, stop=[cut])
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == long[: long.index(cut)].strip()
    capped = _chat(served, "base", QUESTIONS[2], max_tokens=500)  # the server caps at 12
    assert capped.usage.completion_tokens <= 12
    kw = {"max_tokens": 8, "temperature": 1.5, "top_p": 0.9, "seed": 7}
    a = _chat(served, "a2", QUESTIONS[0], **kw).choices[0].message.content
    b = _chat(served, "a2", QUESTIONS[0], **kw).choices[0].message.content
    assert a == b
    # in company (requests with the same settings at once) the seed still gives the same text
    crowd: dict[str, str] = {}

    def one(question: str) -> None:
        crowd[question] = _chat(served, "a2", question, **kw).choices[0].message.content

    threads = [threading.Thread(target=one, args=(q,)) for q in QUESTIONS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert crowd[QUESTIONS[0]] == a


def test_unknown_model_and_bad_key(served: Any) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _chat(served, "nope", "hi")
    assert "a1" in str(info.value) and "base" in str(info.value)
    bad = openai.OpenAI(base_url=served.server.url, api_key="wrong", max_retries=0)  # type: ignore[attr-defined]
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "base", "messages": []}, 422, "messages"),
        ({"model": "base", "messages": [{"role": "robot", "content": "x"}]}, 422, "messages"),
        (
            {"model": "base", "messages": [{"role": "user", "content": "x"}], "max_tokens": -3},
            422,
            "max_tokens",
        ),
        (
            {"model": "base", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
            400,
            "temperature",
        ),
    ],
)
def test_bad_inputs_get_openai_errors(served: Any, body: dict, status: int, param: str) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        served.client.chat.completions.create(**body)  # type: ignore[attr-defined]
    assert info.value.status_code == status
    assert info.value.body["param"] == param


def _raw(served: Any, path: str, data: bytes, *, method: str = "POST") -> tuple[int, dict]:
    req = urllib.request.Request(
        served.server.url.removesuffix("/v1") + path,  # type: ignore[attr-defined]
        data=data if method == "POST" else None,
        method=method,
        headers={"Authorization": f"Bearer {served.key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        assert "Traceback" not in text and 'File "' not in text
        return exc.code, json.loads(text)


def test_non_json_and_oversized_bodies(served: Any) -> None:
    status, body = _raw(served, "/v1/chat/completions", b"{not json")
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    status, body = _raw(served, "/v1/chat/completions", b'{"model": "base"}')
    assert status == 400 and body["error"]["param"] == "messages"
    big = json.dumps({"model": "base", "prompt": "x" * 70_000}).encode()
    status, body = _raw(served, "/v1/completions", big)
    assert status == 413 and "65536" in body["error"]["message"]
    with pytest.raises(openai.APIStatusError) as info:
        served.client.completions.create(model="base", prompt="y" * 70_000)
    assert info.value.status_code == 413
    assert _raw(served, "/v1/nothing", b"{}")[0] == 404
    assert _raw(served, "/v1/models", b"{}")[0] == 405


def test_concurrent_requests_share_batches_and_give_the_same_answers(served: Any) -> None:
    names = ["base", "a1", "a2", "a1"] * 3
    prompts = [QUESTIONS[i % 4] for i in range(len(names))]
    alone = [
        _chat(served, n, p, max_tokens=6).choices[0].message.content
        for n, p in zip(names, prompts, strict=True)
    ]
    before = served.server.stats()  # type: ignore[attr-defined]
    got: dict[int, str] = {}

    def call(i: int) -> None:
        got[i] = _chat(served, names[i], prompts[i], max_tokens=6).choices[0].message.content

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = served.server.stats()  # type: ignore[attr-defined]
    assert [got[i] for i in range(len(names))] == alone
    batches = after.batches - before.batches
    assert batches < len(names)  # requests, adapters mixed, shared forward passes


def test_every_request_is_a_trace_whose_id_is_the_response_id(served: Any) -> None:
    out = _chat(served, "a2", "How are you?", max_tokens=5)
    t = tracking.tracker()
    t.traces.flush()
    trace = t.traces.get(out.id)
    assert trace is not None
    tags = trace.info.tags
    assert tags[tracking.MODEL] == "a2" and tags[tracking.SERVED] == "true"
    assert tags[tracking.MODEL_VERSION] == models.resolve(served.adapters["a2"]).content_hash[:12]
    assert tags[tracking.RUN_ID] == served.server.run_id  # type: ignore[attr-defined]
    assert json.loads(trace.info.response_preview)["text"] == out.choices[0].message.content


def test_feedback_round_trip(served: Any) -> None:
    out = _chat(served, "a1", "Tell me a joke.", max_tokens=5)
    body = {"id": out.id, "score": 4, "comment": "fine", "rater": "ann"}
    status, reply = _raw(served, "/v1/feedback", json.dumps(body).encode())
    assert status == 200 and reply["name"] == "llmops.stars"
    _raw(served, "/v1/feedback", json.dumps({"id": out.id, "thumbs": "down"}).encode())
    trace = tracking.tracker().traces.get(out.id)
    found = {a.name: a for a in trace.info.assessments}
    assert found["llmops.stars"].feedback.value == 4
    assert found["llmops.stars"].source.source_id == "ann"
    assert found["llmops.stars"].rationale == "fine"
    assert found["llmops.thumbs"].feedback.value == "down"
    from llmops_magics import feedback

    frame = feedback.load_feedback()
    assert ((frame["trace_id"] == out.id) & (frame["model"] == "a1")).sum() == 2
    assert _raw(served, "/v1/feedback", json.dumps({"id": out.id, "score": 9}).encode())[0] == 422
    assert (
        _raw(served, "/v1/feedback", json.dumps({"id": "tr-nope", "score": 3}).encode())[0] == 404
    )


def test_health_and_metrics(served: Any) -> None:
    _chat(served, "a1", "What is AI?", max_tokens=2)  # at least one answered chat to count
    status, body = _raw(served, "/health", b"", method="GET")
    assert status == 200 and body["status"] == "ok"
    req = urllib.request.Request(
        served.server.url.removesuffix("/v1") + "/metrics",  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {served.key}"},
    )
    text = urllib.request.urlopen(req, timeout=30).read().decode()
    assert "# TYPE llmops_request_latency_seconds histogram" in text
    counted = 'llmops_requests_total{endpoint="chat.completions",model="a1",status="200"}'
    assert counted in text, text
    assert "llmops_queue_depth 0" in text
    assert "llmops_completion_tokens_total" in text and "llmops_errors_total" in text


def test_the_monitor_shows_served_traffic_beside_the_notebooks(served: Any) -> None:
    from llmops_magics import feedback

    _chat(served, "a2", "What is AI?", max_tokens=3)
    models.generate(["What is AI?"], model=served.adapters["a2"], max_new_tokens=3)
    report = feedback.monitor()
    sources = report.traces.groupby("model")["source"].agg(set)
    assert sources["a2"] == {"served"} and sources[served.adapters["a2"]] == {"notebook"}
    row = report.summary.set_index("model").loc["a2"]
    assert row["served_traces"] == row["traces"] >= 1
