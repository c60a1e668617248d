"""A run's folder in the workspace: checkpoints, the saved config and data (so that
``resume(run_id)`` needs nothing else), and the adapter and tokenizer it ends with.

Everything is written atomically (:mod:`llmops_magics.files`): a crash leaves the old file or
folder or the new one, never half of one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import DataError
from llmops_magics.files import atomic_dir, atomic_file, atomic_write
from llmops_magics.finetune._config import FineTuneConfig
from llmops_magics.finetune._data import check_frame, data_hash

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONFIG_FILE",
    "SavedRun",
    "checkpoint_root",
    "last_checkpoint",
    "save_adapter",
    "save_tokenizer",
]

CONFIG_FILE = "finetune_config.json"
TRAIN_FILE = "train.jsonl"
EVAL_FILE = "eval.jsonl"


def checkpoint_root(run_id: str) -> Path:
    """Where a run's checkpoints, config and data copy live in the workspace."""
    from llmops_magics import workspace

    return workspace.current().root / "checkpoints" / run_id


def last_checkpoint(root: Path) -> Path | None:
    """The run's latest complete checkpoint folder (``checkpoint-<step>``), if any."""
    found = [
        p
        for p in root.glob("checkpoint-*")
        if p.is_dir() and p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").exists()
    ]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _write_frame(path: Path, frame: pd.DataFrame) -> None:
    with atomic_file(path) as handle:
        frame.to_json(handle, orient="records", lines=True, force_ascii=False)


@dataclass
class SavedRun:
    """The config and data a run saved next to its checkpoints."""

    config: FineTuneConfig
    train: pd.DataFrame
    evals: pd.DataFrame | None

    def save(self, root: Path) -> None:
        """Keep the config and the data in ``root``, next to the checkpoints."""
        root.mkdir(parents=True, exist_ok=True)
        atomic_write(root / CONFIG_FILE, self.config.to_json())
        _write_frame(root / TRAIN_FILE, self.train)
        if self.evals is not None:
            _write_frame(root / EVAL_FILE, self.evals)

    @staticmethod
    def exists(root: Path) -> bool:
        """Whether ``root`` holds a run's saved config."""
        return (root / CONFIG_FILE).exists()

    @classmethod
    def load(cls, root: Path) -> SavedRun:
        """Read back what :meth:`save` wrote."""
        import pandas as pd

        def read(name: str) -> pd.DataFrame:
            return pd.read_json(root / name, lines=True, dtype=False)

        config = FineTuneConfig.from_json((root / CONFIG_FILE).read_text())
        evals = read(EVAL_FILE) if (root / EVAL_FILE).exists() else None
        return cls(config, read(TRAIN_FILE), evals)

    def check_same(self, run_id: str, data: Any, eval_data: Any) -> None:
        """Refuse ``data``/``eval_data`` (when given) whose content differs from the saved."""
        pairs = ((data, self.train, "data"), (eval_data, self.evals, "eval_data"))
        for given, saved, name in pairs:
            if given is None:
                continue
            frame = check_frame(given, self.config, name=name)
            if saved is None or data_hash(frame) != data_hash(saved):
                raise DataError(
                    f"{name} differs from the data the run {run_id!r} was trained on.",
                    hint="Resume without --data (the run kept a copy), or start a new run.",
                )


def save_adapter(model: Any, dest: Path, base_spec: str) -> Path:
    """Write the adapter (safetensors + PEFT config naming the base SPEC) to ``dest``."""
    with atomic_dir(dest) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        cfg_file = tmp / "adapter_config.json"
        cfg = json.loads(cfg_file.read_text())
        cfg["base_model_name_or_path"] = base_spec
        cfg_file.write_text(json.dumps(cfg, indent=2, sort_keys=True))
    return dest


def save_tokenizer(tokenizer: Any, dest: Path) -> Path:
    """Write the tokenizer's files to ``dest``."""
    with atomic_dir(dest) as tmp:
        tokenizer.save_pretrained(str(tmp))
    return dest
