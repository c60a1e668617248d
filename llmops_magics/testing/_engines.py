"""The quality guard of a generation engine: what users measure, against torch float32.

Quantized engines change greedy outputs of a 135M model, so exact agreement is no measure. An
engine passes when, on held-out chatterbot data,

- the perplexity of the answers, scored through the engine, is within 3% of torch float32's;
- corpus BLEU and mean ROUGE-L of its answers to held-out questions fall inside the bootstrap
  interval of torch float32's;

greedy agreement (the first 12 words equal) is reported for information. ``benchmarks/
bench_generation.py`` runs it at full size (512 answers, 64 pairs); a slow test runs it small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EngineQuality", "engine_quality"]

PPL_TOLERANCE = 0.03
AGREEMENT_WORDS = 12


@dataclass
class EngineQuality:
    """One engine's quality figures beside torch float32's, and its verdict."""

    engine: str
    perplexity: float
    perplexity_torch: float
    bleu: float
    bleu_torch: tuple[float, float, float]  # point, low, high
    rouge_l: float
    rouge_l_torch: tuple[float, float, float]
    agreement: int
    pairs: int
    answers: int
    failures: list[str] = field(default_factory=list)

    @property
    def perplexity_change(self) -> float:
        """Relative change of perplexity against torch float32 (0.02 = 2% higher)."""
        return self.perplexity / self.perplexity_torch - 1.0

    @property
    def passed(self) -> bool:
        """Whether the engine may be a default (every check held)."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """The figures as a flat dict (one row of the benchmark's table)."""
        return {
            "engine": self.engine,
            "perplexity": round(self.perplexity, 3),
            "ppl_change_pct": round(100 * self.perplexity_change, 2),
            "bleu": round(self.bleu, 2),
            "bleu_torch_ci": [round(x, 2) for x in self.bleu_torch[1:]],
            "rouge_l": round(self.rouge_l, 4),
            "rouge_l_torch_ci": [round(x, 4) for x in self.rouge_l_torch[1:]],
            "agreement": f"{self.agreement}/{self.pairs}",
            "passed": self.passed,
            "failures": self.failures,
        }


def _held_out(answers: int, pairs: int, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    from llmops_magics import data

    frame = data.load_dataset("chatterbot").sample(frac=1.0, random_state=seed)
    qa = list(zip(frame["question"][:pairs], frame["answer"][:pairs], strict=True))
    rest = frame["answer"][pairs:]
    texts = list(dict.fromkeys(a for a in rest if len(a.split()) >= 3))[:answers]
    return texts, qa


def _perplexity(name: str, model: str, texts: list[str]) -> float:
    from llmops_magics.models import choose_engine

    engine = choose_engine(name, model).engine
    scores = engine.score(engine.load(model), texts)
    return math.exp(-sum(s for s, _ in scores) / sum(n for _, n in scores))


def _answers(name: str, model: str, qa: list[tuple[str, str]], max_new_tokens: int) -> list[str]:
    from llmops_magics import models

    questions = [q for q, _ in qa]
    return models.generate(
        questions,
        model=model,
        engine=name,
        max_new_tokens=max_new_tokens,
        batch_size=16,
        track=False,
        progress=False,
    ).texts


def _bleu(preds: Sequence[str], refs: Sequence[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(preds), [list(refs)]).score)


def _rouge_l(preds: Sequence[str], refs: Sequence[str]) -> list[float]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(preds, refs, strict=True)]


def _intervals(
    preds: list[str], refs: list[str], bootstrap: int, seed: int
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """BLEU and ROUGE-L with 95% percentile bootstrap intervals over the pairs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rouge = np.asarray(_rouge_l(preds, refs))
    bleus, rouges = [], []
    for _ in range(bootstrap):
        idx = rng.integers(0, len(preds), len(preds))
        bleus.append(_bleu([preds[i] for i in idx], [refs[i] for i in idx]))
        rouges.append(float(rouge[idx].mean()))
    b_lo, b_hi = np.percentile(bleus, [2.5, 97.5])
    r_lo, r_hi = np.percentile(rouges, [2.5, 97.5])
    return (
        (_bleu(preds, refs), float(b_lo), float(b_hi)),
        (float(rouge.mean()), float(r_lo), float(r_hi)),
    )


def _head(text: str) -> list[str]:
    return text.split()[:AGREEMENT_WORDS]


def engine_quality(
    engines: Sequence[str],
    *,
    model: str = "smollm2",
    answers: int = 512,
    pairs: int = 64,
    max_new_tokens: int = 32,
    bootstrap: int = 1000,
    seed: int = 0,
) -> list[EngineQuality]:
    """Run the quality guard for each engine of ``engines`` against torch float32.

    Parameters
    ----------
    engines
        Engine names (``ctranslate2``, ``ctranslate2-float32``...).
    model
        The model spec the engines run.
    answers, pairs
        Held-out chatterbot answers scored for perplexity; question/answer pairs generated for
        BLEU and ROUGE-L (disjoint, drawn with ``seed``).
    max_new_tokens, bootstrap, seed
        Answer length, bootstrap resamples, and the seed of the split and the resampling.
    """
    texts, qa = _held_out(answers, pairs, seed)
    refs = [a for _, a in qa]
    ppl_torch = _perplexity("torch", model, texts)
    torch_preds = _answers("torch", model, qa, max_new_tokens)
    bleu_torch, rouge_torch = _intervals(torch_preds, refs, bootstrap, seed)
    out = []
    for name in engines:
        ppl = _perplexity(name, model, texts)
        preds = _answers(name, model, qa, max_new_tokens)
        quality = EngineQuality(
            engine=name,
            perplexity=ppl,
            perplexity_torch=ppl_torch,
            bleu=_bleu(preds, refs),
            bleu_torch=bleu_torch,
            rouge_l=sum(_rouge_l(preds, refs)) / len(refs),
            rouge_l_torch=rouge_torch,
            agreement=sum(_head(a) == _head(b) for a, b in zip(preds, torch_preds, strict=True)),
            pairs=len(qa),
            answers=len(texts),
        )
        if abs(quality.perplexity_change) > PPL_TOLERANCE:
            quality.failures.append(
                f"perplexity {ppl:.3f} is {100 * quality.perplexity_change:+.1f}% from torch's"
            )
        if not bleu_torch[1] <= quality.bleu <= bleu_torch[2]:
            quality.failures.append(f"BLEU {quality.bleu:.2f} outside torch's interval")
        if not rouge_torch[1] <= quality.rouge_l <= rouge_torch[2]:
            quality.failures.append(f"ROUGE-L {quality.rouge_l:.4f} outside torch's interval")
        out.append(quality)
    return out
