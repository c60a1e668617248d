"""Perplexity: equal to exp(mean token loss) by hand, batched = one at a time, sliding window."""

from __future__ import annotations

import math

import pytest

from llmops_magics import models
from llmops_magics.evaluation import (
    EvaluationError,
    InputMismatchError,
    perplexity,
    token_losses,
)
from llmops_magics.evaluation._perplexity import _windows

TEXTS = [
    "The model learns short questions today.",
    "Hi",
    "A small robot reads the test set again. " * 6,
    "What is AI?",
]


def _by_hand(spec: str, text: str) -> tuple[float, int]:
    """Sum of token losses the plain way: the model's own loss on [BOS] + tokens."""
    import torch

    loaded = models.load(spec)
    tok = loaded.tokenizer
    ids = torch.tensor([[tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]])
    with torch.no_grad():
        loss = loaded.model(input_ids=ids, labels=ids).loss.item()
    n = ids.shape[1] - 1
    return loss * n, n


def test_perplexity_equals_exp_of_mean_token_loss_by_hand(tiny_model):
    spec = str(tiny_model)
    result = perplexity(TEXTS, spec, batch_size=3, progress=False)
    sums = [_by_hand(spec, t) for t in TEXTS]
    for got, (loss, n) in zip(result.per_text, sums, strict=True):
        assert got == pytest.approx(math.exp(loss / n), rel=1e-5)
    corpus = math.exp(sum(s for s, _ in sums) / sum(n for _, n in sums))
    assert result.corpus == pytest.approx(corpus, rel=1e-5)
    assert result.tokens == [n for _, n in sums]
    assert 1 < result.corpus < 10_000  # a random model over a ~400-token vocabulary


def test_batched_equals_one_at_a_time(tiny_model):
    spec = str(tiny_model)
    batched = token_losses(TEXTS, spec, batch_size=4, progress=False)
    single = token_losses(TEXTS, spec, batch_size=1, progress=False)
    assert (batched[:, 1] == single[:, 1]).all()
    assert abs(batched[:, 0] - single[:, 0]).max() < 1e-4


def test_sliding_window_scores_each_token_once_with_its_window(tiny_model):
    import torch

    spec = str(tiny_model)
    text = TEXTS[2]
    loaded = models.load(spec)
    tok = loaded.tokenizer
    ids = [tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]
    context, stride = 16, 8
    assert len(ids) > 3 * context
    got = token_losses([text], spec, context=context, stride=stride, progress=False)[0]
    # by hand, the Hugging Face recipe: each window scores the tokens after the previous end
    total, count, prev_end = 0.0, 0, 1
    for begin in range(0, len(ids), stride):
        end = min(begin + context, len(ids))
        window = torch.tensor([ids[begin:end]])
        labels = window.clone()
        first_new = prev_end - begin  # position in the window of the first unscored token
        labels[0, : max(first_new, 1)] = -100
        n = int((labels[0, 1:] != -100).sum())
        with torch.no_grad():
            loss = loaded.model(input_ids=window, labels=labels).loss.item()
        total += loss * n
        count += n
        prev_end = end
        if end == len(ids):
            break
    assert got[1] == count == len(ids) - 1
    assert got[0] == pytest.approx(total, rel=1e-5)
    # with a short window the loss differs from the full-context one: the window matters
    full = token_losses([text], spec, progress=False)[0]
    assert full[1] == got[1] and abs(full[0] - got[0]) > 1e-3


def test_windows_cover_every_token_once():
    ids = list(range(50))
    covered: list[int] = []
    for window, skip in _windows(ids, 16, 5):
        covered += window[1 + skip :]
    assert covered == ids[1:]


def test_bad_input(tiny_model, tmp_path):
    spec = str(tiny_model)
    with pytest.raises(EvaluationError, match="stride=16"):
        token_losses(["a text"], spec, context=16, stride=16)
    with pytest.raises(Exception, match=r"1 of 2 texts are empty"):
        perplexity(["fine", " "], spec)
    with pytest.raises(InputMismatchError, match="Nothing to score: no texts"):
        perplexity([], spec)
    # a model folder with a config but no weights
    (tmp_path / "noweights").mkdir()
    (tmp_path / "noweights" / "config.json").write_text((tiny_model / "config.json").read_text())
    with pytest.raises(LookupError, match="no weight files"):
        perplexity(["some text"], str(tmp_path / "noweights"))


