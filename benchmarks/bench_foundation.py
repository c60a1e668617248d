"""Foundation benchmarks: extension load cost, embedded-model caching, batched generation.

Run from the repository root with the project's Python::

    python benchmarks/bench_foundation.py            # everything (about 2-4 minutes on 2 cores)
    python benchmarks/bench_foundation.py --quick    # only the %load_ext part (seconds)
    python benchmarks/bench_foundation.py --json out.json

Every figure is measured against a baseline taken in the same run, and printed as a ratio:

1. ``%load_ext llmops_magics`` against bare IPython start-up (fresh subprocesses, medians), with
   ``%load_ext autoreload`` as an anchor, and a check that no heavy library got imported.
2. The embedded model's first load (GGUF conversion) against its cached load, each in its own
   subprocess with a fresh temporary ``LLMOPS_CACHE_DIR``.
3. Batched against one-by-one greedy generation of 16 real prompts with ``smollm2``.

Each measurement runs in a child process started as ``bench_foundation.py _worker KIND``; the
child prints one JSON line (prefixed with ``RESULT``) that the parent reads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
HEAVY_MODULES = ("torch", "transformers", "peft", "mlflow", "optuna", "papermill")
RESULT_PREFIX = "RESULT "
N_PROMPTS = 16
MAX_NEW_TOKENS = 32
WIDTH = 58  # label column width


# --------------------------------------------------------------------------------------------
# Child-process side
# --------------------------------------------------------------------------------------------


def _emit(payload: dict[str, Any]) -> None:
    print(RESULT_PREFIX + json.dumps(payload), flush=True)


def _worker_shell(extension: str | None) -> None:
    """Create an InteractiveShell and optionally load one extension, timing the load."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    load_s = None
    if extension:
        start = time.perf_counter()
        shell.run_line_magic("load_ext", extension)
        load_s = time.perf_counter() - start
    heavy = sorted(m for m in HEAVY_MODULES if m in sys.modules)
    _emit({"load_ext_s": load_s, "heavy_loaded": heavy})


def _worker_load() -> None:
    """Time ``models.load("smollm2")`` once, in a process with no in-process model cache."""
    from llmops_magics import models
    from llmops_magics.models._sources import EMBEDDED

    cached_before = EMBEDDED.models["smollm2"].is_cached()
    start = time.perf_counter()
    import torch  # noqa: F401
    import transformers  # noqa: F401

    import_s = time.perf_counter() - start
    start = time.perf_counter()
    loaded = models.load("smollm2")
    load_s = time.perf_counter() - start
    # Again in the same process without the in-process model cache: transformers' lazy
    # submodules (modeling_llama, generation, torch._dynamo) are imported by now, so this
    # is the load itself; the difference to the first call is import cost.
    models.clear_cache()
    start = time.perf_counter()
    models.load("smollm2")
    reload_s = time.perf_counter() - start
    _emit(
        {
            "cached_before": cached_before,
            "import_s": import_s,
            "load_s": load_s,
            "from_pretrained_s": loaded.load_s,
            "reload_s": reload_s,
            "path": str(loaded.ref.path),
        }
    )


def _prompts() -> list[str]:
    from llmops_magics import data

    frame = data.load_dataset("chatterbot")
    # The corpus repeats many questions across topics; keep distinct ones before sampling.
    distinct = frame.drop_duplicates("question")
    return [str(q) for q in distinct.sample(n=N_PROMPTS, random_state=0)["question"]]


def _worker_generate() -> None:
    """Batched (batch_size=16) against one-by-one (batch_size=1) generation of the same prompts."""
    from llmops_magics import models

    prompts = _prompts()
    assert len(set(prompts)) == N_PROMPTS, "prompts must be distinct"
    # Warm-up: load the model and run the generate path once, so neither mode pays for it.
    models.generate(["Hi"], model="smollm2", max_new_tokens=2, track=False, progress=False)

    runs: dict[str, dict[str, Any]] = {}
    # Batched runs first: any warming of caches then favours one-by-one, so the ratio is
    # conservative.
    for mode, batch_size in (("batched", N_PROMPTS), ("one_by_one", 1)):
        start = time.perf_counter()
        result = models.generate(
            prompts,
            model="smollm2",
            max_new_tokens=MAX_NEW_TOKENS,
            batch_size=batch_size,
            track=False,
            progress=False,
        )
        wall_s = time.perf_counter() - start
        tokens = sum(result.completion_tokens)
        runs[mode] = {
            "batch_size": batch_size,
            "tokens": tokens,
            "wall_s": wall_s,
            "tokens_per_s": tokens / wall_s,
            "texts": result.texts,
            "n_length": result.finish_reasons.count("length"),
        }
    same = sum(
        a == b for a, b in zip(runs["batched"]["texts"], runs["one_by_one"]["texts"], strict=True)
    )
    for run in runs.values():
        del run["texts"]
    _emit({"prompts": prompts, "runs": runs, "identical_outputs": same})


