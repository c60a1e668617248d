"""Turning a data frame into token ids and labels for causal-LM fine-tuning.

Prompt/response rows go through the tokenizer's chat template; the prompt part (everything up
to and including the assistant header) gets label -100, so the loss counts only the response.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import DataError
from llmops_magics.finetune._config import FineTuneConfig

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Collator", "TokenizedData", "columns_for", "data_hash", "tokenize_frame"]

IGNORE = -100


@dataclass
class TokenizedData:
    """Token rows ready for the Trainer, and what happened on the way."""

    rows: list[dict[str, list[int]]]
    n_input: int
    truncated: int = 0
    dropped: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]

    @property
    def tokens(self) -> int:
        """Tokens over all rows."""
        return sum(len(r["input_ids"]) for r in self.rows)


def columns_for(config: FineTuneConfig) -> list[str]:
    """The frame columns that ``config`` reads."""
    if config.method == "dpo":
        return [str(config.prompt_col), config.chosen_col, config.rejected_col]
    if config.text_col is not None:
        return [config.text_col]
    return [str(config.prompt_col), str(config.response_col)]


def check_frame(data: Any, config: FineTuneConfig, *, name: str = "data") -> pd.DataFrame:
    """The frame restricted to the used columns, each checked to hold text."""
    from llmops_magics.data import require_frame, text_column

    frame = require_frame(data, name=name)
    for column in columns_for(config):
        text_column(frame, column, name=name)
    return frame[columns_for(config)].reset_index(drop=True)


def data_hash(frame: pd.DataFrame) -> str:
    """A content hash of the rows (column names and values, in order)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(map(str, frame.columns))).encode())
    for row in frame.itertuples(index=False):
        digest.update(json.dumps(list(row), ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _chat(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_prompt(tokenizer: Any, prompt: str, system: str | None) -> str:
    """The prompt as the model sees it before its answer (chat template when it has one)."""
    if not _chat(tokenizer):
        return prompt + "\n"
    messages = [{"role": "user", "content": prompt}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def _response_suffix(tokenizer: Any, prompt: str, response: str, system: str | None) -> str:
    """What the chat template appends for the assistant's answer (answer + end-of-turn)."""
    if not _chat(tokenizer):
        return response + (tokenizer.eos_token or "")
    messages = [{"role": "user", "content": prompt}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    head = render_prompt(tokenizer, prompt, system)
    full = str(
        tokenizer.apply_chat_template(
            [*messages, {"role": "assistant", "content": response}], tokenize=False
        )
    )
    if full.startswith(head):
        return full[len(head) :]
    # A template that renders differently with the answer present: fall back to plain text.
    return response + (tokenizer.eos_token or "")


def tokenize_frame(
    frame: pd.DataFrame, tokenizer: Any, config: FineTuneConfig, *, name: str = "data"
) -> TokenizedData:
    """Token ids, attention masks and labels for every usable row of ``frame``.

    Raises
    ------
    DataError
        When ``max_length`` cuts into prompts (the message says how many rows) or no row is
        left with a token to learn from.
    """
    frame = check_frame(frame, config, name=name)
    rows: list[dict[str, list[int]]] = []
    dropped: list[int] = []
    truncated = 0
    max_len = config.max_length
    if config.text_col is not None:
        eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        encoded = tokenizer(frame[config.text_col].tolist(), add_special_tokens=False)["input_ids"]
        for i, ids in enumerate(encoded):
            ids = list(ids) + eos
            if len(ids) > max_len:
                truncated += 1
                ids = ids[:max_len]
            if len(ids) < 2:  # nothing to predict
                dropped.append(i)
                continue
            rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)})
    else:
        prompts = frame[str(config.prompt_col)].tolist()
        responses = frame[str(config.response_col)].tolist()
        heads = [render_prompt(tokenizer, p, config.system) for p in prompts]
        tails = [
            _response_suffix(tokenizer, p, r, config.system)
            for p, r in zip(prompts, responses, strict=True)
        ]
        head_ids = tokenizer(heads, add_special_tokens=not _chat(tokenizer))["input_ids"]
        tail_ids = tokenizer(tails, add_special_tokens=False)["input_ids"]
        too_long = [i for i, h in enumerate(head_ids) if len(h) >= max_len]
        if too_long:
            longest = max(len(h) for h in head_ids)
            raise DataError(
                f"max_length={max_len} is below the prompt length of {len(too_long)} of "
                f"{len(frame)} rows in {name} (longest prompt: {longest} tokens): those rows "
                "would be cut before the response and teach nothing.",
                column=config.prompt_col,
                rows=too_long,
                hint=f"Raise --max-length to at least {longest + 16}, or drop the long rows.",
            )
        for i, (h, t) in enumerate(zip(head_ids, tail_ids, strict=True)):
            ids = list(h) + list(t)
            labels = [IGNORE] * len(h) + list(t)
            if len(ids) > max_len:
                truncated += 1
                ids, labels = ids[:max_len], labels[:max_len]
            if not t or all(lab == IGNORE for lab in labels):
                dropped.append(i)
                continue
            rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    if not rows:
        raise DataError(
            f"{name} has no usable rows after tokenization ({len(frame)} rows, all empty or "
            "without a token to learn from).",
            rows=dropped,
            hint="Check that the text/response column holds non-empty text.",
        )
    return TokenizedData(rows, n_input=len(frame), truncated=truncated, dropped=dropped)


class Collator:
    """Pads a batch to its longest row (labels with -100, so padding adds no loss)."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        ids, mask, labels = [], [], []
        for f in features:
            pad = width - len(f["input_ids"])
            ids.append(f["input_ids"] + [self.pad_token_id] * pad)
            mask.append(f["attention_mask"] + [0] * pad)
            labels.append(f["labels"] + [IGNORE] * pad)
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "attention_mask": torch.tensor(mask, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
        }
