"""Generation engines behind :func:`llmops_magics.models.generate`.

An engine turns rendered prompts into token ids. ``torch`` runs ``transformers.generate`` on the
loaded model (exact float32, any device); a fast CPU engine (``onnxruntime-genai``,
``ctranslate2``) runs a converted copy of the same weights. ``auto`` picks the fast engine on a CPU
for the models whose quality guard passed (see ``benchmarks/generation.md``) and torch everywhere
else. Stages never see engines:
they get the same :class:`~llmops_magics.models.GenerationResult` either way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress
from llmops_magics._registry import Registry
from llmops_magics.errors import GenerationError
from llmops_magics.models._sources import ModelRef, resolve

if TYPE_CHECKING:
    from llmops_magics.models._generate import GenerationParams
    from llmops_magics.models._load import LoadedModel

__all__ = [
    "AUTO",
    "ENGINE_TAG",
    "QUALITY_GUARDED",
    "Engine",
    "EngineChoice",
    "Outputs",
    "choose_engine",
    "cut_at_stop",
    "engine_names",
    "engine_params",
    "register_engine",
    "resolved_engine",
]

AUTO = "auto"
#: the run tag that records the engine that ran and its compute type ("ctranslate2 (int8)")
ENGINE_TAG = "llmops.engine"
#: base models (embedded names) on which fast engines passed the quality guard of
#: ``benchmarks/generation.md``, fastest first; ``auto`` uses the first one installed here for
#: them and their adapters. On SmolLM2-135M ONNX Runtime GenAI int8 passed (perplexity +0.6%) at
#: about 2.7x torch, CTranslate2 float32 passed at about 1.4x; CTranslate2 int8 (+24.5%) and
#: ONNX Runtime GenAI int4 (+30.6% symmetric; +27.4% as ``onnxruntime-genai-int4``, the GGUF's
#: layout: asymmetric blocks of 32, int8 output projection) failed.
QUALITY_GUARDED: dict[str, tuple[str, ...]] = {
    "smollm2": ("onnxruntime-genai", "ctranslate2-float32")
}

#: ``on_text(index, text_so_far)``: called as tokens arrive when streaming
TextCallback = Callable[[int, str], None]


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string (excluded), and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


@dataclass
class Outputs:
    """What an engine fills in, one slot per prompt."""

    texts: list[str]
    prompt_tokens: list[int]
    completion_tokens: list[int]
    latency: list[float]
    reasons: list[str]
    spans: list[tuple[int, int]]
    total: float = 0.0

    @classmethod
    def empty(cls, n: int) -> Outputs:
        """Slots for ``n`` prompts."""
        return cls([""] * n, [0] * n, [0] * n, [0.0] * n, [""] * n, [(0, 0)] * n)

    def put(
        self, i: int, loaded: LoadedModel, ids: list[int], eos: set[int], stop: Sequence[str] = ()
    ) -> None:
        """Decode the new token ids of prompt ``i``, cut at the first end token or stop string."""
        end = next((k for k, t in enumerate(ids) if t in eos), None)
        kept = ids if end is None else ids[:end]
        text, stopped = cut_at_stop(loaded.tokenizer.decode(kept, skip_special_tokens=True), stop)
        self.texts[i] = text.strip()
        self.completion_tokens[i] = len(kept)
        self.reasons[i] = "stop" if end is not None or stopped else "length"


@dataclass(frozen=True)
class EngineChoice:
    """The engine a call runs on, and why (``reason`` says why ``auto`` chose it)."""

    engine: Engine
    reason: str

    @property
    def label(self) -> str:
        """``name (compute type)``, as runs record it."""
        return f"{self.engine.name} ({self.engine.compute_type})"


class Engine(ABC):
    """One way to run generation. Subclasses say which models they serve, load them and run
    rendered prompts into :class:`Outputs`."""

    #: the name that ``--engine`` takes
    name: str = ""
    #: what the weights compute in (``float32``, ``int8``...): recorded in every run
    compute_type: str = "float32"
    #: one line for ``%llmops generate -h`` and the docs
    description: str = ""

    def available(self) -> str | None:
        """None when the engine can run here, else why not (a missing package...)."""
        return None

    @abstractmethod
    def serves(self, ref: ModelRef, device: str) -> str | None:
        """None when this engine can run the model ``ref`` on ``device``, else why not."""

    @abstractmethod
    def load(self, spec: str) -> LoadedModel:
        """The model ``spec`` ready for :meth:`run` (its tokenizer renders the prompts)."""

    @abstractmethod
    def run(
        self,
        loaded: LoadedModel,
        rendered: list[str],
        params: GenerationParams,
        progress: _progress.ProgressOption,
        on_text: TextCallback | None,
    ) -> Outputs:
        """Generate a completion for each rendered prompt (streaming to ``on_text`` if given)."""

    @abstractmethod
    def score(self, loaded: LoadedModel, texts: list[str]) -> list[tuple[float, int]]:
        """The summed log-probability of each text's tokens after the first, and their count
        (perplexity = exp(-sum / count)), computed by this engine."""

    def release(self, loaded: LoadedModel) -> None:
        """Forget ``loaded`` in this engine's cache of loaded models, so its memory and compute
        threads go once nobody else holds it (a server unloading an old version). The next
        :meth:`load` of the same spec loads it again. An engine that caches nothing keeps
        nothing to forget."""
        return None


class TorchEngine(Engine):
    """``transformers.generate`` on the loaded model: exact, any device, the reference."""

    name = "torch"
    compute_type = "float32"
    description = "transformers.generate on the float32 model (exact; CUDA when present)"

    def serves(self, ref: ModelRef, device: str) -> str | None:
        return None

    def load(self, spec: str) -> LoadedModel:
        from llmops_magics.models._load import load

        return load(spec)

    def run(
        self,
        loaded: LoadedModel,
        rendered: list[str],
        params: GenerationParams,
        progress: _progress.ProgressOption,
        on_text: TextCallback | None,
    ) -> Outputs:
        from llmops_magics.models._generate import run_torch

        return run_torch(loaded, rendered, params, progress, on_text)

    def score(self, loaded: LoadedModel, texts: list[str]) -> list[tuple[float, int]]:
        import torch

        tok, model = loaded.tokenizer, loaded.model
        ids = [tok(text)["input_ids"] for text in texts]
        scores = []
        with torch.inference_mode():  # 16 texts a forward, right-padded (masked, never seen)
            for start in range(0, len(ids), 16):
                chunk = ids[start : start + 16]
                width = max(len(x) for x in chunk)
                batch = torch.zeros((len(chunk), width), dtype=torch.long)
                mask = torch.zeros_like(batch)
                for row, x in enumerate(chunk):
                    batch[row, : len(x)], mask[row, : len(x)] = torch.tensor(x), 1
                out = model(batch.to(model.device), attention_mask=mask.to(model.device))
                for row, x in enumerate(chunk):
                    logp = torch.log_softmax(out.logits[row, : len(x) - 1].float(), dim=-1)
                    picked = logp.gather(1, batch[row, 1 : len(x), None].to(model.device))
                    scores.append((float(picked.sum()), len(x) - 1))
        return scores


_ENGINES: Registry[Engine] = Registry("generation engine")


def register_engine(engine: Engine, *, replace: bool = False) -> Engine:
    """Add a generation engine under its ``name``."""
    return _ENGINES.register(engine.name, engine, replace=replace)


def _add_builtin() -> None:
    if "torch" not in _ENGINES:
        from llmops_magics.models._ctranslate2 import CTranslate2Engine
        from llmops_magics.models._ortgenai import OrtGenAIEngine

        register_engine(TorchEngine())
        register_engine(OrtGenAIEngine("onnxruntime-genai", "int8"))
        register_engine(OrtGenAIEngine("onnxruntime-genai-int4", "int4"))
        register_engine(OrtGenAIEngine("onnxruntime-genai-fp32", "fp32"))
        register_engine(CTranslate2Engine("ctranslate2", "int8"))
        register_engine(CTranslate2Engine("ctranslate2-float32", "float32"))


def engine_names() -> list[str]:
    """``auto`` and the registered engines' names."""
    _add_builtin()
    return [AUTO, *_ENGINES.names()]


