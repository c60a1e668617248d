"""Converted copies of a model's weights for the fast engines, made once and cached.

A fast engine (CTranslate2, ONNX Runtime GenAI) runs its own copy of the weights. The copy is
made offline, once per model content (and per adapter version: a LoRA adapter is merged into its
base first), under ``cache_root()/engines/<engine>-<version>/`` by content hash, as the embedded
model is: a copy of the same weights elsewhere reuses it, a re-saved model converts again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmops_magics.files import atomic_dir, atomic_write, file_lock
from llmops_magics.models._sources import ModelRef, resolve, weights_hash

__all__ = [
    "cached_conversion",
    "content_key",
    "cpu_reason",
    "engine_tokenizer",
    "merged",
    "model_type",
]

#: ``convert(source_folder, out_folder)``: writes the engine's copy of the weights into ``out``
Converter = Callable[[Path, Path], None]


def cpu_reason(ref: ModelRef, device: str, supported: tuple[str, ...]) -> str | None:
    """Why a CPU-only converting engine cannot serve ``ref`` on ``device`` (None when it can)."""
    if device != "cpu":
        return f"it runs on the CPU here, and this machine computes on {device}"
    kind = model_type(ref)
    if kind not in supported:
        return f"its architecture {kind or '(unknown)'!r} is not one of {', '.join(supported)}"
    return None


def model_type(ref: ModelRef) -> str:
    """The Hugging Face ``model_type`` of ``ref`` (its base's for an adapter); "" if unknown."""
    base = resolve(ref.base) if ref.base is not None else ref
    try:
        return str(json.loads((base.path / "config.json").read_text()).get("model_type", ""))
    except (OSError, ValueError):
        return ""


def content_key(ref: ModelRef) -> str:
    """The content hash of the weights an engine runs: the model's, or base + adapter."""
    if ref.base is None:
        return weights_hash(ref.path)
    base = resolve(ref.base)
    return hashlib.sha256(
        f"{weights_hash(base.path)}+{weights_hash(ref.path)}".encode()
    ).hexdigest()


def cached_conversion(
    ref: ModelRef, root: Path, variant: str, marker: str, convert: Converter, what: str
) -> Path:
    """The folder of ``ref``'s converted copy under ``root`` (``variant``: the quantization),
    converted by ``convert`` the first time; ``marker`` is a file every finished copy holds.

    Hashing 540 MB of weights takes seconds, so a pointer keyed by the cheap identity (folder and
    modification times) finds the copy without it; a re-saved folder is hashed again. The copy is
    written into a temporary folder and renamed into place under a file lock, so parallel
    processes convert once.
    """
    identity = hashlib.sha256(f"{ref.identity}|{variant}".encode()).hexdigest()
    seen = root / "by-identity" / identity
    if seen.is_file() and (root / seen.read_text().strip() / marker).is_file():
        return root / seen.read_text().strip()
    dest = root / f"{content_key(ref)[:16]}-{variant}"
    if not (dest / marker).is_file():
        _convert_once(ref, dest, variant, marker, convert, what)
    seen.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(seen, dest.name)
    return dest


def _convert_once(
    ref: ModelRef, dest: Path, variant: str, marker: str, convert: Converter, what: str
) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(dest.parent / f".{dest.name}.lock"):
        if (dest / marker).is_file():  # another process converted it while we waited
            return
        print(
            f"llmops: converting {ref.spec} for {what} ({variant}), once; later loads read the "
            f"cache at {dest}",
            file=sys.stderr,
        )
        start = time.perf_counter()
        with atomic_dir(dest) as tmp:
            source = merged(ref, tmp.parent / f".{dest.name}.merged") if ref.base else ref.path
            try:
                convert(source, tmp)
            finally:
                if source != ref.path:
                    shutil.rmtree(source, ignore_errors=True)
            (tmp / "llmops_source.json").write_text(
                json.dumps(
                    {
                        "spec": ref.spec,
                        "content_hash": content_key(ref),
                        "quantization": variant,
                        "convert_s": round(time.perf_counter() - start, 2),
                    }
                )
            )


def merged(ref: ModelRef, out: Path) -> Path:
    """Merge the LoRA adapter ``ref`` into a float32 copy of its base, saved at ``out``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmops_magics.models._load import without_hf_bars

    assert ref.base is not None
    base = resolve(ref.base)
    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    with without_hf_bars():
        model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32, **kwargs)
        done = PeftModel.from_pretrained(model, str(ref.path)).merge_and_unload()
        done.save_pretrained(out)
        AutoTokenizer.from_pretrained(base.path, **kwargs).save_pretrained(out)
    return out


@functools.cache
def engine_tokenizer(path: str, stamp: int) -> Any:
    """The base model's tokenizer (left padding, a pad token), loaded once per folder version."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok
