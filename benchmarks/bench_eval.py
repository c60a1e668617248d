"""Evaluation benchmarks: our metric layer against the libraries called directly, in one process.

1. BLEU over 10,000 pairs: sacrebleu.corpus_bleu vs llmops corpus_score("bleu") vs the shipped
   evaluate module (evaluate.load(module_path("bleu"))); overhead in percent, scores compared.
2. ROUGE-1/2/L over the same pairs: the plain rouge-score loop (one RougeScorer, stemmer) vs
   llmops rouge_scores (cached stems, bit-parallel LCS, both cores); speed-up and identity.
3. Perplexity over 512 texts: our batched token_losses with its defaults (precision "auto": bf16
   on CPUs with AVX512-BF16/AMX) vs a plain loop scoring one text at a time in float32; also
   ours one at a time, and ours batched in fp32 (batching alone); speed-ups and agreement.

Usage: python benchmarks/bench_eval.py [--repeat 3] [--ppl-repeat 1] [--tiny] [--skip-perplexity]
       [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def pairs(n: int = 10_000) -> tuple[list[str], list[str]]:
    """Real reviews as references; predictions are the same reviews edited (dropped and
    swapped words, some replaced by another review), so scores span the whole range."""
    from llmops_magics.data import load_dataset

    texts = [t for t in load_dataset("rotten_tomatoes")["text"].tolist() if isinstance(t, str)]
    refs = [texts[i % len(texts)] for i in range(n)]
    preds = []
    for i, ref in enumerate(refs):
        words = ref.split()
        if i % 5 == 0:
            preds.append(texts[(i * 7919 + 13) % len(texts)])
        elif i % 5 == 1:
            preds.append(" ".join(w for k, w in enumerate(words) if k % 3))
        elif i % 5 == 2:
            preds.append(" ".join(words[1:] + words[:1]))
        else:
            preds.append(" ".join(words[: max(1, len(words) * 2 // 3)]))
    return preds, refs


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_bleu(preds: list[str], refs: list[str], repeat: int) -> dict[str, float]:
    import evaluate as hf_evaluate
    import sacrebleu

    from llmops_magics.evaluation import corpus_score, metrics, module_path

    module = hf_evaluate.load(module_path("bleu"))

    bleu = metrics.get("bleu")

    def cold(fn: Callable[[], float]) -> Callable[[], float]:
        # sacrebleu's 13a tokenizer memoises per scorer object; corpus_bleu makes a new one per
        # call, so ours starts from new scorers too (no warm cache from the previous repeat)
        def run() -> float:
            metrics._SACRE.clear()
            return fn()

        return run

    def full() -> float:
        # what evaluate() computes: the statistics once, the corpus score and every sentence's
        stats = bleu.stats(preds, refs)
        bleu.example(stats)
        return bleu.score(stats.sum(axis=0))

    runs: dict[str, Callable[[], float]] = {
        "direct": lambda: sacrebleu.corpus_bleu(preds, [refs]).score,
        "ours": cold(lambda: corpus_score("bleu", preds, refs)),
        "module": cold(lambda: module.compute(predictions=preds, references=refs)["bleu"]),
        "full": cold(full),
    }
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    scores: dict[str, float] = {}
    # interleaved, so that load from other processes hits every variant alike; single-threaded
    # work, so CPU time (process_time) is also shown: it barely moves with the machine's load
    for _ in range(repeat):
        for key, fn in runs.items():
            w0, c0 = time.perf_counter(), time.process_time()
            scores[key] = fn()
            wall[key].append(time.perf_counter() - w0)
            cpu[key].append(time.process_time() - c0)
    w = {k: statistics.median(v) for k, v in wall.items()}
    c = {k: statistics.median(v) for k, v in cpu.items()}
    labels = {
        "direct": "sacrebleu.corpus_bleu directly      ",
        "ours": "llmops corpus_score('bleu')         ",
        "module": "evaluate.load(module_path('bleu'))  ",
        "full": "evaluate(): corpus + per-pair BLEU ",
    }
    print(f"BLEU, {len(preds)} pairs (median of {repeat}; wall time, CPU time)")
    for key, label in labels.items():
        line = f"  {label} wall {w[key]:7.3f} s  cpu {c[key]:7.3f} s"
        if key != "direct":
            line += (
                f"   overhead wall {100 * (w[key] / w['direct'] - 1):+5.1f}%  "
                f"cpu {100 * (c[key] / c['direct'] - 1):+5.1f}%"
            )
        if key != "full":
            line += f"   score {scores[key]:.6f}"
        print(line)
    identical = scores["direct"] == scores["ours"] == scores["module"] == scores["full"]
    print(f"  scores identical: {identical}")
    return {
        "bleu_direct_s": w["direct"],
        "bleu_ours_s": w["ours"],
        "bleu_module_s": w["module"],
        "bleu_full_s": w["full"],
        "bleu_overhead_pct": 100 * (w["ours"] / w["direct"] - 1),
        "bleu_overhead_cpu_pct": 100 * (c["ours"] / c["direct"] - 1),
        "bleu_module_overhead_cpu_pct": 100 * (c["module"] / c["direct"] - 1),
        "bleu_identical": float(identical),
    }


def bench_rouge(preds: list[str], refs: list[str], repeat: int) -> dict[str, float]:
    from rouge_score import rouge_scorer

    from llmops_magics.evaluation._rouge import rouge_scores

    kinds = ["rouge1", "rouge2", "rougeL"]

    def plain() -> list[Any]:
        scorer = rouge_scorer.RougeScorer(kinds, use_stemmer=True)
        return [scorer.score(r, p) for p, r in zip(preds, refs, strict=True)]

    base_t, ours_t, serial_t = [], [], []
    base = ours = serial = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        base = plain()
        base_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ours = rouge_scores(preds, refs, kinds)  # both cores, process start included
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        serial = rouge_scores(preds, refs, kinds, processes=1)
        serial_t.append(time.perf_counter() - t0)
    assert base is not None and ours is not None and serial is not None
    identical = all([b[k].fmeasure for b in base] == ours[k] == serial[k] for k in kinds)
    b, o, s = (statistics.median(x) for x in (base_t, ours_t, serial_t))
    print(f"ROUGE-1/2/L with stemmer, {len(preds)} pairs (median of {repeat})")
    print(f"  rouge-score loop (one RougeScorer)    {b:7.3f} s")
    print(f"  llmops, both cores (start included)   {o:7.3f} s   speed-up {b / o:.2f}x")
    print(f"  llmops, one process                   {s:7.3f} s   speed-up {b / s:.2f}x")
    print(f"  per-example F-measures identical (all {len(kinds)} types, every pair): {identical}")
    return {
        "rouge_plain_s": b,
        "rouge_ours_s": o,
        "rouge_serial_s": s,
        "rouge_speedup": b / o,
        "rouge_identical": float(identical),
    }


def plain_one_at_a_time(texts: list[str], loaded: Any) -> Any:
    """The baseline: the loop a user writes, one text per forward pass, the model as loaded
    (float32), loss from transformers' own ``labels=`` path."""
    import numpy as np
    import torch

    tok, model = loaded.tokenizer, loaded.model
    out = np.zeros((len(texts), 2))
    with torch.inference_mode():
        for i, text in enumerate(texts):
            ids = [tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]
            batch = torch.tensor([ids], device=model.device)
            loss = model(input_ids=batch, labels=batch).loss.item()
            out[i] = loss * (len(ids) - 1), len(ids) - 1
    return out


