"""Generation in a prompt run: a single output streams where someone watches, and only there."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from llmops_magics import models, prompts


@pytest.fixture
def generate_calls(monkeypatch):
    """Every ``models.generate`` call of the prompt stage: (streamed?, the texts it streamed)."""
    calls: list[tuple[bool, list[str]]] = []
    real = models.generate

    def spy(*args, **kwargs):
        texts: list[str] = []
        on_text = kwargs.get("on_text")
        if on_text is not None:

            def record(index: int, text: str) -> None:
                texts.append(text)
                on_text(index, text)

            kwargs["on_text"] = record
        calls.append((on_text is not None, texts))
        return real(*args, **kwargs)

    monkeypatch.setattr(models, "generate", spy)
    return calls


@pytest.fixture
def frontend(ip, monkeypatch):
    """The shell looks like a kernel with a front end (what JupyterLab gives)."""
    from llmops_magics import progress

    monkeypatch.delenv("LLMOPS_PLAIN", raising=False)
    monkeypatch.delenv("LLMOPS_STAGE_OUTPUTS", raising=False)
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    assert progress.has_frontend()
    return ip


def _one(name: str, spec: str, who: str, **options):
    return prompts.run(
        name,
        "Hi {{ who }}, " + name,  # the name keeps the prompt out of other tests' cache entries
        models=[spec],
        namespace={"who": who},
        max_new_tokens=10,
        **options,
    )


def test_streaming_passes_the_growing_text_to_on_text(name, tiny_model, ip, generate_calls):
    with capture_output():
        out = _one(name, str(tiny_model), "Ada", stream=True)
    [(streamed, texts)] = generate_calls
    final = out.to_frame()["output"][0]
    assert streamed and len(texts) >= 3 and texts[-1] == final
    assert len(set(texts)) > 1  # it grew: several different partial texts were passed on
    plain = models.generate([out.records[0]["prompt"]], model=str(tiny_model), max_new_tokens=10)
    assert final == plain.texts[0]  # streaming changes nothing in the output
    assert out.records[0]["tokens"] == plain.completion_tokens[0]


def test_single_example_run_streams_into_a_display_handle(name, tiny_model, ip):
    with capture_output() as captured:
        out = _one(name, str(tiny_model), "Bob", stream=True)
    assert out.generated == 1 and out.records[0]["trace_id"].startswith("tr-")
    views = list(captured.outputs)
    assert len(views) >= 3
    first, *updates = views
    assert not first.update and all(o.update for o in updates)  # one view, updated in place
    final = out.to_frame()["output"][0]
    assert updates[-1].data["text/html"].count(final.replace("&", "&amp;")[:5]) >= 1
    assert len({o.data["text/html"] for o in views}) > 2  # the text grew


def test_without_a_kernel_nothing_streams_or_shows(name, tiny_model, ip, generate_calls):
    with capture_output() as captured:
        out = _one(name, str(tiny_model), "Cy")
    assert out.generated == 1
    assert [streamed for streamed, _ in generate_calls] == [False]
    assert captured.outputs == [] and captured.stdout == ""


def test_a_front_end_streams_by_default_but_not_in_pipeline_or_plain_kernels(
    name, tiny_model, frontend, generate_calls, monkeypatch, tmp_path
):
    spec = str(tiny_model)
    with capture_output() as captured:
        _one(name, spec, "Dee")
    assert [streamed for streamed, _ in generate_calls] == [True]
    assert len(captured.outputs) >= 3
    # a papermill stage kernel started by the pipeline runner: no one watches it live
    monkeypatch.setenv("LLMOPS_STAGE_OUTPUTS", str(tmp_path / "outputs.json"))
    with capture_output() as captured:
        _one(name, spec, "Eve")
    assert captured.outputs == [] and generate_calls[-1][0] is False
    monkeypatch.delenv("LLMOPS_STAGE_OUTPUTS")
    monkeypatch.setenv("LLMOPS_PLAIN", "1")
    with capture_output() as captured:
        _one(name, spec, "Flo")
    assert captured.outputs == [] and generate_calls[-1][0] is False
    monkeypatch.delenv("LLMOPS_PLAIN")
    with capture_output() as captured:
        _one(name, spec, "Gus", stream=False)
    assert captured.outputs == [] and generate_calls[-1][0] is False


def test_several_outputs_are_batched_not_streamed(name, tiny_model, df, ip, generate_calls):
    with capture_output() as captured:
        out = prompts.run(name, "{{ question }} " + name, df, models=[str(tiny_model)], stream=True)
    assert out.generated == 3
    assert [streamed for streamed, _ in generate_calls] == [False]
    assert captured.outputs == []


def test_a_cached_output_does_not_stream(name, tiny_model, ip, generate_calls):
    with capture_output():
        _one(name, str(tiny_model), "Hal", stream=True)
    with capture_output() as captured:
        again = _one(name, str(tiny_model), "Hal", stream=True)
    assert again.generated == 0 and len(generate_calls) == 1
    assert captured.outputs == []
