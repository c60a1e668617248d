"""The Hugging Face evaluate modules shipped in the package: they load offline and give the
numbers of the evaluation API."""

from __future__ import annotations

import json

import pytest

from llmops_magics import evaluation


def test_shipped_evaluate_modules_work_offline():
    import evaluate as hf_evaluate
    import sacrebleu

    preds, refs = ["the cat sat on the mat", "hello"], ["the cat is on the mat", "hello there"]
    bleu = hf_evaluate.load(evaluation.module_path("bleu"))
    assert bleu.compute(predictions=preds, references=refs)["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(preds, [refs]).score, abs=1e-9
    )
    rouge = hf_evaluate.load(evaluation.module_path("rouge"))
    assert rouge.compute(predictions=preds, references=refs)["rougeL"] == pytest.approx(
        evaluation.corpus_score("rougeL", preds, refs)
    )
    with pytest.raises(LookupError, match="Known evaluate modules: bleu"):
        evaluation.module_path("bleurt")
    assert json.loads(json.dumps(evaluation.metrics.names()))


def test_each_metric_has_its_module():
    assert evaluation.module_for("bleu") == "bleu"
    assert evaluation.module_for("rougeLsum") == "rouge"
    assert evaluation.module_for("perplexity") == "perplexity"
    with pytest.raises(LookupError, match="Unknown metric 'nope'"):
        evaluation.module_for("nope")