def test_batches_respect_the_window_count_and_the_token_budget():
    from llmops_magics.evaluation._perplexity import TOKEN_BUDGET, _batches

    lengths = [3000, 2000, 1000, 900, 10, 10, 10]
    batches = _batches(lengths, list(range(7)), 4)
    assert batches == [[0], [1, 2], [3, 4, 5, 6]]
    assert all(len(b) * lengths[b[0]] <= TOKEN_BUDGET for b in batches)
    assert _batches([5000, 10, 10], [0, 1, 2], 8) == [[0], [1, 2]]  # too long: alone
    assert _batches([5] * 10, list(range(10)), 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_precision_option(tiny_model):
    texts = ["the cat sat on the mat", "a dog ran in the park today"]
    fp32 = perplexity(texts, str(tiny_model)).corpus
    # the tiny model (hidden 64) stays in float32 under "auto": the same number
    assert perplexity(texts, str(tiny_model), precision="auto").corpus == fp32
    bf16 = perplexity(texts, str(tiny_model), precision="bf16").corpus
    assert bf16 != fp32 and abs(bf16 / fp32 - 1) < 0.05
    with pytest.raises(EvaluationError, match="precision='fp16'"):
        perplexity(texts, str(tiny_model), precision="fp16")
    assert perplexity(texts, str(tiny_model)).precision == "fp32"
    assert perplexity(texts, str(tiny_model), precision="bf16").precision == "bf16"


def test_auto_precision_follows_the_hardware_rule(tiny_model, monkeypatch):
    """auto: bf16 only for models of hidden size >= 256 on bf16 hardware."""
    import sys

    from llmops_magics import finetune
    from llmops_magics.evaluation import precision_for

    # the fine-tuning stage's rule asks its own module whether the CPU has bf16
    rule = sys.modules[finetune.resolve_precision.__module__]
    loaded = models.load(str(tiny_model))
    assert precision_for(loaded, "fp32") == "fp32"
    assert precision_for(loaded) == "fp32"  # hidden 64
    monkeypatch.setattr(rule, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(loaded.model.config, "hidden_size", 576)
    assert precision_for(loaded) == "bf16"
    monkeypatch.setattr(rule, "cpu_has_bf16", lambda: False)
    assert precision_for(loaded) == "fp32"


def test_chunked_lm_head_equals_the_full_logits(tiny_model, monkeypatch):
    """Llama-like models run the LM head on scored positions only, in chunks: same losses."""
    from llmops_magics.evaluation import _perplexity

    loaded = models.load(str(tiny_model))
    assert _perplexity._plain_head(loaded.model) is not None
    monkeypatch.setattr(_perplexity, "HEAD_CHUNK", 7)  # several chunks, one ragged
    chunked = token_losses(TEXTS, str(tiny_model), batch_size=4, progress=False)
    monkeypatch.setattr(_perplexity, "_plain_head", lambda model: None)
    full = token_losses(TEXTS, str(tiny_model), batch_size=4, progress=False)
    assert (chunked[:, 1] == full[:, 1]).all()
    assert abs(chunked[:, 0] - full[:, 0]).max() < 1e-4


def test_unknown_architectures_take_the_generic_path(tiny_model):
    from llmops_magics.evaluation._perplexity import _plain_head

    loaded = models.load(str(tiny_model))
    saved = loaded.model.config.model_type
    try:
        loaded.model.config.model_type = "gemma2"  # soft-capped logits: not a plain head
        assert _plain_head(loaded.model) is None
    finally:
        loaded.model.config.model_type = saved


def test_chunked_lm_head_uses_the_active_adapter(tiny_model, tmp_path, monkeypatch):
    """An adapter's perplexity takes the LoRA layers, whichever path scores it."""
    from llmops_magics.evaluation import _perplexity
    from llmops_magics.testing import make_tiny_adapter

    spec = str(tiny_model)
    adapter = make_tiny_adapter(spec, tmp_path / "adapter", seed=3)
    base = token_losses(TEXTS, spec, progress=False)
    chunked = token_losses(TEXTS, adapter, progress=False)
    monkeypatch.setattr(_perplexity, "_plain_head", lambda model: None)
    full = token_losses(TEXTS, adapter, progress=False)
    assert abs(chunked[:, 0] - full[:, 0]).max() < 1e-4
    assert abs(chunked[:, 0] - base[:, 0]).max() > 1e-3


def test_progress_goes_through_the_perplexity_channel(tiny_model, monkeypatch):
    from llmops_magics import progress

    calls: list[tuple] = []

    class Recorder:
        def start(self, total, title):
            calls.append(("start", total, title))

        def update(self, info):
            calls.append(("update", info["step"]))

        def finish(self, status="finished", message=""):
            calls.append(("finish", status))

    monkeypatch.setitem(progress._LIVE, "perplexity", Recorder)
    token_losses(TEXTS, str(tiny_model), batch_size=2, progress="panel")
    assert calls == [
        ("start", 2, "perplexity"),
        ("update", 1),
        ("update", 2),
        ("finish", "finished"),
    ]
    calls.clear()
    token_losses(TEXTS[:1], str(tiny_model), progress=False)
    assert calls == []
