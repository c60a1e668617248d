"""A tiny random Llama model with a byte-level BPE tokenizer trained offline.

It has the shape of the real thing (chat template, special tokens, safetensors weights) and loads
and trains in well under a second, so tests of every stage can run the real code paths.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

__all__ = ["TINY_CHAT_TEMPLATE", "corpus", "make_tiny_model"]

TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]

_SUBJECTS = ["the model", "a notebook", "my data", "the tokenizer", "a small robot", "the team"]
_VERBS = ["learns", "reads", "writes", "evaluates", "answers", "prepares", "trains on"]
_OBJECTS = ["short questions", "long reviews", "the test set", "clean text", "a prompt"]
_ENDINGS = ["today.", "again.", "very quickly.", "with care.", "in batches.", "on two cores."]


def corpus(n: int = 300, seed: int = 0) -> list[str]:
    """A few hundred deterministic English sentences to train the tokenizer on."""
    rng = random.Random(seed)
    combos = list(itertools.product(_SUBJECTS, _VERBS, _OBJECTS, _ENDINGS))
    rng.shuffle(combos)
    sentences = [" ".join(c).capitalize() for c in combos[:n]]
    sentences += ["What is AI?", "How are you?", "Tell me a joke.", "Numbers 0123456789 %$#@!"]
    return sentences


def make_tiny_model(
    path: str | Path,
    *,
    vocab_size: int = 400,
    hidden_size: int = 64,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """Write a tiny random ``LlamaForCausalLM`` and its tokenizer to ``path``.

    The result loads with ``AutoModelForCausalLM.from_pretrained(path)`` and works as a model spec.
    The same arguments always give the same weights and vocabulary.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<pad>",
        model_max_length=256,
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    tokenizer.save_pretrained(path)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=0.2,  # wider than the default so random outputs vary
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    (path / "llmops_tiny.json").write_text(json.dumps({"seed": seed, "hidden_size": hidden_size}))
    return path
