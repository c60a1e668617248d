"""The ONNX Runtime GenAI engine on the tiny model: its float32 build generates what torch does
(one at a time and batched) and scores the same log-probabilities, int8 really runs, the build is
cached by content hash, adapters are merged and built once per version, streaming, stop strings
and seeds, a failed build says why and leaves nothing behind, and the run records the engine."""

from __future__ import annotations

import json
import shutil

import pytest

from llmops_magics import models
from llmops_magics.errors import GenerationError
from llmops_magics.models import _conversion, _ortgenai
from llmops_magics.testing import make_tiny_adapter

PROMPTS = ["What is AI?", "Tell me a joke.", "How are you?", "Numbers", "Why?"]
FP32 = "onnxruntime-genai-fp32"


@pytest.fixture(scope="module", autouse=True)
def engine_cache(tmp_path_factory: pytest.TempPathFactory):
    """Builds of this module go to their own cache folder."""
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("ort-cache")
        mp.setenv("LLMOPS_CACHE_DIR", str(root))
        yield root / "engines"


def _gen(model, engine, prompts=PROMPTS, **kw):
    kw.setdefault("max_new_tokens", 8)
    return models.generate(prompts, model=str(model), engine=engine, track=False, **kw)


def test_fp32_build_matches_torch_single_and_batched_and_int8_runs(tiny_model):
    torch_out = _gen(tiny_model, "torch")
    for batch_size in (1, 2, 8):  # right-padded batches give each prompt its own answer
        fp32 = _gen(tiny_model, FP32, batch_size=batch_size)
        assert fp32.texts == torch_out.texts, batch_size
        assert fp32.completion_tokens == torch_out.completion_tokens
    int8 = _gen(tiny_model, "onnxruntime-genai", batch_size=4)
    assert (fp32.engine, int8.engine) == (f"{FP32} (fp32)", "onnxruntime-genai (int8)")
    assert int8.prompt_tokens == torch_out.prompt_tokens
    assert all(0 < n <= 8 for n in int8.completion_tokens)
    assert int8.texts != fp32.texts  # int8 weights really ran (they change a random model)
    ort, torch_engine = (
        models.choose_engine(FP32, str(tiny_model)).engine,
        models.choose_engine("torch", str(tiny_model)).engine,
    )
    scores = ort.score(ort.load(str(tiny_model)), PROMPTS[:2])
    reference = torch_engine.score(torch_engine.load(str(tiny_model)), PROMPTS[:2])
    for (got, n), (want, m) in zip(scores, reference, strict=True):
        assert n == m and got == pytest.approx(want, abs=1e-3)
    # texts are scored 16 at a time, right-padded: alone, each scores the same
    alone = [ort.score(ort.load(str(tiny_model)), [p])[0] for p in PROMPTS[:2]]
    assert alone[0][1] != alone[1][1]  # different lengths: the shorter one was padded
    assert [s for s, _ in alone] == pytest.approx([s for s, _ in scores], abs=1e-4)
    torch_alone = [
        torch_engine.score(torch_engine.load(str(tiny_model)), [p])[0] for p in PROMPTS[:2]
    ]
    assert [s for s, _ in torch_alone] == pytest.approx([s for s, _ in reference], abs=1e-4)


def test_int4_is_4_bit_blocks_of_32_with_zero_points_and_an_int8_output_projection(tiny_model):
    import onnx

    out = _gen(tiny_model, "onnxruntime-genai-int4", PROMPTS[:3], batch_size=2)
    assert out.engine == "onnxruntime-genai-int4 (int4)"
    assert all(0 < n <= 8 for n in out.completion_tokens)
    ref = models.resolve(str(tiny_model))
    path = _ortgenai.built_dir(ref, "int4")
    assert path.name.endswith("-int4-asym32-head8")  # its own cache entry beside int8's
    nodes = onnx.load(str(path / "model.onnx"), load_external_data=False).graph.node
    nbits = {
        n.name: ({a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}, len(n.input))
        for n in nodes
        if n.op_type == "MatMulNBits"
    }
    (head,) = [nbits.pop(k) for k in list(nbits) if k.startswith("/lm_head/")]
    assert (head[0]["bits"], head[0]["block_size"]) == (8, 32)
    assert len(nbits) == 5 * 2  # qkv, o, gate, up, down in each of the tiny model's 2 layers
    for attrs, inputs in nbits.values():
        assert (attrs["bits"], attrs["block_size"], attrs["accuracy_level"]) == (4, 32, 4)
        assert inputs >= 4  # A, B, scales and zero points: asymmetric, as Q4_1
    with pytest.raises(GenerationError, match="precision 'int3'"):
        _ortgenai.built_dir(ref, "int3")


