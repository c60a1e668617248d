"""Result objects of the prompt stage: how a prompt run shows, with and without a front end."""

from __future__ import annotations

from llmops_magics import prompts

WIDGET = "application/vnd.jupyter.widget-view+json"


def test_a_prompt_run_shows_a_table_without_a_front_end(name, tiny_model, df, ip):
    out = prompts.run(name, "{{ question }}", df, models=[str(tiny_model)], max_new_tokens=2)
    bundle = out._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}  # no widget: nothing could render it
    assert bundle["text/plain"] == repr(out) and repr(out).startswith(f"prompt {name} v1")
    html = bundle["text/html"]
    assert "<table" in html and "What is AI?" in html
    assert "trace_id" not in html and "bleu" not in html  # no reference: no score columns


def test_with_a_front_end_the_bundle_carries_the_grid(name, tiny_model, df, ip, monkeypatch):
    monkeypatch.delenv("LLMOPS_PLAIN", raising=False)
    monkeypatch.delenv("LLMOPS_STAGE_OUTPUTS", raising=False)
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    out = prompts.run(
        name, "{{ question }}", df, models=[str(tiny_model)], max_new_tokens=2, track=False
    )
    bundle = out._repr_mimebundle_()
    assert WIDGET in bundle and "text/html" in bundle  # the table stays for nbconvert
    assert bundle[WIDGET]["model_id"]  # a live PromptGrid widget
    monkeypatch.setenv("LLMOPS_STAGE_OUTPUTS", "x")  # a pipeline's papermill kernel
    assert WIDGET not in out._repr_mimebundle_()


def test_chain_run_frame_and_outputs_table():
    run = prompts.ChainRun(
        steps=["a", "b"],
        models=["m"],
        records=[
            {"example": 0, "model": "m", "step": s, "version": 1, "prompt": "p", "output": o}
            | {"latency_s": 0.1, "prompt_tokens": 1, "tokens": 2, "cached": False}
            | {"trace_id": "tr-1"}
            for s, o in (("a", "x"), ("b", "y"))
        ],
        n_examples=1,
        generated=2,
    )
    assert run.outputs().loc[0].tolist() == ["x", "y"]
    assert "trace_id" not in run._repr_html_()
    assert repr(run).startswith("chain a → b: 1 example(s) x 1 model(s) · 2 generated")
