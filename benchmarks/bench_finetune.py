"""Fine-tuning benchmark: our ``finetune.train`` against a plain peft + ``Trainer`` loop.

Run from the repository root with the project's Python::

    python benchmarks/bench_finetune.py              # tiny model + SmolLM2 (about 3-6 minutes)
    python benchmarks/bench_finetune.py --tiny-only  # seconds
    python benchmarks/bench_finetune.py --json out.json

For each model (the tiny random Llama of the tests, and the embedded SmolLM2-135M) it trains
LoRA r=8 on q_proj/v_proj with the same rows, batch, sequence length, learning rate, seed and
number of steps, in this one process, three ways:

* ``plain fp32``  — a plain loop written here: peft ``get_peft_model`` + HF ``Trainer``, fp32;
* ``plain <P>``   — the same plain loop in our default precision ``<P>`` (bf16 autocast where
  the CPU has AVX512-BF16/AMX, else fp32);
* ``ours <P>``    — ``llmops_magics.finetune.train`` with its defaults (MLflow run with per-step
  metrics, checkpoints, the plain-log monitor off).

Step time is the median interval between consecutive ``on_step_end`` calls after two warm-up
steps (so logging, metric flushing and callbacks between steps are included). The rows are
tokenized once by ``finetune``'s own tokenizer code for both sides, so both train on identical
token ids. Printed: (a) our overhead against the plain loop in the same precision (target at
most 5%), (b) our default precision's speed-up against the plain fp32 loop (target at least
1.3x where the CPU supports bf16) and the final eval loss difference (target within 2%), plus
tokens/s and the estimated share of the CPU's peak FLOP/s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
WARMUP = 2
#: set in main(): whether the run is on a CUDA GPU (then bf16 there, and GPU peak FLOP/s)
CUDA = False
#: batch size and longest sequence of every run (set from the command line)
BATCH = {"size": 4, "max_length": 128}
WIDTH = 52


def _diffs(points: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(points)][WARMUP - 1 :]


class StepTimer:
    """A TrainerCallback factory recording the time of every step end."""

    def __new__(cls) -> Any:
        from transformers import TrainerCallback

        class Timer(TrainerCallback):
            def __init__(self) -> None:
                self.ends: list[float] = []
                self.cpu: list[float] = []

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if CUDA:  # the step's kernels are queued: wait for them before reading the clock
                    import torch

                    torch.cuda.synchronize()
                self.ends.append(time.perf_counter())
                self.cpu.append(time.process_time())

            def step_times(self) -> list[float]:
                return _diffs(self.ends)

            def cpu_times(self) -> list[float]:
                return _diffs(self.cpu)

        return Timer()


def plain_loop(
    model_path: Path, rows: Any, eval_rows: Any, cfg: Any, precision: str, out: Path
) -> dict[str, Any]:
    """The baseline: peft LoRA + a plain HF Trainer, no tracking, no checkpoints."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, set_seed

    from llmops_magics.finetune._data import Collator
    from llmops_magics.finetune._model import model_kwargs

    # the same settings as finetune.train in the same precision: under bf16 the frozen base
    # weights are stored in bf16, and on a CPU attention is eager (see model_kwargs); the
    # plain fp32 loop is transformers' default (float32, fused SDPA attention)
    kwargs = model_kwargs(precision, cfg.max_length)
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    set_seed(cfg.seed)
    model = get_peft_model(
        model,
        LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=["q_proj", "v_proj"],
            task_type="CAUSAL_LM",
        ),
    )
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        learning_rate=cfg.lr,
        max_steps=cfg.max_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=precision == "bf16",
        use_cpu=not CUDA,
        report_to="none",
        save_strategy="no",
        eval_strategy="no",
        disable_tqdm=True,
        remove_unused_columns=False,
        logging_steps=10_000,
    )
    timer = StepTimer()
    pad = rows.rows[0]["input_ids"][0]  # any id: padded positions are masked
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=rows,
        eval_dataset=eval_rows,
        data_collator=Collator(pad),
        callbacks=[timer],
    )
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    eval_loss = trainer.evaluate()["eval_loss"]
    return {
        "step_times": timer.step_times(),
        "cpu_times": timer.cpu_times(),
        "wall_s": wall,
        "eval_loss": float(eval_loss),
    }


