"""Batched text generation, traced in MLflow."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import progress as _progress
from llmops_magics.config import Config, ConfigError, option
from llmops_magics.errors import DataError, GenerationError
from llmops_magics.models._context import check_context
from llmops_magics.models._engines import (
    AUTO,
    ENGINE_TAG,
    EngineChoice,
    Outputs,
    TextCallback,
    choose_engine,
    cut_at_stop,
    describe,
    engine_names,
)
from llmops_magics.models._load import LoadedModel
from llmops_magics.models._openai import generate_remote, is_remote
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GenerationParams",
    "GenerationParamsError",
    "GenerationResult",
    "check_prompts",
    "eos_ids",
    "generate",
    "render_prompt",
    "trace_generations",
]


class GenerationParamsError(GenerationError, ConfigError):
    """A decoding setting out of range (``field`` names it)."""


@dataclass(frozen=True)
class GenerationParams(Config):
    """Decoding settings, validated on creation; every generating stage takes them whole."""

    max_new_tokens: int = option(64, help="tokens to generate at most", minimum=1, maximum=8192)
    temperature: float = option(
        0.0, help="0 = greedy (default); > 0 samples", minimum=0.0, maximum=10.0
    )
    top_p: float = option(
        1.0,
        help="nucleus sampling mass, in (0, 1]",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
    )
    seed: int = option(0, help="random seed for sampling", minimum=0)
    batch_size: int = option(8, help="prompts per forward pass", minimum=1, maximum=1024)
    system: str | None = option(None, help="system message for chat models")
    chat: bool | None = option(
        None, help="apply the chat template (default: when the model has one)"
    )
    stop: list[str] = option(
        default_factory=list,
        help="end a completion where this text appears (repeatable; the text is cut before it)",
        repeat=True,
    )
    engine: str = option(
        AUTO,
        help="auto (the fast CPU engine where it passed the quality guard, else torch), torch "
        "(exact float32), onnxruntime-genai (int8), onnxruntime-genai-fp32, ctranslate2-float32 "
        "or ctranslate2 (int8)",
    )

    error_class = GenerationParamsError

    def check(self) -> None:
        known = engine_names()
        if self.engine not in known:
            raise GenerationParamsError(
                "engine", f"engine={self.engine!r} is not one of {', '.join(known)}."
            )
        if any(not s for s in self.stop):
            raise GenerationParamsError("stop", "stop strings must not be empty.")


@dataclass
class GenerationResult(Result):
    """Texts generated for a list of prompts, with token counts, latency and tracking ids."""

    model: str
    prompts: list[str]
    texts: list[str]
    prompt_tokens: list[int]
    completion_tokens: list[int]
    latency_s: list[float]
    finish_reasons: list[str]
    params: dict[str, Any]
    total_s: float
    run_id: str | None = None
    trace_ids: list[str] = field(default_factory=list)
    tracking_uri: str | None = None
    #: the engine that ran, with its compute type: ``torch (float32)``, ``ctranslate2 (int8)``
    engine: str = ""

    _title = "generate"

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second of wall time, over the whole call."""
        return sum(self.completion_tokens) / self.total_s if self.total_s > 0 else 0.0

    def to_frame(self) -> pd.DataFrame:
        """One row per prompt."""
        import pandas as pd

        return pd.DataFrame(
            {
                "prompt": self.prompts,
                "output": self.texts,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "latency_s": [round(x, 3) for x in self.latency_s],
                "finish_reason": self.finish_reasons,
                "trace_id": list(self.trace_ids) or [""] * len(self.texts),
            }
        )

    def _summary(self) -> str:
        where = f" · run {self.run_id} in {self.tracking_uri}" if self.run_id else " · not tracked"
        return (
            f"{self.model}: {len(self)} outputs, {sum(self.completion_tokens)} tokens in "
            f"{self.total_s:.2f}s ({self.tokens_per_s:.1f} tokens/s){where}"
        )

    def _display_frame(self) -> pd.DataFrame:
        return self.to_frame().drop(columns=["trace_id"])

    def __repr__(self) -> str:
        lines = [self._summary()]
        for i, (p, t) in enumerate(zip(self.prompts, self.texts, strict=True)):
            if i == 5:
                lines.append(f"... {len(self) - 5} more (see .to_frame())")
                break
            lines.append(f"[{i}] {_clip(p)!r} -> {_clip(t)!r}")
        return "\n".join(lines)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def check_prompts(prompts: str | Iterable[Any]) -> list[str]:
    """Validate prompts: a non-empty list of non-blank strings (rows are named on failure)."""
    if isinstance(prompts, str):
        prompts = [prompts]
    items = list(prompts)
    if not items:
        raise DataError("No prompts to generate from.", hint="Give at least one prompt.")
    bad_type = [i for i, p in enumerate(items) if not isinstance(p, str)]
    if bad_type:
        kinds = sorted({type(items[i]).__name__ for i in bad_type})
        raise DataError(
            f"{len(bad_type)} prompt(s) are not text ({', '.join(kinds)}), at rows "
            f"{bad_type[:10]}.",
            rows=bad_type,
            hint="Drop or convert them first, e.g. df[col].dropna().astype(str).",
        )
    blank = [i for i, p in enumerate(items) if not p.strip()]
    if blank:
        raise DataError(
            f"{len(blank)} prompt(s) are empty or whitespace, at rows {blank[:10]}.",
            rows=blank,
            hint="Remove empty prompts before generating.",
        )
    return items


