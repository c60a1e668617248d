"""LoRA fine-tuning: supervised (SFT) and preference (DPO) training, resume and merge.

>>> from llmops_magics import finetune
>>> cfg = finetune.FineTuneConfig(model="smollm2", prompt_col="question", response_col="answer")
>>> result = finetune.train(cfg, frame)  # doctest: +SKIP
>>> result.spec  # a model spec for generate, prompts and eval  # doctest: +SKIP
'run:...'
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.finetune._checkpoints import checkpoint_root
    from llmops_magics.finetune._config import FineTuneConfig
    from llmops_magics.finetune._dpo import read_preferences, train_dpo
    from llmops_magics.finetune._errors import FineTuneConfigError, FineTuneError
    from llmops_magics.finetune._merge import MergeResult, merge
    from llmops_magics.finetune._model import cpu_has_bf16, linear_layer_names, resolve_precision
    from llmops_magics.finetune._progress import TrainingLog
    from llmops_magics.finetune._result import FineTuneResult
    from llmops_magics.finetune._train import resume, train

__all__ = [
    "FineTuneConfig",
    "FineTuneConfigError",
    "FineTuneError",
    "FineTuneResult",
    "MergeResult",
    "TrainingLog",
    "checkpoint_root",
    "cpu_has_bf16",
    "linear_layer_names",
    "merge",
    "read_preferences",
    "resolve_precision",
    "resume",
    "train",
    "train_dpo",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "FineTuneConfig": "_config",
        "FineTuneConfigError": "_errors",
        "FineTuneError": "_errors",
        "FineTuneResult": "_result",
        "MergeResult": "_merge",
        "TrainingLog": "_progress",
        "checkpoint_root": "_checkpoints",
        "cpu_has_bf16": "_model",
        "linear_layer_names": "_model",
        "merge": "_merge",
        "read_preferences": "_dpo",
        "resolve_precision": "_model",
        "resume": "_train",
        "train": "_train",
        "train_dpo": "_dpo",
    },
)
