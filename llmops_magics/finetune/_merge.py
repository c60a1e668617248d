"""Merging a LoRA adapter into its base: a full model folder that loads without peft."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llmops_magics.files import atomic_dir
from llmops_magics.finetune._errors import FineTuneError
from llmops_magics.finetune._track import MERGED_TO
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MergeResult", "merge"]


@dataclass(frozen=True)
class MergeResult(Result):
    """Where the merged model went and what it came from."""

    spec: str
    base: str
    out: str
    size_mb: float
    seconds: float

    _title = "merge"

    def to_frame(self) -> pd.DataFrame:
        """The fields as a two-column table."""
        return self.fields_frame()

    def _summary(self) -> str:
        return (
            f"merged {self.spec} into {self.base}: {self.out} ({self.size_mb:.0f} MB, "
            f"{self.seconds:.1f}s) — use it as --model {self.out}"
        )

    def __repr__(self) -> str:
        return self._summary()


def merge(spec: str, out: str | os.PathLike[str], *, overwrite: bool = False) -> MergeResult:
    """Fold the LoRA adapter ``spec`` (``run:<id>`` or an adapter folder) into its base model
    and save the full model and tokenizer to ``out`` (written atomically).

    Parameters
    ----------
    spec
        An adapter spec.
    out
        The folder to write; it must not exist or be empty unless ``overwrite``.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmops_magics import models

    ref = models.resolve(spec)
    if not ref.is_adapter or ref.base is None:
        raise FineTuneError(
            f"{spec!r} is a full model, not a LoRA adapter: there is nothing to merge.",
            hint="Give a fine-tuning run (run:<id>) or a PEFT adapter folder.",
        )
    dest = Path(out).expanduser().resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not overwrite:
        raise FineTuneError(
            f"The output {str(dest)!r} already exists and is not empty.",
            hint="Choose a new folder, or pass overwrite=True (--overwrite) to replace it.",
        )
    base_ref = models.resolve(ref.base)
    start = time.perf_counter()
    kwargs = {"local_files_only": True, "trust_remote_code": False}
    with models.without_hf_bars():
        base = AutoModelForCausalLM.from_pretrained(base_ref.path, dtype=torch.float32, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(base_ref.path, **kwargs)
        merged = PeftModel.from_pretrained(base, str(ref.path)).merge_and_unload()
    with atomic_dir(dest) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        lineage = {"merged_from": spec, "adapter": str(ref.path), "base": ref.base} | ref.meta
        (tmp / "llmops_merge.json").write_text(json.dumps(lineage, indent=2))
    size = sum(f.stat().st_size for f in dest.iterdir() if f.is_file()) / 2**20
    if ref.kind == "run" and "run_id" in ref.meta:
        from llmops_magics import tracking

        tracking.tracker().set_tags(ref.meta["run_id"], {MERGED_TO: str(dest)})
    return MergeResult(
        spec=spec, base=ref.base, out=str(dest), size_mb=size, seconds=time.perf_counter() - start
    )