def get_engine(name: str) -> Engine:
    """The registered engine ``name`` (an error lists the known names)."""
    _add_builtin()
    return _ENGINES.get(name)


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _guarded_base(ref: ModelRef) -> str | None:
    """The embedded base model's name when ``ref`` is it or an adapter on it."""
    base = resolve(ref.base) if ref.base is not None else ref
    return base.spec if base.kind == "embedded" else None


def choose_engine(requested: str, model: str | ModelRef) -> EngineChoice:
    """The engine that runs ``model`` for ``--engine requested`` (``auto``, ``torch``, ``NAME``).

    ``auto`` takes the first fast engine that passed the quality guard for the model's base
    (:data:`QUALITY_GUARDED`) and is installed and serves the model here (a CPU); otherwise
    torch. A named engine that cannot serve the model is an error that says why.
    """
    _add_builtin()
    ref = model if isinstance(model, ModelRef) else resolve(model)
    device = _device()
    if requested == AUTO:
        guarded = QUALITY_GUARDED.get(_guarded_base(ref) or "", ())
        if not guarded:
            return EngineChoice(get_engine("torch"), "no fast engine passed the guard here")
        skipped: list[str] = []
        for fast in guarded:
            engine = get_engine(fast)
            why_not = engine.available() or engine.serves(ref, device)
            if not why_not:
                reason = "passed the quality guard on this base model"
                return EngineChoice(engine, "; ".join([reason, *skipped]))
            skipped.append(f"{fast}: {why_not}")
        return EngineChoice(get_engine("torch"), "; ".join(skipped))
    engine = get_engine(requested)
    why_not = engine.available() or engine.serves(ref, device)
    if why_not:
        raise GenerationError(
            f"The engine {requested!r} cannot run {ref.spec!r}: {why_not}",
            hint="Use --engine auto (or torch, which runs every model).",
        )
    return EngineChoice(engine, "asked for")


def resolved_engine(requested: str, model: str) -> str:
    """The label (``name (compute type)``) of the engine that ``--engine requested`` runs
    ``model`` on, as runs record it; ``remote`` for a model behind an OpenAI-compatible
    endpoint (it generates there). Prompt caches key on it and runs log it instead of ``auto``."""
    from llmops_magics.models._openai import is_remote

    if is_remote(model):
        return "remote"
    return choose_engine(requested, model).label


def engine_params(requested: str, model: str) -> dict[str, str]:
    """The run parameters ``engine`` (its name, which ``--engine`` takes back) and
    ``compute_type`` of the engine that ``--engine requested`` runs ``model`` on; none for a
    model behind an OpenAI-compatible endpoint."""
    from llmops_magics.models._openai import is_remote

    return {} if is_remote(model) else describe(choose_engine(requested, model))


def describe(choice: EngineChoice) -> dict[str, Any]:
    """The lineage of an engine choice: what runs record as parameters."""
    return {"engine": choice.engine.name, "compute_type": choice.engine.compute_type}
