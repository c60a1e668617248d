"""Generation engines: the choice (auto, named, refused, fallbacks), CTranslate2 against torch on
the tiny model, conversion cached by content hash, adapters merged once per version, streaming,
stop strings, seeds, lineage in the run, and the flags and session default. ONNX Runtime GenAI's
tests are in test_engines_ortgenai.py."""

from __future__ import annotations

import json
import shutil

import pytest

from llmops_magics import models
from llmops_magics.errors import GenerationError
from llmops_magics.models import _conversion, _ctranslate2, _engines, _ortgenai
from llmops_magics.testing import make_tiny_adapter

PROMPTS = ["What is AI?", "Tell me a joke.", "How are you?", "Numbers", "Why?"]


@pytest.fixture(scope="module", autouse=True)
def engine_cache(tmp_path_factory: pytest.TempPathFactory):
    """Conversions of this module go to their own cache folder."""
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("engine-cache")
        mp.setenv("LLMOPS_CACHE_DIR", str(root))
        yield root / "engines"


def _gen(model, engine, prompts=PROMPTS, **kw):
    kw.setdefault("max_new_tokens", 8)
    return models.generate(prompts, model=str(model), engine=engine, track=False, **kw)


def test_ctranslate2_float32_matches_torch_and_int8_runs(tiny_model):
    torch_out = _gen(tiny_model, "torch")
    fp32 = _gen(tiny_model, "ctranslate2-float32")
    int8 = _gen(tiny_model, "ctranslate2", batch_size=2)
    assert fp32.texts == torch_out.texts  # same weights, same greedy path
    assert fp32.completion_tokens == torch_out.completion_tokens
    assert fp32.prompt_tokens == torch_out.prompt_tokens == int8.prompt_tokens
    assert (torch_out.engine, fp32.engine, int8.engine) == (
        "torch (float32)",
        "ctranslate2-float32 (float32)",
        "ctranslate2 (int8)",
    )
    assert len(int8.texts) == len(PROMPTS) and all(0 < n <= 8 for n in int8.completion_tokens)
    assert int8.texts != fp32.texts  # int8 weights really ran (they change a random model)


def test_auto_picks_the_guarded_engine_on_the_cpu_only_for_its_base(tiny_model, monkeypatch):
    local = models.resolve(str(tiny_model))
    assert models.choose_engine("auto", local).engine.name == "torch"  # not guarded
    embedded = models.ModelRef(spec="smollm2", kind="embedded", path=local.path)
    choice = models.choose_engine("auto", embedded)
    assert models.QUALITY_GUARDED["smollm2"] == ("onnxruntime-genai", "ctranslate2-float32")
    assert choice.label == "onnxruntime-genai (int8)" and "quality guard" in choice.reason
    monkeypatch.setattr(_engines, "_device", lambda: "cuda")
    assert models.choose_engine("auto", embedded).engine.name == "torch"
    monkeypatch.setattr(_engines, "_device", lambda: "cpu")
    # ONNX Runtime GenAI not installed: the next guarded engine, then torch
    monkeypatch.setattr(_ortgenai.OrtGenAIEngine, "available", lambda self: "no ort")
    choice = models.choose_engine("auto", embedded)
    assert choice.label == "ctranslate2-float32 (float32)" and "no ort" in choice.reason
    monkeypatch.setattr(_ctranslate2.CTranslate2Engine, "available", lambda self: "not here")
    choice = models.choose_engine("auto", embedded)
    assert choice.engine.name == "torch"
    assert "not here" in choice.reason and "no ort" in choice.reason


def test_a_named_engine_that_cannot_serve_the_model_says_why(tiny_model, tmp_path):
    other = tmp_path / "gpt"
    shutil.copytree(tiny_model, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps(config | {"model_type": "gpt2"}))
    with pytest.raises(GenerationError, match="'gpt2' is not one of llama") as err:
        models.choose_engine("ctranslate2", str(other))
    assert "--engine auto" in str(err.value)
    assert models.choose_engine("auto", str(other)).engine.name == "torch"
    with pytest.raises(models.GenerationParamsError, match="engine='nope' is not one of auto"):
        models.GenerationParams(engine="nope")


