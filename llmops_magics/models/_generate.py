"""Batched text generation, traced in MLflow."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import DataError, GenerationError
from llmops_magics.models._load import LoadedModel, load
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GenerationParams", "GenerationResult", "generate"]


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings, validated on creation."""

    max_new_tokens: int = field(default=64, metadata={"help": "tokens to generate at most"})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy; > 0 samples"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass, in (0, 1]"})
    seed: int = field(default=0, metadata={"help": "random seed for sampling"})
    batch_size: int = field(default=8, metadata={"help": "prompts per forward pass"})
    system: str | None = field(default=None, metadata={"help": "system message for chat models"})
    chat: bool | None = field(
        default=None, metadata={"help": "apply the chat template (default: if the model has one)"}
    )

    def __post_init__(self) -> None:
        checks = [
            ("max_new_tokens", 1 <= self.max_new_tokens <= 8192, "an integer from 1 to 8192"),
            ("temperature", 0.0 <= self.temperature <= 10.0, "between 0 (greedy) and 10"),
            ("top_p", 0.0 < self.top_p <= 1.0, "in (0, 1]"),
            ("batch_size", 1 <= self.batch_size <= 1024, "an integer from 1 to 1024"),
            ("seed", self.seed >= 0, "a non-negative integer"),
        ]
        for name, ok, expected in checks:
            if not ok:  # NaN fails every comparison, so it lands here too
                raise GenerationError(
                    f"{name}={getattr(self, name)!r} is out of range: it must be {expected}."
                )

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (for logging as run parameters)."""
        return asdict(self)


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


def _render(loaded: LoadedModel, prompt: str, params: GenerationParams) -> str:
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


def _eos_ids(loaded: LoadedModel) -> set[int]:
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
    *,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 8,
    system: str | None = None,
    chat: bool | None = None,
    track: bool = True,
    progress: bool | None = None,
) -> GenerationResult:
    """Generate a completion for each prompt, in batches, and trace every call in MLflow.

    Parameters
    ----------
    prompts
        One prompt or a sequence of prompts.
    model
        A model spec (see :func:`llmops_magics.models.resolve`).
    max_new_tokens, temperature, top_p, seed, batch_size, system, chat
        Decoding settings (:class:`GenerationParams`).
    track
        Log an MLflow run in the workspace, with one trace per prompt.
    progress
        Show a progress bar; by default when there is more than one batch.

    Returns
    -------
    GenerationResult
        Texts in the order of ``prompts``, with token counts, latency and the run id.
    """
    items = check_prompts(prompts)
    params = GenerationParams(max_new_tokens, temperature, top_p, seed, batch_size, system, chat)
    loaded = load(model)
    rendered = [_render(loaded, p, params) for p in items]
    texts, prompt_tokens, completion_tokens, latency, reasons, spans, total = _run_batches(
        loaded, rendered, params, progress
    )
    result = GenerationResult(
        model=model,
        prompts=items,
        texts=texts,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_s=latency,
        finish_reasons=reasons,
        params=params.to_dict(),
        total_s=total,
    )
    if track:
        _track(result, loaded, spans)
    return result


def _run_batches(
    loaded: LoadedModel,
    rendered: list[str],
    params: GenerationParams,
    progress: bool | None,
) -> tuple[list[str], list[int], list[int], list[float], list[str], list[tuple[int, int]], float]:
    import torch
    from tqdm.auto import tqdm

    tok, model = loaded.tokenizer, loaded.model
    add_special = not (loaded.is_chat if params.chat is None else params.chat)
    lengths = [len(ids) for ids in tok(rendered, add_special_tokens=add_special)["input_ids"]]
    # Similar lengths share a batch, so little compute goes to padding; longest first so a
    # memory problem shows at once.
    order = sorted(range(len(rendered)), key=lambda i: -lengths[i])
    batches = [order[i : i + params.batch_size] for i in range(0, len(order), params.batch_size)]
    n = len(rendered)
    texts, reasons = [""] * n, [""] * n
    completion, latency = [0] * n, [0.0] * n
    spans = [(0, 0)] * n
    eos = _eos_ids(loaded)
    sampling = params.temperature > 0
    options: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "do_sample": sampling}
    if sampling:
        options.update(temperature=params.temperature, top_p=params.top_p)
    else:  # the model's generation config may carry sampling defaults; greedy ignores them
        options.update(temperature=None, top_p=None, top_k=None)
    torch.manual_seed(params.seed)
    show = len(batches) > 1 if progress is None else progress
    started = time.perf_counter()
    with torch.inference_mode():
        for batch in tqdm(batches, desc=f"generate ({loaded.ref.spec})", disable=not show):
            t0_ns, t0 = time.time_ns(), time.perf_counter()
            enc = tok(
                [rendered[i] for i in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=add_special,
            ).to(model.device)
            try:
                out = model.generate(**enc, pad_token_id=tok.pad_token_id, **options)
            except RuntimeError as exc:
                raise GenerationError(
                    f"Generation failed on a batch of {len(batch)}: {exc}",
                    hint="Try a smaller batch size (--batch-size) or fewer --max-new-tokens.",
                ) from exc
            elapsed, t1_ns = time.perf_counter() - t0, time.time_ns()
            new = out[:, enc["input_ids"].shape[1] :].tolist()
            for row, i in enumerate(batch):
                ids = new[row]
                stop = next((k for k, t in enumerate(ids) if t in eos), None)
                kept = ids if stop is None else ids[:stop]
                texts[i] = tok.decode(kept, skip_special_tokens=True).strip()
                completion[i] = len(kept)
                reasons[i] = "length" if stop is None else "stop"
                latency[i] = elapsed
                spans[i] = (t0_ns, t1_ns)
    total = time.perf_counter() - started
    return texts, lengths, completion, latency, reasons, spans, total


_FLUSH_EVERY = 200


def _track(result: GenerationResult, loaded: LoadedModel, spans: list[tuple[int, int]]) -> None:
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    spec = result.model
    with mlflow.start_run(experiment_id=exp_id, run_name=f"generate {spec}") as run:
        mlflow.set_tags(
            {"llmops.stage": "generate", "llmops.model": spec, "llmops.model_kind": loaded.ref.kind}
        )
        mlflow.log_params(
            {"model": spec, "model_path": str(loaded.ref.path), "n_prompts": len(result)}
            | result.params
        )
        mlflow.log_metrics(
            {
                "total_s": result.total_s,
                "tokens_per_s": result.tokens_per_s,
                "completion_tokens": float(sum(result.completion_tokens)),
                "mean_latency_s": sum(result.latency_s) / len(result),
            }
        )
        for i, (prompt, text) in enumerate(zip(result.prompts, result.texts, strict=True)):
            span = mlflow.start_span_no_context(
                "generate",
                span_type="LLM",
                inputs={"prompt": prompt},
                attributes={"model": spec} | result.params,
                tags={"llmops.model": spec, "llmops.run_id": run.info.run_id},
                experiment_id=exp_id,
                start_time_ns=spans[i][0],
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
                # MLflow's export queue holds 1000 tasks (two per trace) and silently drops
                # traces past that; drain it well before.
                mlflow.flush_trace_async_logging()
        mlflow.log_dict({"rows": result.to_frame().to_dict(orient="records")}, "generations.json")
    # Traces are exported asynchronously; flush so feedback can be attached at once.
    mlflow.flush_trace_async_logging()
    result.run_id = run.info.run_id
    result.tracking_uri = ws.tracking_uri
