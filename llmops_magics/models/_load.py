"""Loading resolved models into memory, with a small in-process cache."""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import GenerationError
from llmops_magics.models._sources import ModelRef, resolve, sources
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LoadedModel",
    "ModelList",
    "clear_cache",
    "list_models",
    "load",
    "unload",
    "without_hf_bars",
]

_MAX_LOADED = 2
_LOADED: OrderedDict[tuple[str, int, str, str], LoadedModel] = OrderedDict()


@dataclass
class LoadedModel:
    """A model and its tokenizer in memory, ready to generate.

    For an adapter spec, ``model`` is a ``peft.PeftModel`` that wraps the cached base model;
    every adapter of one base shares that base in memory, and :func:`load` switches which one is
    active (or turns adapters off when the base itself is asked for).
    """

    ref: ModelRef
    model: Any
    tokenizer: Any
    load_s: float
    #: the adapter's name inside the shared PeftModel (None for a plain model)
    adapter_name: str | None = None
    #: the base model's entry when this is an adapter
    base: LoadedModel | None = None
    #: for a base model: the PeftModel its adapters were injected through (None until then)
    peft_model: Any = None

    @property
    def is_chat(self) -> bool:
        """Whether the tokenizer has a chat template (prompts are then sent as user turns)."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    def activate(self) -> LoadedModel:
        """Make this model the one the shared weights compute (switch or disable adapters)."""
        if self.adapter_name is not None:
            self.model.base_model.enable_adapter_layers()
            self.model.set_adapter(self.adapter_name)
        elif self.peft_model is not None:
            self.peft_model.base_model.disable_adapter_layers()
        return self


_DTYPES = ("float32", "bfloat16", "float16")
#: adapters held in memory, keyed by (adapter folder, its stamp, the base's key)
_ADAPTERS: dict[tuple[str, int, tuple[str, int, str, str]], LoadedModel] = {}
#: how many times a base model was read from disk (tests check that adapters share the base)
load_counts: dict[str, int] = {}


@contextlib.contextmanager
def without_hf_bars() -> Iterator[None]:
    """Silence transformers' own progress bars ("Loading weights") while a model loads.

    A local model loads in about a second; in a notebook its bar is a tqdm widget that stays
    behind as a dead output (and papermill kernels store it in the executed notebook).
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load(spec: str, *, dtype: str = "float32", device: str | None = None) -> LoadedModel:
    """Resolve ``spec`` and load the model and tokenizer (the last two stay in memory).

    Only local files are read and ``trust_remote_code`` is never set. An adapter spec (a PEFT
    folder, ``run:<id>``) is loaded on its base; several adapters on one base share it, and
    the returned model is active (call :meth:`LoadedModel.activate` again after loading another).

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
    if ref.is_remote:
        raise GenerationError(
            f"The model {spec!r} answers over HTTP at {ref.endpoint}; it has no weights here.",
            hint="Generate with it (models.generate, prompts, eval's generation); scores that "
            "need the weights (perplexity) need a local model.",
        )
    if ref.base is not None:
        return _load_adapter(ref, dtype, device).activate()
    return _load_base(ref, dtype, device).activate()


def _load_base(ref: ModelRef, dtype: str, device: str | None) -> LoadedModel:
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # The folder's newest modification time is part of the key: a model saved again over the
    # same folder is loaded again, not served stale from memory.
    key = (str(ref.path), ref.stamp, dtype, device)
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    with without_hf_bars():
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
    load_counts[str(ref.path)] = load_counts.get(str(ref.path), 0) + 1
    loaded = LoadedModel(ref, model, tokenizer, time.perf_counter() - start)
    _LOADED[key] = loaded
    while len(_LOADED) > _MAX_LOADED:
        evicted, _ = _LOADED.popitem(last=False)
        for akey in [k for k in _ADAPTERS if k[2] == evicted]:
            del _ADAPTERS[akey]
    return loaded


def _load_adapter(ref: ModelRef, dtype: str, device: str | None) -> LoadedModel:
    import hashlib

    assert ref.base is not None
    base_ref = resolve(ref.base)
    if base_ref.base is not None:
        raise GenerationError(
            f"The adapter {ref.spec!r} names another adapter ({ref.base!r}) as its base.",
            hint="An adapter's base_model_name_or_path must be a full model spec.",
        )
    base = _load_base(base_ref, dtype, device)
    base_key = next(k for k, v in _LOADED.items() if v is base)
    key = (str(ref.path), ref.stamp, base_key)
    if key in _ADAPTERS:
        return _ADAPTERS[key]
    from peft import PeftModel

    start = time.perf_counter()
    name = "a" + hashlib.sha1(f"{key[0]}:{key[1]}".encode()).hexdigest()[:12]
    if base.peft_model is None:
        peft_model = PeftModel.from_pretrained(
            base.model, str(ref.path), adapter_name=name, is_trainable=False
        )
        base.peft_model = peft_model
    else:
        peft_model = base.peft_model
        peft_model.load_adapter(str(ref.path), adapter_name=name, is_trainable=False)
    peft_model.eval()
    tokenizer = base.tokenizer
    loaded = LoadedModel(
        ref, peft_model, tokenizer, time.perf_counter() - start, adapter_name=name, base=base
    )
    _ADAPTERS[key] = loaded
    return loaded


def clear_cache() -> None:
    """Forget the models held in memory."""
    _LOADED.clear()
    _ADAPTERS.clear()


def unload(loaded: LoadedModel) -> None:
    """Forget one loaded model: an adapter leaves its base's shared PeftModel (the base stays),
    a base model leaves the cache with its adapters. Nobody may be generating with it."""
    for akey in [k for k, v in _ADAPTERS.items() if v is loaded]:
        del _ADAPTERS[akey]
    if loaded.adapter_name is not None and loaded.base is not None:
        peft_model = loaded.base.peft_model
        name = loaded.adapter_name
        if (
            peft_model is not None
            and name in peft_model.peft_config
            and len(peft_model.peft_config) > 1
        ):
            if peft_model.active_adapter == name:
                peft_model.set_adapter(next(n for n in peft_model.peft_config if n != name))
            peft_model.delete_adapter(name)
        return
    for key in [k for k, v in _LOADED.items() if v is loaded]:
        del _LOADED[key]
        for akey in [k for k in _ADAPTERS if k[2] == key]:
            del _ADAPTERS[akey]


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
