"""The CTranslate2 engine: a converted copy of the model's weights, run by a C++ decoder.

The conversion runs offline, once per model content (and per adapter version: a LoRA adapter is
merged into its base, then converted), and is cached under ``cache_root()/engines`` by content
hash, as the embedded model is (``_conversion.py``). CTranslate2 installs from a prebuilt wheel.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress
from llmops_magics.errors import GenerationError
from llmops_magics.models._conversion import (
    cached_conversion,
    cpu_reason,
    engine_tokenizer,
)
from llmops_magics.models._engines import Engine, Outputs, TextCallback, cut_at_stop
from llmops_magics.models._sources import ModelRef, cache_root, resolve

if TYPE_CHECKING:
    from llmops_magics.models._generate import GenerationParams
    from llmops_magics.models._load import LoadedModel

__all__ = ["CTranslate2Engine", "converted_dir"]

#: Hugging Face architectures (``model_type``) that CTranslate2's converter takes and we check
SUPPORTED = ("llama", "mistral", "qwen2")
_MAX_LOADED = 3
_LOADED: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()


@dataclass
class CT2Model:
    """A CTranslate2 generator with what :func:`~llmops_magics.models.eos_ids` reads."""

    generator: Any
    generation_config: Any
    path: Path
    compute_type: str
    device: str = "cpu"
    #: the base's Hugging Face config (its context length bounds the prompts)
    config: Any = None

    def seeded(self, seed: int) -> Any:
        """A generator whose sampling starts from ``seed``.

        CTranslate2 seeds a worker thread's random generator when the thread first samples, from
        the global seed; the threads of a generator in use keep theirs. A fresh generator (about
        0.1 s for a small model) makes sampling with the same seed give the same text.
        """
        import ctranslate2

        ctranslate2.set_random_seed(seed)
        return _generator(self.path, self.compute_type)


def converted_dir(ref: ModelRef, quantization: str) -> Path:
    """The CTranslate2 copy of ``ref`` in ``quantization`` (converted once, then cached).

    The key is the content hash of the weights and the CTranslate2 version, so a re-saved
    adapter or base is converted again and an identical copy elsewhere is not (see
    :func:`~llmops_magics.models._conversion.cached_conversion`).
    """
    import ctranslate2

    root = cache_root() / "engines" / f"ctranslate2-{ctranslate2.__version__}"
    convert = functools.partial(_convert, quantization=quantization)
    return cached_conversion(ref, root, quantization, "model.bin", convert, "CTranslate2")


def _convert(source: Path, out: Path, quantization: str) -> None:
    import ctranslate2

    from llmops_magics.models._load import without_hf_bars

    with without_hf_bars():
        converter = ctranslate2.converters.TransformersConverter(
            str(source), low_cpu_mem_usage=True
        )
        converter.convert(str(out), quantization=quantization, force=True)


def _threads() -> int:
    return int(os.environ.get("LLMOPS_ENGINE_THREADS") or os.cpu_count() or 1)


def _generator(path: Path, compute_type: str) -> Any:
    import ctranslate2

    return ctranslate2.Generator(
        str(path), device="cpu", compute_type=compute_type, intra_threads=_threads()
    )


class CTranslate2Engine(Engine):
    """CTranslate2 on the CPU, on a converted copy of the weights (int8 or float32)."""

    def __init__(self, name: str, compute_type: str) -> None:
        self.name = name
        self.compute_type = compute_type
        self.description = f"CTranslate2 {compute_type} on the CPU (converted once, cached)"

    def available(self) -> str | None:
        if importlib.util.find_spec("ctranslate2") is None:
            return "the package 'ctranslate2' is not installed (pip install ctranslate2)"
        return None

    def serves(self, ref: ModelRef, device: str) -> str | None:
        return cpu_reason(ref, device, SUPPORTED)

    def load(self, spec: str) -> LoadedModel:
        from transformers import GenerationConfig

        from llmops_magics.models._load import LoadedModel

        ref = resolve(spec)
        path = converted_dir(ref, self.compute_type)
        key = (str(path), self.compute_type)
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
        start = time.perf_counter()
        base = resolve(ref.base) if ref.base is not None else ref
        generator = _generator(path, self.compute_type)
        gen_config = GenerationConfig.from_pretrained(base.path, local_files_only=True)
        from transformers import AutoConfig

        hf_config = AutoConfig.from_pretrained(base.path, local_files_only=True)
        model = CT2Model(generator, gen_config, path, self.compute_type, config=hf_config)
        tokenizer = engine_tokenizer(str(base.path), base.stamp)
        loaded = LoadedModel(ref, model, tokenizer, time.perf_counter() - start)
        _LOADED[key] = loaded
        while len(_LOADED) > _MAX_LOADED:
            _LOADED.popitem(last=False)
        return loaded

    def release(self, loaded: LoadedModel) -> None:
        for key in [k for k, v in _LOADED.items() if v is loaded]:
            del _LOADED[key]

    def run(
        self,
        loaded: LoadedModel,
        rendered: list[str],
        params: GenerationParams,
        progress: _progress.ProgressOption,
        on_text: TextCallback | None,
    ) -> Outputs:
        from llmops_magics.models._context import check_context
        from llmops_magics.models._generate import _add_special, eos_ids

        tok = loaded.tokenizer
        ids = tok(rendered, add_special_tokens=_add_special(loaded, params))["input_ids"]
        tokens = [tok.convert_ids_to_tokens(x) for x in ids]
        eos = eos_ids(loaded)
        out = Outputs.empty(len(rendered))
        out.prompt_tokens = [len(x) for x in ids]
        check_context(loaded.model, out.prompt_tokens, loaded.ref.spec)
        options = _options(params, eos)
        started = time.perf_counter()
        model = loaded.model
        generator = model.seeded(params.seed) if params.temperature > 0 else model.generator
        if on_text is not None:
            for i in range(len(rendered)):
                _stream_one(generator, loaded, tokens[i], options, params, out, i, on_text)
        else:
            _batches(generator, loaded, tokens, options, params, out, progress)
        out.total = time.perf_counter() - started
        return out

    def score(self, loaded: LoadedModel, texts: list[str]) -> list[tuple[float, int]]:
        tok = loaded.tokenizer
        tokens = [tok.convert_ids_to_tokens(tok(t)["input_ids"]) for t in texts]
        results = loaded.model.generator.score_batch(tokens, max_batch_size=16)
        return [(float(sum(r.log_probs)), len(r.log_probs)) for r in results]


def _options(params: GenerationParams, eos: set[int]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "max_length": params.max_new_tokens,
        "end_token": sorted(eos),
        "include_prompt_in_result": False,
    }
    if params.temperature > 0:  # topk 0: sample from the whole distribution, then top-p
        options.update(
            sampling_topk=0, sampling_topp=params.top_p, sampling_temperature=params.temperature
        )
    else:
        options.update(sampling_topk=1)
    return options


def _batches(
    generator: Any,
    loaded: LoadedModel,
    tokens: list[list[str]],
    options: dict[str, Any],
    params: GenerationParams,
    out: Outputs,
    progress: _progress.ProgressOption,
) -> None:
    from llmops_magics.models._generate import eos_ids

    # Similar lengths share a batch (little padding); longest first, as the torch engine does.
    order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
    size = params.batch_size
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    eos = eos_ids(loaded)
    view = _progress.channel("generate", progress if len(batches) > 1 else progress or False)
    view.start(len(batches), f"generate ({loaded.ref.spec})")
    for done, batch in enumerate(batches, 1):
        t0_ns, t0 = time.time_ns(), time.perf_counter()
        watch = _StopWatch(loaded, params.stop) if params.stop else None
        try:
            results = generator.generate_batch(
                [tokens[i] for i in batch], callback=watch, **options
            )
        except RuntimeError as exc:
            view.finish("failed", str(exc))
            raise GenerationError(
                f"Generation failed on a batch of {len(batch)}: {exc}",
                hint="Try a smaller batch size (--batch-size) or --engine torch.",
            ) from exc
        elapsed, t1_ns = time.perf_counter() - t0, time.time_ns()
        for row, i in enumerate(batch):
            ids = list(results[row].sequences_ids[0])
            if watch is not None and row in watch.stopped:
                ids = watch.ids[row]
            out.put(i, loaded, ids, eos, params.stop)
            out.latency[i] = elapsed
            out.spans[i] = (t0_ns, t1_ns)
        view.update({"step": done})
    view.finish("finished", f"{len(tokens)} outputs")


class _StopWatch:
    """A step callback that ends a sequence once its text holds a stop string; it keeps the ids
    of the sequences it ended (CTranslate2's result leaves out the step that said stop)."""

    def __init__(self, loaded: LoadedModel, stop: list[str]) -> None:
        self.tokenizer, self.stop = loaded.tokenizer, stop
        self.ids: dict[int, list[int]] = {}
        self.stopped: set[int] = set()

    def __call__(self, step: Any) -> bool:
        ids = self.ids.setdefault(step.batch_id, [])
        ids.append(step.token_id)
        if cut_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), self.stop)[1]:
            self.stopped.add(step.batch_id)
            return True
        return False


def _stream_one(
    generator: Any,
    loaded: LoadedModel,
    tokens: list[str],
    options: dict[str, Any],
    params: GenerationParams,
    out: Outputs,
    i: int,
    on_text: TextCallback,
) -> None:
    from llmops_magics.models._generate import eos_ids

    t0_ns, t0 = time.time_ns(), time.perf_counter()
    tok, ids = loaded.tokenizer, []
    opts = {k: v for k, v in options.items() if k != "include_prompt_in_result"}
    steps = generator.generate_tokens(tokens, **opts)
    try:
        for step in steps:
            ids.append(step.token_id)
            text, stopped = cut_at_stop(tok.decode(ids, skip_special_tokens=True), params.stop)
            on_text(i, text.strip())
            if stopped:
                break
    finally:
        close = getattr(steps, "close", None)
        if close is not None:
            close()
    out.put(i, loaded, ids, eos_ids(loaded), params.stop)
    out.latency[i] = time.perf_counter() - t0
    out.spans[i] = (t0_ns, time.time_ns())
    on_text(i, out.texts[i])
