"""Perplexity of texts under a causal language model: batched, masked, sliding window.

Each text is tokenised and prefixed with the model's BOS token (or EOS when it has no BOS), so
every token of the text is predicted. A text longer than the context is cut into windows of
``context`` tokens that advance by ``stride``; each token is scored once, in the window where it
has the most context (the Hugging Face "perplexity of fixed-length models" recipe). All windows
of all texts are sorted by length and run in padded batches; padding is masked out of attention
and of the loss, so a batch gives the same losses as one text at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress

if TYPE_CHECKING:
    import numpy as np

__all__ = ["PRECISIONS", "PerplexityResult", "perplexity", "precision_for", "token_losses"]


def _context_length(loaded: Any) -> int:
    config = loaded.model.config
    limits = [
        getattr(config, "max_position_embeddings", None),
        getattr(config, "n_positions", None),
        getattr(loaded.tokenizer, "model_max_length", None),
    ]
    usable = [int(x) for x in limits if isinstance(x, int) and 1 < x < 1_000_000]
    return min(usable) if usable else 1024


def _prefix_id(tokenizer: Any) -> int | None:
    for attr in ("bos_token_id", "eos_token_id"):
        value = getattr(tokenizer, attr, None)
        if isinstance(value, int):
            return value
    return None


def _windows(ids: list[int], context: int, stride: int) -> list[tuple[list[int], int]]:
    """(window ids, number of leading positions whose prediction is not scored) for one text.

    Position ``t`` of a window predicts token ``t + 1``; the first ``skip`` predictions repeat
    tokens an earlier window already scored.
    """
    n = len(ids)
    if n <= context:
        return [(ids, 0)]
    out: list[tuple[list[int], int]] = []
    prev_end = 1  # token 0 (the prefix) is never predicted
    begin = 0
    while True:
        end = min(begin + context, n)
        # tokens begin+1 .. end-1 are predictable in this window; score those from prev_end on
        skip = max(prev_end - begin - 1, 0)
        out.append((ids[begin:end], skip))
        prev_end = end
        if end == n:
            return out
        begin += stride


#: padded tokens per forward pass at most (a window longer than this runs alone): bounds the
#: activations of a batch, and on the generic path its tokens x vocabulary logits (about 0.8 GB
#: for SmolLM2's 49k vocabulary)
TOKEN_BUDGET = 4096


def _batches(lengths: list[int], order: list[int], batch_size: int) -> list[list[int]]:
    """Split ``order`` (longest first) into batches of at most ``batch_size`` windows and
    :data:`TOKEN_BUDGET` padded tokens."""
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for length, k in zip(lengths, order, strict=True):
        if current and (len(current) >= batch_size or (len(current) + 1) * width > TOKEN_BUDGET):
            batches.append(current)
            current = []
        if not current:
            width = length  # the first window of a batch is its longest
        current.append(k)
    if current:
        batches.append(current)
    return batches


#: model types whose logits are exactly ``lm_head(decoder(...).last_hidden_state)``: for them
#: the LM head runs on the scored positions only, a chunk at a time, so a batch never holds
#: tokens x vocabulary logits at once (other models take the generic path through ``.logits``)
_PLAIN_HEAD_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "phi3"})
#: positions per chunk of the LM head (about 50 MB of float32 logits for a 49k vocabulary)
HEAD_CHUNK = 256


def _plain_head(model: Any) -> tuple[Any, Any] | None:
    """``(decoder, lm_head)`` when the model's logits are the LM head over the decoder's output."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) not in _PLAIN_HEAD_TYPES:
        return None
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = getattr(base, "model", None)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    if decoder is None or head is None:
        return None
    return decoder, head