def ours(cfg: Any, frame: Any, eval_frame: Any) -> dict[str, Any]:
    from llmops_magics import finetune

    timer = StepTimer()
    start = time.perf_counter()
    result = finetune.train(cfg, frame, eval_frame, callbacks=[timer], progress=False)
    wall = time.perf_counter() - start
    return {
        "step_times": timer.step_times(),
        "cpu_times": timer.cpu_times(),
        "wall_s": wall,
        "eval_loss": float(result.eval_loss or float("nan")),
        "precision": result.precision,
    }


#: dense peak FLOP/s of known GPUs (the vendors' data sheets): (bf16 tensor cores, fp32)
GPU_PEAKS = {"H100": (989e12, 67e12), "H200": (989e12, 67e12), "A100": (312e12, 19.5e12)}


def peak_flops(precision: str) -> tuple[float, str]:
    """Peak FLOP/s of the device the run uses: the GPU's data-sheet figure, or the CPU's."""
    if not CUDA:
        return cpu_peak_flops(precision)
    import torch

    name = torch.cuda.get_device_name(0)
    for key, (bf16, fp32) in GPU_PEAKS.items():
        if key in name:
            low = precision in ("bf16", "fp16")
            return (bf16 if low else fp32), f"{name}, {'bf16 tensor' if low else 'fp32'} peak"
    return float("nan"), f"{name}, peak unknown"


def cpu_peak_flops(precision: str) -> tuple[float, str]:
    """Peak FLOP/s of this CPU's cores: AVX-512 FMA for fp32 (2 units x 16 lanes x 2), AMX
    tiles for bf16 where present (1024 FLOP/cycle/core), else AVX512-BF16 dot products."""
    from llmops_magics.finetune import cpu_has_bf16

    mhz = 0.0
    flags: set[str] = set()
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("cpu MHz") and not mhz:
                mhz = float(line.split(":")[1])
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    cores = os.cpu_count() or 1
    if precision == "bf16" and cpu_has_bf16():
        per_cycle, unit = (1024.0, "AMX-BF16") if "amx_bf16" in flags else (128.0, "AVX512-BF16")
    else:
        per_cycle, unit = (64.0, "AVX-512 FMA") if "avx512f" in flags else (32.0, "AVX2 FMA")
    return (
        cores * mhz * 1e6 * per_cycle,
        f"{cores} cores x {mhz:.0f} MHz x {per_cycle:.0f} ({unit})",
    )


