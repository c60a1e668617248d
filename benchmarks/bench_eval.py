"""Evaluation benchmarks: our metric layer against the libraries called directly, in one process.

1. BLEU over 10,000 pairs: sacrebleu.corpus_bleu vs llmops corpus_score("bleu") vs the shipped
   evaluate module (evaluate.load(module_path("bleu"))); overhead in percent, scores compared.
2. ROUGE-1/2/L over the same pairs: the plain rouge-score loop (one RougeScorer, stemmer) vs
   llmops rouge_scores (cached stems, bit-parallel LCS, both cores); speed-up and identity.
3. Perplexity over 512 texts: batched vs one text at a time; speed-up and agreement.

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


def bench_perplexity(
    spec: str, repeat: int, batch_size: int, n_texts: int = 512
) -> dict[str, float]:
    from llmops_magics import models
    from llmops_magics.data import load_dataset
    from llmops_magics.evaluation import token_losses

    texts = load_dataset("chatterbot", limit=n_texts, seed=0)["answer"].tolist()
    models.load(spec)
    token_losses(texts[:8], spec, batch_size=8, progress=False)  # warm-up
    batched_t, single_t = [], []
    batched = single = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        batched = token_losses(texts, spec, batch_size=batch_size, progress=False)
        batched_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        single = token_losses(texts, spec, batch_size=1, progress=False)
        single_t.append(time.perf_counter() - t0)
    assert batched is not None and single is not None
    import math

    from llmops_magics.finetune import resolve_precision

    hidden = getattr(models.load(spec).model.config, "hidden_size", None)
    precision = resolve_precision("auto", hidden_size=hidden)
    t0 = time.perf_counter()
    fast = token_losses(texts, spec, batch_size=batch_size, progress=False, precision="auto")
    s32 = time.perf_counter() - t0  # batched, precision="auto"
    ppl_s32 = math.exp(fast[:, 0].sum() / fast[:, 1].sum())

    b, s = statistics.median(batched_t), statistics.median(single_t)
    ppl_b = math.exp(batched[:, 0].sum() / batched[:, 1].sum())
    ppl_s = math.exp(single[:, 0].sum() / single[:, 1].sum())
    tokens = int(batched[:, 1].sum())
    print(
        f"Perplexity of {len(texts)} chatterbot answers ({tokens} tokens) under {spec} "
        f"(median of {repeat})"
    )
    print(f"  one text at a time                    {s:7.3f} s   ({tokens / s:.0f} tokens/s)")
    print(
        f"  batched, batch_size={batch_size:<3}              {b:7.3f} s   "
        f"({tokens / b:.0f} tokens/s)   speed-up {s / b:.2f}x"
    )
    print(
        f"  batched, precision=auto ({precision})     {s32:7.3f} s   "
        f"({tokens / s32:.0f} tokens/s)   speed-up {s / s32:.2f}x against one at a time (fp32)"
    )
    print(
        f"  corpus perplexity: batched {ppl_b:.6f}, one at a time {ppl_s:.6f} "
        f"(rel. diff {abs(ppl_b / ppl_s - 1):.1e}); batched {precision} {ppl_s32:.6f} "
        f"(differs by {abs(ppl_s32 / ppl_s - 1):.1e})"
    )
    return {
        "ppl_single_s": s,
        "ppl_batched_s": b,
        "ppl_speedup": s / b,
        "ppl_batched": ppl_b,
        "ppl_single": ppl_s,
        "ppl_batched_auto_s": s32,
        "ppl_batched_auto": ppl_s32,
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
    figures: dict[str, float] = {}
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