def _token_nll(model: Any, input_ids: Any, mask: Any) -> Any:
    """Negative log-likelihood of token ``t + 1`` at each position ``t`` (batch, width - 1);
    padded positions hold 0."""
    import torch

    targets = input_ids[:, 1:]
    scored = mask[:, 1:].bool()
    plain = _plain_head(model)
    if plain is None:
        logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
        nll = torch.logsumexp(logits, dim=-1) - logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return nll.masked_fill(~scored, 0.0)
    decoder, head = plain
    hidden = decoder(input_ids=input_ids, attention_mask=mask).last_hidden_state[:, :-1]
    rows, wanted = hidden[scored], targets[scored]
    parts = []
    for begin in range(0, rows.shape[0], HEAD_CHUNK):
        logits = head(rows[begin : begin + HEAD_CHUNK]).float()
        picked = logits.gather(-1, wanted[begin : begin + HEAD_CHUNK].unsqueeze(-1)).squeeze(-1)
        parts.append(torch.logsumexp(logits, dim=-1) - picked)
    nll = torch.zeros(targets.shape, dtype=torch.float32, device=input_ids.device)
    if parts:
        nll[scored] = torch.cat(parts)
    return nll


PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(precision: str) -> None:
    """Raise :class:`EvaluationError` unless ``precision`` is one of :data:`PRECISIONS`."""
    from llmops_magics.evaluation._errors import EvaluationError

    if precision not in PRECISIONS:
        raise EvaluationError(
            f"precision={precision!r} is not one of {', '.join(PRECISIONS)}.",
            hint="Use auto (bf16 where the hardware has it), or fp32 for machine-independent "
            "numbers.",
        )


def precision_for(model: Any, precision: str = "auto") -> str:
    """The precision (``fp32`` or ``bf16``) that scoring ``model`` (a spec or a loaded model)
    in ``precision`` uses on this machine."""
    check_precision(precision)
    if precision != "auto":
        return precision
    from llmops_magics import models
    from llmops_magics.finetune import resolve_precision

    loaded = models.load(model) if isinstance(model, str) else model
    hidden = getattr(loaded.model.config, "hidden_size", None)
    chosen = resolve_precision("auto", hidden_size=hidden)
    return "bf16" if chosen == "bf16" else "fp32"  # a GPU without bf16: float32 scores