def render_prompt(loaded: LoadedModel, prompt: str, params: GenerationParams) -> str:
    """The text the model sees for ``prompt``: the chat template applied when ``params`` say so
    (by default when the model has one), with the system message first."""
    use_chat = loaded.is_chat if params.chat is None else params.chat
    if not use_chat:
        return prompt
    if not loaded.is_chat:
        raise GenerationError(
            f"The model {loaded.ref.spec!r} has no chat template.",
            hint="Generate without chat=True (--no-chat) or use a chat model.",
        )
    messages = [{"role": "user", "content": prompt}]
    if params.system:
        messages.insert(0, {"role": "system", "content": params.system})
    return str(
        loaded.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    )


def eos_ids(loaded: LoadedModel) -> set[int]:
    """The token ids that end a generation (the model's and the tokenizer's end tokens)."""
    ids: set[int] = set()
    configured = getattr(loaded.model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    if loaded.tokenizer.eos_token_id is not None:
        ids.add(loaded.tokenizer.eos_token_id)
    return ids


def generate(
    prompts: str | Sequence[str],
    model: str = "smollm2",
    params: GenerationParams | None = None,
    *,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    system: str | None = None,
    chat: bool | None = None,
    track: bool = True,
    progress: _progress.ProgressOption = None,
    on_text: TextCallback | None = None,
    stop: Sequence[str] | None = None,
    engine: str | None = None,
) -> GenerationResult:
    """Generate a completion for each prompt, in batches, and trace every call in MLflow.

    Parameters
    ----------
    prompts
        One prompt or a sequence of prompts.
    model
        A model spec (see :func:`llmops_magics.models.resolve`).
    params
        Decoding settings (:class:`GenerationParams`); the keyword settings below override
        single fields of it.
    max_new_tokens, temperature, top_p, seed, batch_size, system, chat, stop, engine
        Single decoding settings (None: from ``params`` or the default). ``engine`` is
        ``auto``, ``torch`` or a fast engine's name (see ``docs/engines.md``); the result's
        ``engine`` says which one ran.
    track
        Log an MLflow run in the workspace, with one trace per prompt.
    progress
        Show progress: None = when there is more than one batch; False = never.
    on_text
        Stream: called with ``(index, text so far)`` as tokens arrive. Prompts then run one at
        a time (a streamer follows a single sequence).
    stop
        Stop strings: a completion ends where one appears (the text is cut before it).

    Returns
    -------
    GenerationResult
        Texts in the order of ``prompts``, with token counts, latency and the run id.
    """
    items = check_prompts(prompts)
    overrides = {
        k: v
        for k, v in {
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "seed": seed,
            "batch_size": batch_size,
            "system": system,
            "chat": chat,
            "stop": None if stop is None else list(stop),
            "engine": engine,
        }.items()
        if v is not None
    }
    params = (params or GenerationParams()).replace(**overrides)
    if is_remote(model):  # a model behind an OpenAI-compatible endpoint
        return generate_remote(items, model, params, track=track, on_text=on_text)
    choice = choose_engine(params.engine, model)
    loaded = choice.engine.load(model)
    rendered = [render_prompt(loaded, p, params) for p in items]
    out = choice.engine.run(loaded, rendered, params, progress, on_text)
    result = GenerationResult(
        model=model,
        prompts=items,
        texts=out.texts,
        prompt_tokens=out.prompt_tokens,
        completion_tokens=out.completion_tokens,
        latency_s=out.latency,
        finish_reasons=out.reasons,
        params=params.to_dict(),
        total_s=out.total,
        engine=choice.label,
    )
    if track:
        _track(result, loaded, out.spans, choice)
    return result


def _decoding_options(params: GenerationParams) -> dict[str, Any]:
    options: dict[str, Any] = {"max_new_tokens": params.max_new_tokens}
    if params.temperature > 0:
        options.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
    else:  # the model's generation config may carry sampling defaults; greedy ignores them
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return options


def _add_special(loaded: LoadedModel, params: GenerationParams) -> bool:
    return not (loaded.is_chat if params.chat is None else params.chat)


def run_torch(
    loaded: LoadedModel,
    rendered: list[str],
    params: GenerationParams,
    progress: _progress.ProgressOption,
    on_text: TextCallback | None,
) -> Outputs:
    """The torch engine: ``transformers.generate`` in batches, or one prompt at a time when
    streaming to ``on_text``."""
    if on_text is not None:
        return _run_streaming(loaded, rendered, params, on_text)
    return _run_batches(loaded, rendered, params, progress)


def _stop_options(loaded: LoadedModel, params: GenerationParams) -> dict[str, Any]:
    # transformers stops a sequence once its text holds a stop string (it needs the tokenizer)
    return {"stop_strings": list(params.stop), "tokenizer": loaded.tokenizer} if params.stop else {}


def _run_batches(
    loaded: LoadedModel,
    rendered: list[str],
    params: GenerationParams,
    progress: _progress.ProgressOption,
) -> Outputs:
    import torch

    tok, model = loaded.tokenizer, loaded.model
    add_special = _add_special(loaded, params)
    lengths = [len(ids) for ids in tok(rendered, add_special_tokens=add_special)["input_ids"]]
    check_context(model, lengths, loaded.ref.spec)
    # Similar lengths share a batch, so little compute goes to padding; longest first so a
    # memory problem shows at once.
    order = sorted(range(len(rendered)), key=lambda i: -lengths[i])
    batches = [order[i : i + params.batch_size] for i in range(0, len(order), params.batch_size)]
    out = Outputs.empty(len(rendered))
    out.prompt_tokens = lengths
    eos, options = eos_ids(loaded), _decoding_options(params)
    torch.manual_seed(params.seed)
    view = _progress.channel("generate", progress if len(batches) > 1 else progress or False)
    view.start(len(batches), f"generate ({loaded.ref.spec})")
    started = time.perf_counter()
    with torch.inference_mode():
        for done, batch in enumerate(batches, 1):
            t0_ns, t0 = time.time_ns(), time.perf_counter()
            enc = tok(
                [rendered[i] for i in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=add_special,
            ).to(model.device)
            try:
                generated = model.generate(
                    **enc, pad_token_id=tok.pad_token_id, **options, **_stop_options(loaded, params)
                )
            except RuntimeError as exc:
                view.finish("failed", str(exc))
                raise GenerationError(
                    f"Generation failed on a batch of {len(batch)}: {exc}",
                    hint="Try a smaller batch size (--batch-size) or fewer --max-new-tokens.",
                ) from exc
            elapsed, t1_ns = time.perf_counter() - t0, time.time_ns()
            new = generated[:, enc["input_ids"].shape[1] :].tolist()
            for row, i in enumerate(batch):
                out.put(i, loaded, new[row], eos, params.stop)
                out.latency[i] = elapsed
                out.spans[i] = (t0_ns, t1_ns)
            view.update({"step": done})
    out.total = time.perf_counter() - started
    view.finish("finished", f"{len(rendered)} outputs")
    return out


def _run_streaming(
    loaded: LoadedModel, rendered: list[str], params: GenerationParams, on_text: TextCallback
) -> Outputs:
    out = Outputs.empty(len(rendered))
    eos = eos_ids(loaded)
    started = time.perf_counter()
    for i, text in enumerate(rendered):
        t0_ns, t0 = time.time_ns(), time.perf_counter()
        prompt_len, ids = _stream_one(loaded, text, params, functools.partial(on_text, i))
        out.prompt_tokens[i] = prompt_len
        out.put(i, loaded, ids, eos, params.stop)
        out.latency[i] = time.perf_counter() - t0
        out.spans[i] = (t0_ns, time.time_ns())
        on_text(i, out.texts[i])
    out.total = time.perf_counter() - started
    return out


def _stream_one(
    loaded: LoadedModel, rendered: str, params: GenerationParams, on_text: Callable[[str], None]
) -> tuple[int, list[int]]:
    """Generate one completion on a worker thread, passing the text so far to ``on_text``;
    return the prompt's length and the new token ids."""
    import threading

    import torch
    from transformers import TextIteratorStreamer

    tok, model = loaded.tokenizer, loaded.model
    enc = tok([rendered], return_tensors="pt", add_special_tokens=_add_special(loaded, params)).to(
        model.device
    )
    check_context(model, [int(enc["input_ids"].shape[1])], loaded.ref.spec)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            torch.manual_seed(params.seed)
            with torch.inference_mode():
                box["out"] = model.generate(
                    **enc,
                    pad_token_id=tok.pad_token_id,
                    streamer=streamer,
                    **_decoding_options(params),
                    **_stop_options(loaded, params),
                )
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
            streamer.end()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    so_far = ""
    for piece in streamer:
        so_far += piece
        on_text(cut_at_stop(so_far, params.stop)[0].strip())
    thread.join()
    if "error" in box:
        raise GenerationError(f"Generation failed: {box['error']}") from box["error"]
    length = int(enc["input_ids"].shape[1])
    return length, box["out"][0, length:].tolist()


_FLUSH_EVERY = 200


def trace_generations(
    tracker: Any,
    result: GenerationResult,
    spans: list[tuple[int, int]],
    run_id: str,
    attributes: dict[str, Any],
) -> None:
    """One MLflow trace per prompt of ``result`` in the run ``run_id`` (its id is appended to
    ``result.trace_ids``); ``spans`` holds each prompt's start and end times (ns)."""
    from llmops_magics import tracking

    traces = tracker.traces
    for i, (prompt, text) in enumerate(zip(result.prompts, result.texts, strict=True)):
        span = traces.span(
            "generate",
            inputs={"prompt": prompt},
            attributes=attributes,
            tags={tracking.MODEL: result.model, tracking.RUN_ID: run_id},
            start_time_ns=spans[i][0],
            run_id=run_id,
        )
        span.end(
            outputs={"text": text},
            attributes={
                "prompt_tokens": result.prompt_tokens[i],
                "completion_tokens": result.completion_tokens[i],
                "finish_reason": result.finish_reasons[i],
            },
            end_time_ns=spans[i][1],
        )
        result.trace_ids.append(span.trace_id)
        if (i + 1) % _FLUSH_EVERY == 0:
            # MLflow's export queue holds 1000 tasks (two per trace) and silently drops traces
            # past that; drain it well before.
            traces.flush()


def _track(
    result: GenerationResult,
    loaded: LoadedModel,
    spans: list[tuple[int, int]],
    choice: EngineChoice,
) -> None:
    from llmops_magics import tracking

    tracker = tracking.tracker()
    spec = result.model
    params = {"model": spec, "model_path": str(loaded.ref.path), "n_prompts": len(result)}
    run_tags = {
        tracking.MODEL: spec,
        tracking.MODEL_KIND: loaded.ref.kind,
        ENGINE_TAG: result.engine,
    }
    with tracker.start_run("generate", name=f"generate {spec}", tags=run_tags) as run:
        # the engine that ran (not "auto") and its compute type are the run's lineage
        run.log_params(params | result.params | describe(choice))
        run.log_metrics(
            {
                "total_s": result.total_s,
                "tokens_per_s": result.tokens_per_s,
                "completion_tokens": float(sum(result.completion_tokens)),
                "mean_latency_s": sum(result.latency_s) / len(result),
            }
        )
        attributes = {"model": spec} | result.params | describe(choice)
        trace_generations(tracker, result, spans, run.id, attributes)
        run.log_dict({"rows": result.to_frame().to_dict(orient="records")}, "generations.json")
    # Traces are exported asynchronously; flush so feedback can be attached at once.
    tracker.traces.flush()
    result.run_id = run.id
    result.tracking_uri = tracker.uri