def _worker(kind: str) -> None:
    if kind == "bare":
        _worker_shell(None)
    elif kind == "llmops":
        _worker_shell("llmops_magics")
    elif kind == "autoreload":
        _worker_shell("autoreload")
    elif kind == "load":
        _worker_load()
    elif kind == "generate":
        _worker_generate()
    else:
        raise SystemExit(f"unknown worker kind {kind!r}")


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env.update(extra)
    return env


def _run_worker(kind: str, env: dict[str, str], timeout: float = 300) -> tuple[float, Any]:
    """Run one worker in a fresh interpreter; return its wall time and its JSON payload."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "_worker", kind]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise RuntimeError(f"worker {kind!r} failed with exit status {proc.returncode}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise RuntimeError(f"worker {kind!r} printed no result")
    return wall, json.loads(lines[-1][len(RESULT_PREFIX) :])


def _line(label: str, value: str) -> None:
    print(f"  {label:<{WIDTH}} {value}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def _s(seconds: float) -> str:
    return f"{seconds:8.2f} s"


def bench_load_ext(repeat: int) -> dict[str, Any]:
    """Section 1: %load_ext cost over bare IPython start-up, in fresh subprocesses."""
    print(f"\n[1] %load_ext llmops_magics vs bare IPython start-up (median of {repeat} runs)")
    kinds = ("bare", "llmops", "autoreload")
    walls: dict[str, list[float]] = {k: [] for k in kinds}
    inner: dict[str, list[float]] = {"llmops": [], "autoreload": []}
    heavy: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-ipython-") as ipdir:
        # A private IPYTHONDIR keeps the user's profile and history out of it; the first
        # (untimed) run creates the profile so that no timed run pays for it.
        env = _child_env({"IPYTHONDIR": ipdir})
        _run_worker("bare", env)
        for _ in range(repeat):
            for kind in kinds:  # interleaved, so drift on the machine hits every kind alike
                wall, payload = _run_worker(kind, env)
                walls[kind].append(wall)
                if kind in inner:
                    inner[kind].append(payload["load_ext_s"])
                if kind == "llmops":
                    heavy = sorted(set(heavy) | set(payload["heavy_loaded"]))
    med = {k: statistics.median(v) for k, v in walls.items()}
    med_inner = {k: statistics.median(v) for k, v in inner.items()}
    extra = med["llmops"] - med["bare"]
    extra_ar = med["autoreload"] - med["bare"]
    _line("(a) bare: python + InteractiveShell.instance() [wall]", _ms(med["bare"]))
    _line("(b) same + %load_ext llmops_magics [wall]", _ms(med["llmops"]))
    _line("    anchor: same + %load_ext autoreload [wall]", _ms(med["autoreload"]))
    _line("(b) - (a): added by %load_ext llmops_magics", _ms(extra))
    _line("    anchor: added by %load_ext autoreload", _ms(extra_ar))
    _line("ratio (b) / (a)", f"{med['llmops'] / med['bare']:8.3f} x")
    _line("%load_ext llmops_magics, in-process perf_counter", _ms(med_inner["llmops"]))
    _line("%load_ext autoreload (anchor), in-process perf_counter", _ms(med_inner["autoreload"]))
    _line(
        "ratio llmops_magics / autoreload (in-process)",
        f"{med_inner['llmops'] / med_inner['autoreload']:8.2f} x",
    )
    ratio_bare = med_inner["llmops"] / med["bare"]
    _line("ratio in-process load_ext llmops_magics / bare start-up", f"{ratio_bare:8.3f} x")
    verdict = "OK (none loaded)" if not heavy else "FAIL: " + ", ".join(heavy)
    _line("heavy modules in sys.modules after %load_ext", verdict)
    return {
        "repeat": repeat,
        "bare_wall_s": med["bare"],
        "llmops_wall_s": med["llmops"],
        "autoreload_wall_s": med["autoreload"],
        "llmops_added_wall_s": extra,
        "autoreload_added_wall_s": extra_ar,
        "llmops_over_bare_ratio": med["llmops"] / med["bare"],
        "llmops_load_ext_s": med_inner["llmops"],
        "autoreload_load_ext_s": med_inner["autoreload"],
        "llmops_over_autoreload_ratio": med_inner["llmops"] / med_inner["autoreload"],
        "heavy_modules_loaded": heavy,
        "all_wall_s": walls,
        "all_load_ext_s": inner,
    }


def bench_model_load(env: dict[str, str]) -> dict[str, Any]:
    """Section 2: first load (GGUF conversion) against cached load, in separate processes."""
    print("\n[2] Embedded model smollm2: first load (converts GGUF) vs cached load")
    _, first = _run_worker("load", env)
    _, second = _run_worker("load", env)
    if first["cached_before"]:
        raise RuntimeError("the temporary cache already held smollm2: the first load is not cold")
    if not second["cached_before"]:
        raise RuntimeError("the first load left no cached copy: the second load converted again")
    _line("import torch + transformers (first process, not in load)", _s(first["import_s"]))
    _line("import torch + transformers (second process, not in load)", _s(second["import_s"]))
    _line("first load('smollm2'): GGUF -> safetensors + load", _s(first["load_s"]))
    _line("cached load('smollm2') in a new process", _s(second["load_s"]))
    _line("    of which from_pretrained (LoadedModel.load_s)", _s(second["from_pretrained_s"]))
    _line("cached load again, same process, imports warm", _s(second["reload_s"]))
    lazy_s = second["load_s"] - second["reload_s"]
    _line("    => transformers lazy imports inside cached load", _s(lazy_s))
    _line("ratio first / cached (new process)", f"{first['load_s'] / second['load_s']:8.1f} x")
    _line("ratio first / cached (imports warm)", f"{first['load_s'] / second['reload_s']:8.1f} x")
    return {
        "first_load_s": first["load_s"],
        "cached_load_s": second["load_s"],
        "cached_from_pretrained_s": second["from_pretrained_s"],
        "first_import_s": first["import_s"],
        "cached_import_s": second["import_s"],
        "cached_reload_warm_imports_s": second["reload_s"],
        "cached_lazy_import_s": lazy_s,
        "first_over_cached_ratio": first["load_s"] / second["load_s"],
        "first_over_warm_reload_ratio": first["load_s"] / second["reload_s"],
    }


def bench_generate(env: dict[str, str]) -> dict[str, Any]:
    """Section 3: batched against one-by-one greedy generation of the same 16 prompts."""
    print(
        f"\n[3] Generation with smollm2: {N_PROMPTS} chatterbot prompts, greedy, "
        f"max_new_tokens={MAX_NEW_TOKENS}, batched vs one-by-one"
    )
    _, payload = _run_worker("generate", env, timeout=600)
    b, o = payload["runs"]["batched"], payload["runs"]["one_by_one"]
    for name, run in (("batched (batch_size=16)", b), ("one-by-one (batch_size=1)", o)):
        _line(
            f"{name}: tokens / wall / tokens per s",
            f"{run['tokens']:5d} tok {run['wall_s']:7.2f} s {run['tokens_per_s']:7.1f} tok/s",
        )
        _line(f"    prompts that hit max_new_tokens ({name.split()[0]})", f"{run['n_length']:5d}")
    tps_ratio = b["tokens_per_s"] / o["tokens_per_s"]
    wall_ratio = o["wall_s"] / b["wall_s"]
    _line("ratio tokens/s batched / one-by-one", f"{tps_ratio:8.2f} x")
    _line("ratio wall one-by-one / batched (same prompts)", f"{wall_ratio:8.2f} x")
    _line("outputs identical in both modes", f"{payload['identical_outputs']:5d} / {N_PROMPTS}")
    return {
        "prompts": payload["prompts"],
        "max_new_tokens": MAX_NEW_TOKENS,
        "batched": b,
        "one_by_one": o,
        "tokens_per_s_ratio": tps_ratio,
        "wall_speedup": wall_ratio,
        "identical_outputs": payload["identical_outputs"],
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark %load_ext cost, embedded-model caching and batched generation."
    )
    parser.add_argument("--quick", action="store_true", help="skip the model parts (2 and 3)")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the figures here")
    parser.add_argument(
        "--repeat", type=int, default=5, help="fresh subprocesses per kind in part 1 (default 5)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; exit status 1 if %load_ext imported a heavy library."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "_worker":
        _worker(args[1])
        return 0
    opts = _parse_args(args)
    started = time.perf_counter()
    print(f"llmops_magics foundation benchmarks · python {sys.version.split()[0]}")
    print(f"  {sys.executable} · {os.cpu_count()} CPUs")
    figures: dict[str, Any] = {"load_ext": bench_load_ext(opts.repeat)}
    if not opts.quick:
        cache = tempfile.mkdtemp(prefix="bench-llmops-cache-")
        home = tempfile.mkdtemp(prefix="bench-llmops-home-")
        try:
            env = _child_env({"LLMOPS_CACHE_DIR": cache, "LLMOPS_HOME": home})
            figures["model_load"] = bench_model_load(env)
            figures["generate"] = bench_generate(env)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
    figures["total_s"] = time.perf_counter() - started
    print(f"\ntotal benchmark time: {figures['total_s']:.1f} s")
    if opts.json:
        opts.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {opts.json}")
    return 1 if figures["load_ext"]["heavy_modules_loaded"] else 0


if __name__ == "__main__":
    sys.exit(main())