def token_losses(
    texts: Sequence[str],
    model: Any,
    *,
    batch_size: int = 32,
    context: int | None = None,
    stride: int | None = None,
    progress: _progress.ProgressOption = None,
    precision: str = "auto",
) -> np.ndarray:
    """Per-text ``[sum of token negative log-likelihoods, number of scored tokens]`` (n, 2).

    Parameters
    ----------
    texts
        Non-empty texts.
    model
        A model spec or a loaded model (:class:`llmops_magics.models.LoadedModel`).
    batch_size
        Windows per forward pass.
    context
        Window length in tokens; by default the model's maximum.
    stride
        How far a window advances; by default half the context.
    progress
        Report through the ``"perplexity"`` progress channel: None = when there is more than
        one batch; False = never.
    precision
        ``auto`` (default): bf16 autocast on a GPU with bf16 or a CPU with native bf16
        (AVX512-BF16/AMX) for models of hidden size 256 or more (the fine-tuning stage's rule),
        else float32; ``fp32`` for numbers that do not depend on the machine (bf16 moves
        SmolLM2's perplexity by about 0.4%); or ``bf16``. Token losses always come from float32
        logits. :func:`precision_for` tells which one ``auto`` picks for a model.
    """
    import torch

    from llmops_magics import models

    check_precision(precision)
    loaded = models.load(model) if isinstance(model, str) else model.activate()
    precision = precision_for(loaded, precision)
    autocast_bf16 = precision == "bf16" and loaded.model.dtype == torch.float32
    segments = _segments(loaded, texts, *_window_sizes(loaded, context, stride, batch_size))
    order = sorted(range(len(segments)), key=lambda k: -len(segments[k][1]))
    batches = _batches([len(segments[k][1]) for k in order], order, batch_size)
    view = _progress.channel("perplexity", progress if len(batches) > 1 else progress or False)
    view.start(len(batches), "perplexity")
    status = "failed"
    try:
        with torch.autocast(loaded.model.device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
            out = _score_batches(loaded, segments, batches, len(texts), view)
        status = "finished"
    finally:
        view.finish(status)
    return out


def _window_sizes(
    loaded: Any, context: int | None, stride: int | None, batch_size: int
) -> tuple[int, int]:
    """The window length and stride to use (checked against the model's context)."""
    from llmops_magics.evaluation._errors import EvaluationError

    limit = _context_length(loaded)
    context = min(context or limit, limit)
    if context < 2:
        raise EvaluationError(f"context={context} is too short: a window needs 2 tokens or more.")
    stride = stride or max(context // 2, 1)
    if not 1 <= stride <= context - 1:
        raise EvaluationError(
            f"stride={stride} must be between 1 and context - 1 = {context - 1}.",
            hint="Leave it out to use half the context.",
        )
    if batch_size < 1:
        raise EvaluationError(f"batch_size={batch_size} must be at least 1.")
    return context, stride


def _segments(
    loaded: Any, texts: Sequence[str], context: int, stride: int
) -> list[tuple[int, list[int], int]]:
    """Every window of every text: ``(text index, token ids, positions not scored)``."""
    from llmops_magics.evaluation._errors import EvaluationError

    tok = loaded.tokenizer
    prefix = _prefix_id(tok)
    # Long texts are windowed below; lift the tokenizer's length limit meanwhile, or it warns
    # that the model cannot take them (it never sees them whole).
    saved_max = tok.model_max_length
    tok.model_max_length = int(1e30)
    try:
        encoded = tok(list(texts), add_special_tokens=False)["input_ids"]
    finally:
        tok.model_max_length = saved_max
    segments: list[tuple[int, list[int], int]] = []
    for i, ids in enumerate(encoded):
        if prefix is not None:
            ids = [prefix, *ids]
        if len(ids) < 2:
            raise EvaluationError(
                f"Text {i} has no token to score ({texts[i]!r}).",
                hint="Perplexity needs non-empty texts.",
            )
        segments.extend((i, w, skip) for w, skip in _windows(ids, context, stride))
    return segments


def _score_batches(
    loaded: Any,
    segments: list[tuple[int, list[int], int]],
    batches: list[list[int]],
    n_texts: int,
    view: _progress.Progress,
) -> np.ndarray:
    """Run the padded batches and add each window's scored losses to its text's row."""
    import numpy as np
    import torch

    out = np.zeros((n_texts, 2))
    pad = loaded.tokenizer.pad_token_id
    pad = pad if pad is not None else 0
    device = loaded.model.device
    with torch.inference_mode():
        for done, batch in enumerate(batches, 1):
            width = max(len(segments[k][1]) for k in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, k in enumerate(batch):
                ids = segments[k][1]
                # right padding: real tokens keep positions 0.. and never attend to padding
                input_ids[row, : len(ids)] = torch.tensor(ids)
                mask[row, : len(ids)] = 1
            nll = _token_nll(loaded.model, input_ids.to(device), mask.to(device)).cpu().double()
            for row, k in enumerate(batch):
                text_index, ids, skip = segments[k]
                scored = nll[row, skip : len(ids) - 1]
                out[text_index, 0] += float(scored.sum())
                out[text_index, 1] += scored.numel()
            view.update({"step": done})
    return out


@dataclass
class PerplexityResult:
    """Perplexity of a corpus and of each text."""

    model: str
    corpus: float
    per_text: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    precision: str = "fp32"

    def __repr__(self) -> str:
        return (
            f"perplexity of {len(self.per_text)} texts under {self.model}: {self.corpus:.3f} "
            f"({sum(self.tokens)} tokens, {self.precision})"
        )


def perplexity(
    texts: Sequence[str],
    model: str = "smollm2",
    *,
    batch_size: int = 32,
    context: int | None = None,
    stride: int | None = None,
    progress: _progress.ProgressOption = None,
    precision: str = "auto",
) -> PerplexityResult:
    """Perplexity of ``texts`` under ``model``: ``exp(total token loss / scored tokens)``.

    See :func:`token_losses` for the parameters. Each text's own perplexity is in ``per_text``.
    """
    import math

    from llmops_magics import models
    from llmops_magics.evaluation._score import check_texts

    items = check_texts(texts, "texts")
    check_precision(precision)
    loaded = models.load(model)
    stats = token_losses(
        items,
        loaded,
        batch_size=batch_size,
        context=context,
        stride=stride,
        progress=progress,
        precision=precision,
    )
    total = stats.sum(axis=0)
    return PerplexityResult(
        model=model,
        corpus=math.exp(total[0] / total[1]),
        per_text=[math.exp(s / t) for s, t in stats.tolist()],
        tokens=[int(t) for t in stats[:, 1]],
        precision=precision_for(loaded, precision),
    )
