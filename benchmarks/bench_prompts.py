"""Prompt-stage benchmarks: the cache, changing one model, batching, adapter swaps, versions.

Run from the repository root with the project's Python::

    python benchmarks/bench_prompts.py                 # real smollm2, 6 examples x 16 tokens
    python benchmarks/bench_prompts.py --examples 8 --tokens 24
    python benchmarks/bench_prompts.py --tiny          # the tiny random model (seconds)
    python benchmarks/bench_prompts.py --json out.json

Everything runs in one process against baselines measured in the same run, in a temporary
workspace, and prints ratios:

1. cache: a cold ``prompts.run`` with two models against the identical re-run (all cached);
2. one model changed: re-running with one of two models replaced, against the cold run of 1.
   (only the new model generates);
3. batching: a cold ``prompts.run`` of one model against the loop a notebook user would write,
   ``models.generate([prompt])`` per row (untracked, greedy, same texts);
4. adapters: activating an adapter that shares the base in memory against reading the base from
   disk again;
5. versions: saving an unchanged template (compare, no new version) against
   ``mlflow.genai.register_prompt`` (which would add a duplicate version).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
WIDTH = 60


def _adapter(base: str, dest: Path, seed: int) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from llmops_magics import models

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(models.resolve(base).path))
    peft = get_peft_model(
        model,
        LoraConfig(
            r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False
        ),
    )
    peft.save_pretrained(dest)
    config = json.loads((dest / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base
    (dest / "adapter_config.json").write_text(json.dumps(config))
    return str(dest)


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _line(label: str, value: str) -> None:
    print(f"  {label:<{WIDTH}} {value}", flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--tiny", action="store_true", help="the tiny random model instead")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)

    from llmops_magics import data, models, prompts, workspace
    from llmops_magics.models import _load

    tmp = Path(tempfile.mkdtemp(prefix="bench_prompts_"))
    workspace.use(tmp / ".llmops")
    workspace.experiment_id()  # the store's one-time creation is not part of any figure
    if args.tiny:
        from llmops_magics.testing import make_tiny_model

        base = str(make_tiny_model(tmp / "tiny"))
    else:
        base = "smollm2"
    adapters = [_adapter(base, tmp / f"adapter{i}", seed=i) for i in range(3)]
    frame = data.load_dataset("chatterbot", limit=args.examples, seed=7)
    template = "Answer in one short sentence: {{ question }}"
    opts = {"max_new_tokens": args.tokens, "batch_size": 8}
    models.load(base)  # loading is measured separately (4.)
    figures: dict[str, Any] = {"examples": args.examples, "tokens": args.tokens, "base": base}
    print(f"prompt stage, {args.examples} chatterbot questions x {args.tokens} tokens, {base}")

    # 1. cache
    cold, first = _timed(
        lambda: prompts.run("bench", template, frame, models=[base, adapters[0]], **opts)
    )
    warm, second = _timed(
        lambda: prompts.run("bench", template, frame, models=[base, adapters[0]], **opts)
    )
    assert second.generated == 0 and first.generated == 2 * args.examples
    figures |= {"cold_two_models_s": cold, "cached_rerun_s": warm, "cache_speedup": cold / warm}
    _line("1. cold run, 2 models (s)", f"{cold:.2f}")
    _line("   identical re-run, all cached (s)", f"{warm:.3f}")
    _line("   speed-up of the re-run", f"{cold / warm:.0f}x")

    # 2. one model changed: [base, a1] after [base, a0], against the cold [base, a0] of 1.
    changed, third = _timed(
        lambda: prompts.run("bench", template, frame, models=[base, adapters[1]], **opts)
    )
    assert third.generated == args.examples
    figures |= {"one_model_changed_s": changed, "one_model_changed_ratio": cold / changed}
    _line("2. re-run with one of the 2 models changed (s)", f"{changed:.2f}")
    _line("   vs the cold run of 2 models (1.) (s)", f"{cold:.2f}")
    _line("   ratio", f"{cold / changed:.2f}x (generated {third.generated} of {2 * args.examples})")

    # 3. batching: one model cold, ours vs a per-row generate loop
    rendered = [prompts.Template(template).render({"question": q}) for q in frame["question"]]
    loop_s, loop = _timed(
        lambda: [
            models.generate([p], model=base, track=False, max_new_tokens=args.tokens).texts[0]
            for p in rendered
        ]
    )
    ours_s, ours = _timed(
        lambda: prompts.run(
            "bench_batch", template, frame, models=[base], seed=1, track=False, **opts
        )
    )
    # seed 1 changes nothing for greedy decoding but keys a fresh cache entry
    figures |= {"loop_s": loop_s, "batched_run_s": ours_s, "batch_speedup": loop_s / ours_s}
    same = sum(a == b for a, b in zip(loop, ours.to_frame()["output"], strict=True))
    figures["batched_same_texts"] = same
    _line("3. per-row models.generate loop, 1 model (s)", f"{loop_s:.2f}")
    _line("   prompts.run, batched, untracked (s)", f"{ours_s:.2f}")
    _line("   speed-up", f"{loop_s / ours_s:.2f}x ({same}/{len(loop)} identical texts)")

    # 4. adapters: switch within memory vs read the base again
    switches = []
    for spec in adapters * 3:
        t, _ = _timed(lambda spec=spec: models.load(spec))
        switches.append(t)
    counts = sum(_load.load_counts.values())
    models.clear_cache()
    reload_s, _ = _timed(lambda: models.load(base))
    switch = statistics.median(switches)
    figures |= {"adapter_switch_s": switch, "base_reload_s": reload_s, "base_loads": counts}
    _line("4. activate an adapter on the shared base (median, s)", f"{switch * 1000:.1f} ms")
    _line("   read the base from disk again (s)", f"{reload_s:.2f}")
    _line("   ratio", f"{reload_s / switch:.0f}x (base read {counts} time(s) for 4 models)")

    # 5. versions
    import mlflow  # the baseline: MLflow's own call (the tracker pointed it at the workspace)

    workspace.experiment_id()
    ours_v = statistics.median(
        _timed(lambda: prompts.register("bench", template))[0] for _ in range(5)
    )
    raw_v = statistics.median(
        _timed(lambda: mlflow.genai.register_prompt("bench_raw", template))[0] for _ in range(5)
    )
    n_raw = len(prompts.list_prompts("bench_raw").prompts)
    n_ours = len(prompts.list_prompts("bench").prompts)
    figures |= {"register_unchanged_s": ours_v, "register_prompt_s": raw_v}
    _line("5. save an unchanged template (median, ms)", f"{ours_v * 1000:.1f} ({n_ours} version)")
    _line("   mlflow.genai.register_prompt (median, ms)", f"{raw_v * 1000:.1f} ({n_raw} versions)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