def test_conversion_is_cached_by_content_hash(tiny_model, tmp_path, engine_cache, monkeypatch):
    ref = models.resolve(str(tiny_model))
    first = _ctranslate2.converted_dir(ref, "int8")
    stamp = (first / "model.bin").stat().st_mtime_ns
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert _ctranslate2.converted_dir(models.resolve(str(copy)), "int8") == first
    assert (first / "model.bin").stat().st_mtime_ns == stamp  # not converted again
    assert json.loads((first / "llmops_source.json").read_text())["quantization"] == "int8"
    assert first.is_relative_to(engine_cache)

    def no_hashing(path):
        raise AssertionError("hashed again")

    monkeypatch.setattr(_conversion, "weights_hash", no_hashing)
    assert _ctranslate2.converted_dir(ref, "int8") == first  # found by identity, not hashed


def test_adapters_are_merged_once_per_version(tiny_model, tmp_path):
    spec = make_tiny_adapter(tiny_model, tmp_path / "a", seed=1)
    base = _gen(tiny_model, "ctranslate2-float32").texts
    torch_a = _gen(spec, "torch").texts
    ct2_a = _gen(spec, "ctranslate2-float32")
    assert ct2_a.texts == torch_a and ct2_a.texts != base  # the merged adapter ran
    first = _ctranslate2.converted_dir(models.resolve(spec), "float32")
    make_tiny_adapter(tiny_model, tmp_path / "a", seed=2)  # a new version of the adapter
    second = _ctranslate2.converted_dir(models.resolve(spec), "float32")
    assert second != first and first.is_dir()
    assert _gen(spec, "ctranslate2-float32").texts == _gen(spec, "torch").texts


def test_streaming_stop_strings_and_seeds(tiny_model):
    seen: dict[int, list[str]] = {}
    out = _gen(
        tiny_model,
        "ctranslate2",
        PROMPTS[:2],
        on_text=lambda i, t: seen.setdefault(i, []).append(t),
    )
    assert [seen[i][-1] for i in (0, 1)] == out.texts
    assert len(seen[0]) > 2  # text arrived token by token
    for engine in ("ctranslate2", "torch"):
        full = _gen(tiny_model, engine, PROMPTS[:1]).texts[0]
        stop = full[len(full) // 2 : len(full) // 2 + 2]
        cut = _gen(tiny_model, engine, PROMPTS[:1], stop=[stop])
        assert cut.texts[0] == full[: full.index(stop)].strip()
        assert cut.finish_reasons == ["stop"]
    streamed: list[str] = []
    _gen(
        tiny_model, "ctranslate2", PROMPTS[:1], stop=[stop], on_text=lambda i, t: streamed.append(t)
    )
    assert all(stop not in t for t in streamed)

    def sample(seed):
        return _gen(tiny_model, "ctranslate2", PROMPTS[:3], temperature=1.0, seed=seed).texts

    assert sample(1) == sample(1) and sample(1) != sample(2)


def test_the_run_records_the_engine_that_ran(tiny_model, workspace):
    from llmops_magics import tracking

    out = models.generate(["hi"], model=str(tiny_model), engine="ctranslate2", max_new_tokens=3)
    run = tracking.tracker().get_run(out.run_id)
    assert run.data.params["engine"] == "ctranslate2"
    assert run.data.params["compute_type"] == "int8"
    assert run.data.tags[_engines.ENGINE_TAG] == "ctranslate2 (int8)"


def test_engine_flag_and_session_default(ip, tiny_model):
    from IPython.core.error import UsageError

    out = ip.run_line_magic(
        "llmops", f'generate "hi" -m {tiny_model} --engine ctranslate2 --no-track'
    )
    assert out.engine == "ctranslate2 (int8)"
    ip.run_line_magic("config", 'LlmopsMagics.engine = "ctranslate2-float32"')
    try:
        out = ip.run_line_magic("llmops", f'generate "hi" -m {tiny_model} --no-track --stop xyz')
        assert out.engine == "ctranslate2-float32 (float32)" and out.params["stop"] == ["xyz"]
    finally:
        ip.run_line_magic("config", 'LlmopsMagics.engine = ""')
    with pytest.raises(UsageError, match="--engine"):
        ip.run_line_magic("llmops", f'generate "hi" -m {tiny_model} --engine nope')


def test_engine_names_list_auto_and_the_builtin_engines():
    assert models.engine_names()[:1] == ["auto"]
    names = set(models.engine_names())
    assert {"torch", "ctranslate2", "ctranslate2-float32", "onnxruntime-genai"} <= names