def bench_perplexity(spec: str, repeat: int, batch_size: int, n_texts: int = 512) -> dict[str, Any]:
    """Our batched perplexity (defaults) against a plain one-text-at-a-time loop."""
    import math

    from llmops_magics import models
    from llmops_magics.data import load_dataset
    from llmops_magics.evaluation import precision_for, token_losses

    texts = load_dataset("chatterbot", limit=n_texts, seed=0)["answer"].tolist()
    loaded = models.load(spec)
    auto = precision_for(loaded)
    runs: dict[str, Any] = {
        "plain loop, one text at a time (fp32)": lambda: plain_one_at_a_time(texts, loaded),
        f"ours, one at a time ({auto})": lambda: token_losses(
            texts, loaded, batch_size=1, progress=False
        ),
        f"ours, batched, precision=fp32 (bs {batch_size})": lambda: token_losses(
            texts, loaded, batch_size=batch_size, progress=False, precision="fp32"
        ),
        f"ours, batched, defaults ({auto}, bs {batch_size})": lambda: token_losses(
            texts, loaded, batch_size=batch_size, progress=False
        ),
    }
    keys = list(runs)
    for precision in {"fp32", auto}:  # warm-up
        token_losses(texts[:8], loaded, batch_size=8, progress=False, precision=precision)
    times: dict[str, list[float]] = {k: [] for k in keys}
    values: dict[str, Any] = {}
    for i in range(repeat):
        for key in keys[i % len(keys) :] + keys[: i % len(keys)]:  # rotate: the machine drifts
            t0 = time.perf_counter()
            values[key] = runs[key]()
            times[key].append(time.perf_counter() - t0)
    plain, single, fp32, ours = keys
    tokens = int(values[ours][:, 1].sum())
    ppl = {k: math.exp(v[:, 0].sum() / v[:, 1].sum()) for k, v in values.items()}

    def ratio(slow: str, fast: str) -> float:
        return statistics.median(a / b for a, b in zip(times[slow], times[fast], strict=True))

    print(
        f"\nPerplexity of {len(texts)} chatterbot answers ({tokens} tokens) under {spec} "
        f"({repeat} round(s), order rotated; ratios are medians of per-round ratios)"
    )
    for key in keys:
        t = statistics.median(times[key])
        print(f"  {key:<44} {t:8.3f} s  ({tokens / t:6.0f} tokens/s)  perplexity {ppl[key]:.6f}")
    speedup = ratio(plain, ours)
    print(
        f"  ours batched (defaults) vs the plain loop     {speedup:.2f}x  "
        f"(target >= 3x: {'OK' if speedup >= 3 else 'MISSED'})"
    )
    print(f"  batching alone, {auto}: batched vs one at a time {ratio(single, ours):.2f}x")
    print(f"  batching alone, fp32: batched vs the plain loop {ratio(plain, fp32):.2f}x")
    print(
        f"  agreement: ours fp32 vs the plain loop {abs(ppl[fp32] / ppl[plain] - 1):.1e} "
        f"relative; ours {auto} vs fp32 {abs(ppl[ours] / ppl[fp32] - 1):.1e}"
    )
    return {
        "ppl_precision": auto,
        "ppl_plain_single_s": statistics.median(times[plain]),
        "ppl_single_s": statistics.median(times[single]),
        "ppl_batched_fp32_s": statistics.median(times[fp32]),
        "ppl_batched_s": statistics.median(times[ours]),
        "ppl_speedup": speedup,
        "ppl_speedup_same_precision": ratio(single, ours),
        "ppl_speedup_fp32": ratio(plain, fp32),
        "ppl_plain": ppl[plain],
        "ppl_batched_fp32": ppl[fp32],
        "ppl_batched": ppl[ours],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median)")
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--tiny", action="store_true", help="perplexity on a tiny random model")
    parser.add_argument("--skip-perplexity", action="store_true")
    parser.add_argument("--only", choices=["bleu", "rouge", "perplexity"], help="run one part only")
    parser.add_argument("--batch-size", type=int, default=32, help="perplexity batch size")
    parser.add_argument("--ppl-repeat", type=int, default=1, help="runs of the perplexity part")
    parser.add_argument("--texts", type=int, default=512, help="texts in the perplexity part")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    figures: dict[str, Any] = {}
    if args.only in (None, "bleu", "rouge"):
        preds, refs = pairs(args.pairs)
        if args.only in (None, "bleu"):
            figures |= bench_bleu(preds, refs, args.repeat)
        if args.only in (None, "rouge"):
            figures |= bench_rouge(preds, refs, args.repeat)
    if args.only == "perplexity" or (args.only is None and not args.skip_perplexity):
        if args.tiny:
            from llmops_magics.testing import make_tiny_model

            spec = str(make_tiny_model(tempfile.mkdtemp() + "/tiny"))
        else:
            spec = "smollm2"
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        figures |= bench_perplexity(spec, args.ppl_repeat, args.batch_size, args.texts)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