def bench_model(
    name: str, spec: str, frame: Any, eval_frame: Any, steps: int, rounds: int
) -> dict[str, Any]:
    """Alternate the plain loops and ours ``rounds`` times; pool the step times of each."""
    from transformers import AutoTokenizer

    from llmops_magics import finetune, models
    from llmops_magics.finetune._model import hidden_size

    path = models.resolve(spec).path
    precision = finetune.resolve_precision("auto", hidden_size=hidden_size(path))
    cfg = finetune.FineTuneConfig(
        model=spec,
        prompt_col="question",
        response_col="answer",
        max_steps=steps,
        eval_steps=steps,
        batch_size=BATCH["size"],
        max_length=BATCH["max_length"],
        lr=1e-3,
        seed=0,
    )
    from llmops_magics.finetune._data import tokenize_frame

    tok = AutoTokenizer.from_pretrained(path)
    rows = tokenize_frame(frame, tok, cfg)
    eval_rows = tokenize_frame(eval_frame, tok, cfg)
    n_params = sum(p.numel() for p in _count_model(path))
    mean_tokens = statistics.mean(len(r["input_ids"]) for r in rows.rows) * cfg.batch_size
    keys = ["plain fp32"] + ([f"plain {precision}"] if precision != "fp32" else [])
    keys.append(f"ours {precision}")
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            # rotate the order each round: on a shared machine the speed drifts over minutes,
            # and a fixed order would charge the drift to whichever run comes last
            for key in keys[i % len(keys) :] + keys[: i % len(keys)]:
                mode = key.split()[1]
                if key.startswith("plain"):
                    out = Path(tmp) / f"{mode}-{i}"
                    runs[key].append(plain_loop(path, rows, eval_rows, cfg, mode, out))
                else:
                    runs[key].append(ours(cfg, frame, eval_frame))
    results: dict[str, Any] = {"precision": precision, "params": n_params, "rounds": rounds}
    for key in keys:
        pooled = {
            "step_times": [t for r in runs[key] for t in r["step_times"]],
            "cpu_times": [t for r in runs[key] for t in r["cpu_times"]],
            "eval_loss": runs[key][-1]["eval_loss"],
            "wall_s": statistics.mean(r["wall_s"] for r in runs[key]),
        }
        pooled["median_step_s"] = statistics.median(pooled["step_times"])
        pooled["median_cpu_s"] = statistics.median(pooled["cpu_times"])
        pooled["tokens_per_s"] = mean_tokens / pooled["median_step_s"]
        peak, how = peak_flops(key.split()[1])
        # LoRA: forward 2N FLOP per token, backward through the frozen weights about 2N more
        pooled["flops"] = 4 * n_params * pooled["tokens_per_s"]
        pooled["peak_share"] = pooled["flops"] / peak
        pooled["peak"] = how
        results[key] = pooled
    same = results[keys[-2]] if precision != "fp32" else results["plain fp32"]
    mine, fp32 = results[keys[-1]], results["plain fp32"]
    same_key = keys[-2] if precision != "fp32" else "plain fp32"

    def per_round(a: str, b: str, field: str) -> float:
        """Median over rounds of (median of a) / (median of b) within the same round: runs next
        to each other in time share the machine's state, so the ratio is steadier than pooled."""
        return statistics.median(
            statistics.median(x[field]) / statistics.median(y[field])
            for x, y in zip(runs[a], runs[b], strict=True)
        )

    results["overhead"] = per_round(keys[-1], same_key, "step_times") - 1
    results["overhead_cpu"] = per_round(keys[-1], same_key, "cpu_times") - 1
    results["speedup_vs_fp32"] = per_round("plain fp32", keys[-1], "step_times")
    results["speedup_vs_fp32_cpu"] = per_round("plain fp32", keys[-1], "cpu_times")
    results["pooled_overhead"] = mine["median_step_s"] / same["median_step_s"] - 1
    results["pooled_speedup_vs_fp32"] = fp32["median_step_s"] / mine["median_step_s"]
    results["eval_loss_diff"] = abs(mine["eval_loss"] - fp32["eval_loss"]) / fp32["eval_loss"]
    _print(name, results, keys, steps, mean_tokens)
    return results


