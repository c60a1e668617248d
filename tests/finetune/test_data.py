"""Rows to tokens: the prompt is masked, bad frames are refused with a message that says why."""

from __future__ import annotations

import pytest

from llmops_magics import finetune
from llmops_magics.errors import DataError
from llmops_magics.finetune import FineTuneConfig


def test_prompt_tokens_are_masked(tiny_model, pairs, ft_config):
    from transformers import AutoTokenizer

    from llmops_magics.finetune._data import IGNORE, tokenize_frame

    tok = AutoTokenizer.from_pretrained(tiny_model)
    data = tokenize_frame(pairs(2), tok, ft_config())
    row = data[0]
    learned = [t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != IGNORE]
    assert tok.decode(learned) == "The model learns short questions 0.<|im_end|>\n"
    assert row["labels"][0] == IGNORE
    prompt = tok.decode(row["input_ids"][: row["labels"].count(IGNORE)])
    assert (
        prompt == "<|im_start|>user\nWhat does the model do 0?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_max_length_below_prompts_says_how_many_rows(pairs, ft_config, workspace):
    frame = pairs(6)
    frame.loc[[1, 4], "q"] = "a much longer question " * 20
    with pytest.raises(DataError, match=r"2 of 6 rows") as info:
        finetune.train(ft_config(max_length=40), frame, progress=False)
    assert info.value.rows == [1, 4]
    assert "--max-length" in str(info.value)


def test_no_usable_rows(tiny_model, workspace):
    import pandas as pd

    frame = pd.DataFrame({"text": ["", "", ""]})
    cfg = FineTuneConfig(model=str(tiny_model), text_col="text", max_steps=2)
    with pytest.raises(DataError, match="no usable rows after tokenization"):
        finetune.train(cfg, frame, progress=False)


def test_missing_column_and_empty_frame(ft_config, workspace):
    import pandas as pd

    with pytest.raises(DataError, match="no column 'q'"):
        finetune.train(ft_config(), pd.DataFrame({"x": ["a"]}), progress=False)
    with pytest.raises(DataError, match="empty"):
        finetune.train(ft_config(), pd.DataFrame({"q": [], "a": []}), progress=False)