def test_the_build_is_cached_by_content_hash(tiny_model, tmp_path, engine_cache, monkeypatch):
    ref = models.resolve(str(tiny_model))
    first = _ortgenai.built_dir(ref, "int8")
    assert first.is_relative_to(engine_cache) and first.name.endswith("-int8")
    stamp = (first / "model.onnx").stat().st_mtime_ns
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert _ortgenai.built_dir(models.resolve(str(copy)), "int8") == first
    assert (first / "model.onnx").stat().st_mtime_ns == stamp  # not built again
    assert json.loads((first / "llmops_source.json").read_text())["quantization"] == "int8"
    assert not (first / "llmops_build.log").exists()  # the builder's log is dropped on success

    def no_hashing(path):
        raise AssertionError("hashed again")

    monkeypatch.setattr(_conversion, "weights_hash", no_hashing)
    assert _ortgenai.built_dir(ref, "int8") == first  # found by identity, not hashed


def test_adapters_are_merged_and_built_once_per_version(tiny_model, tmp_path):
    spec = make_tiny_adapter(tiny_model, tmp_path / "a", seed=1)
    base = _gen(tiny_model, FP32).texts
    ort_a = _gen(spec, FP32, batch_size=2)
    assert ort_a.texts == _gen(spec, "torch").texts and ort_a.texts != base  # the merge ran
    first = _ortgenai.built_dir(models.resolve(spec), "fp32")
    make_tiny_adapter(tiny_model, tmp_path / "a", seed=2)  # a new version of the adapter
    second = _ortgenai.built_dir(models.resolve(spec), "fp32")
    assert second != first and first.is_dir()
    assert _gen(spec, FP32).texts == _gen(spec, "torch").texts


def test_streaming_stop_strings_and_seeds(tiny_model):
    seen: dict[int, list[str]] = {}
    out = _gen(tiny_model, FP32, PROMPTS[:2], on_text=lambda i, t: seen.setdefault(i, []).append(t))
    assert [seen[i][-1] for i in (0, 1)] == out.texts == _gen(tiny_model, "torch").texts[:2]
    assert len(seen[0]) > 2  # text arrived token by token
    full = out.texts[0]
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    streamed: list[str] = []
    for kw in ({"batch_size": 4}, {"on_text": lambda i, t: streamed.append(t)}):
        cut = _gen(tiny_model, FP32, PROMPTS[:1], stop=[stop], **kw)
        assert cut.texts[0] == full[: full.index(stop)].strip()
        assert cut.finish_reasons == ["stop"] and cut.completion_tokens[0] < 8
    assert streamed and all(stop not in t for t in streamed)

    def sample(seed):
        return _gen(tiny_model, "onnxruntime-genai", PROMPTS[:3], temperature=1.0, seed=seed).texts

    assert sample(1) == sample(1) and sample(1) != sample(2)


def test_a_failed_build_says_why_and_leaves_nothing(tiny_model, tmp_path, engine_cache):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(GenerationError, match="model builder failed") as err:
        _gen(broken, "onnxruntime-genai", PROMPTS[:1])
    assert "--engine torch" in str(err.value.hint)
    leftovers = [p.name for p in engine_cache.rglob("*") if "partial" in p.name]
    assert leftovers == []


def test_the_run_records_the_engine_that_ran(tiny_model, workspace):
    from llmops_magics import tracking

    out = models.generate(["hi"], model=str(tiny_model), engine="onnxruntime-genai")
    run = tracking.tracker().get_run(out.run_id)
    assert run.data.params["engine"] == "onnxruntime-genai"
    assert run.data.params["compute_type"] == "int8"
    assert run.data.tags["llmops.engine"] == "onnxruntime-genai (int8)"
    assert models.resolved_engine("onnxruntime-genai", str(tiny_model)) == out.engine
    assert models.resolved_engine("auto", str(tiny_model)) == "torch (float32)"  # not guarded