def _count_model(path: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    # tied input/output embeddings are listed once and used once as a matmul (the LM head)
    return list(model.parameters())


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def _print(name: str, r: dict[str, Any], keys: list[str], steps: int, tokens: float) -> None:
    p = r["precision"]
    print(
        f"\n== {name}: {r['params'] / 1e6:.2f}M params, {steps} steps x {r['rounds']} rounds, "
        f"batch {BATCH['size']}, ~{tokens:.0f} tokens/step, default precision {p}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    for key in keys:
        x = r[key]
        print(
            f"  {key:<11} step {x['median_step_s'] * 1000:7.1f} ms wall, "
            f"{x['median_cpu_s'] * 1000:7.1f} ms CPU (medians); {x['tokens_per_s']:6.0f} tokens/s; "
            f"{x['flops'] / 1e9:6.2f} GFLOP/s = {x['peak_share'] * 100:5.2f}% of peak "
            f"[{x['peak']}]; eval loss {x['eval_loss']:.4f}; run {x['wall_s']:.1f}s"
        )
    base = keys[-2] if p != "fp32" else "plain fp32"
    print(
        f"  ratios below: median over rounds of the ratio within each round (pooled medians: "
        f"overhead {r['pooled_overhead'] * 100:+.1f}%, speed-up {r['pooled_speedup_vs_fp32']:.2f}x)"
    )
    print(
        f"  {'(a) overhead of ours vs ' + base:<{WIDTH}} {r['overhead'] * 100:+.1f}% wall, "
        f"{r['overhead_cpu'] * 100:+.1f}% CPU  (target <= +5%: "
        f"{_verdict(min(r['overhead'], r['overhead_cpu']) <= 0.05)})"
    )
    print(
        f"  {'(b) ours ' + p + ' vs plain fp32: speed-up':<{WIDTH}} "
        f"{r['speedup_vs_fp32']:.2f}x wall, {r['speedup_vs_fp32_cpu']:.2f}x CPU  "
        f"(target >= 1.3x where bf16 is used: "
        f"{_verdict(r['speedup_vs_fp32'] >= 1.3) if p != 'fp32' else 'n/a, fp32 chosen'})"
    )
    print(
        f"  {'(b) final eval loss vs plain fp32':<{WIDTH}} {r['eval_loss_diff'] * 100:.2f}% "
        f"apart  (target <= 2%: {_verdict(r['eval_loss_diff'] <= 0.02)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny-only", action="store_true", help="skip the embedded model")
    parser.add_argument("--skip-tiny", action="store_true", help="only the embedded model")
    parser.add_argument("--steps", type=int, default=10, help="steps on SmolLM2 (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="SmolLM2 rounds (default 5)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--pack",
        type=int,
        default=1,
        metavar="K",
        help="join K consecutive chatterbot answers into each response (longer sequences, "
        "up to --max-length; default 1)",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="rows per step (default 4)")
    parser.add_argument(
        "--max-length", type=int, default=128, help="longest sequence in tokens (default 128)"
    )
    args = parser.parse_args()
    BATCH.update(size=args.batch_size, max_length=args.max_length)

    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    import transformers

    transformers.logging.set_verbosity_error()
    import torch

    from llmops_magics import workspace
    from llmops_magics.data import load_dataset
    from llmops_magics.finetune import cpu_has_bf16
    from llmops_magics.testing import make_tiny_model

    global CUDA
    CUDA = torch.cuda.is_available()
    if CUDA:
        print(f"CUDA: {torch.cuda.get_device_name(0)} (runs there; default precision bf16)")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"CPU bf16 (avx512_bf16/amx): {cpu_has_bf16()}, load {os.getloadavg()[0]:.1f}"
    )
    frame = load_dataset("chatterbot", limit=200 * args.pack, seed=0)
    if args.pack > 1:
        answers = frame["answer"].tolist()
        frame = frame.iloc[:: args.pack].reset_index(drop=True).copy()
        frame["answer"] = [
            " ".join(answers[i * args.pack : (i + 1) * args.pack]) for i in range(len(frame))
        ]
    train, evals = frame.iloc[:160].reset_index(drop=True), frame.iloc[160:].reset_index(drop=True)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workspace.use(Path(tmp) / ".llmops")
        tiny = make_tiny_model(Path(tmp) / "tiny", hidden_size=64)
        if not args.skip_tiny:
            out["tiny"] = bench_model(
                "tiny Llama (tests' model)", str(tiny), train, evals, steps=30, rounds=6
            )
        if not args.tiny_only:
            out["smollm2"] = bench_model(
                "SmolLM2-135M (embedded)",
                "smollm2",
                train,
                evals.iloc[:16],
                steps=args.steps,
                rounds=args.rounds,
            )
        workspace.use(None)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
