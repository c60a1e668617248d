"""Loading resolved models into memory, with a small in-process cache."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import GenerationError
from llmops_magics.models._sources import ModelRef, resolve, sources
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LoadedModel", "ModelList", "clear_cache", "list_models", "load"]

_MAX_LOADED = 2
_LOADED: OrderedDict[tuple[str, int, str, str], LoadedModel] = OrderedDict()


@dataclass
class LoadedModel:
    """A model and its tokenizer in memory, ready to generate."""

    ref: ModelRef
    model: Any
    tokenizer: Any
    load_s: float

    @property
    def is_chat(self) -> bool:
        """Whether the tokenizer has a chat template (prompts are then sent as user turns)."""
        return bool(getattr(self.tokenizer, "chat_template", None))


_DTYPES = ("float32", "bfloat16", "float16")


def load(spec: str, *, dtype: str = "float32", device: str | None = None) -> LoadedModel:
    """Resolve ``spec`` and load the model and tokenizer (the last two stay in memory).

    Only local files are read and ``trust_remote_code`` is never set.

    Parameters
    ----------
    spec
        A model spec (see :func:`resolve`).
    dtype
        ``float32`` (default), ``bfloat16`` or ``float16``.
    device
        ``cpu``, ``cuda``, ``cuda:1``...; by default CUDA when present, else the CPU.
    """
    if dtype not in _DTYPES:
        raise GenerationError(f"dtype={dtype!r} is not supported; use one of {', '.join(_DTYPES)}.")
    ref = resolve(spec)
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # The folder's newest modification time is part of the key: a model saved again over the
    # same folder is loaded again, not served stale from memory.
    stamp = max((f.stat().st_mtime_ns for f in ref.path.iterdir() if f.is_file()), default=0)
    key = (str(ref.path), stamp, dtype, device)
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    tokenizer = AutoTokenizer.from_pretrained(ref.path, **kwargs)
    model: Any = AutoModelForCausalLM.from_pretrained(
        ref.path, dtype=getattr(torch, dtype), **kwargs
    )
    try:
        model = model.to(torch.device(device))
    except (RuntimeError, AssertionError) as exc:
        raise GenerationError(
            f"Cannot place the model on device {device!r}: {exc}",
            hint="Use device='cpu', or a CUDA device that this machine has.",
        ) from exc
    model.eval()
    tokenizer.padding_side = "left"  # decoder-only batches are padded on the left
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    loaded = LoadedModel(ref, model, tokenizer, time.perf_counter() - start)
    _LOADED[key] = loaded
    while len(_LOADED) > _MAX_LOADED:
        _LOADED.popitem(last=False)
    return loaded


def clear_cache() -> None:
    """Forget the models held in memory."""
    _LOADED.clear()


@dataclass(frozen=True)
class ModelList(Result):
    """What ``%llmops models`` shows: every model the sources can list, and the spec syntax."""

    rows: list[dict[str, str]]
    syntax: list[str]

    _title = "llmops models"

    def to_frame(self) -> pd.DataFrame:
        """One row per listed model."""
        import pandas as pd

        return pd.DataFrame(
            self.rows, columns=["name", "kind", "location", "status", "description"]
        )

    def _summary(self) -> str:
        return "llmops models — specs: " + "; ".join(self.syntax)

    def __repr__(self) -> str:
        return self._summary() + "\n" + self.to_frame().to_string(index=False)


def list_models() -> ModelList:
    """Models available without a download, and the kinds of spec that are accepted."""
    rows: list[dict[str, str]] = []
    syntax: list[str] = []
    for _, source in sources():
        rows.extend(source.entries())
        if source.syntax:
            syntax.append(source.syntax)
    loaded = {m.ref.spec for m in _LOADED.values()}
    for row in rows:
        if row["name"] in loaded:
            row["status"] += ", loaded"
    return ModelList(rows=rows, syntax=syntax)
