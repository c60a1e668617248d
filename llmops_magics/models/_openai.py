"""``openai:NAME@BASE_URL``: a model behind any OpenAI-compatible endpoint, as a model spec.

``openai:tiny@http://127.0.0.1:8000/v1`` names the model ``tiny`` of that server (our own
``llmops serve`` included); ``openai:ENDPOINT`` names an endpoint of the workspace's
``endpoints.json`` (its base URL, model and the environment variable that holds its key, never
the key itself). :func:`models.generate` sends such a spec's prompts to the endpoint, several at a
time so a batching server can share its forward passes, and traces each call as it traces local
generation.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import GenerationError, ModelNotFoundError
from llmops_magics.models._sources import ModelRef, ModelSource

if TYPE_CHECKING:
    from llmops_magics.models._generate import GenerationParams, GenerationResult

__all__ = ["Endpoint", "OpenAISource", "endpoints_file", "generate_remote", "is_remote"]

PREFIX = "openai:"
_TIMEOUT_S = 600.0


def is_remote(spec: object) -> bool:
    """Whether ``spec`` names a model behind an OpenAI-compatible endpoint."""
    return isinstance(spec, str) and spec.strip().startswith(PREFIX)


def endpoints_file() -> Path:
    """The workspace's named endpoints: ``{"NAME": {"base_url", "model", "api_key_env"}}``."""
    from llmops_magics import workspace

    return workspace.current().root / "endpoints.json"


@dataclass(frozen=True)
class Endpoint:
    """Where a remote model answers and how to authenticate."""

    model: str
    base_url: str
    api_key_env: str | None = None

    def api_key(self) -> str:
        """The key from its environment variable (``OPENAI_API_KEY`` for an inline
        ``openai:NAME@BASE_URL``; a server without keys takes any)."""
        if self.api_key_env is None:
            return os.environ.get("OPENAI_API_KEY") or "none"
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise GenerationError(
                f"The environment variable {self.api_key_env!r} holds no API key for "
                f"{self.base_url}.",
                hint=f"Set it (export {self.api_key_env}=...) before calling the endpoint.",
            )
        return key

    def client(self) -> Any:
        """An ``openai.OpenAI`` client for the endpoint."""
        import openai

        return openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key(), timeout=_TIMEOUT_S, max_retries=1
        )


def _named(spec: str, name: str) -> Endpoint:
    path = endpoints_file()
    try:
        table = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(spec, f"cannot read {str(path)!r}: {exc}") from exc
    entry = table.get(name) if isinstance(table, dict) else None
    if not isinstance(entry, dict) or not entry.get("base_url") or not entry.get("model"):
        known = ", ".join(sorted(table)) if isinstance(table, dict) and table else "none"
        raise ModelNotFoundError(
            spec,
            f"it has no '@BASE_URL' and {str(path)!r} names no endpoint {name!r} with a "
            f"base_url and a model (named endpoints: {known}).",
        )
    return Endpoint(str(entry["model"]), str(entry["base_url"]), entry.get("api_key_env"))


def endpoint_of(spec: str) -> Endpoint:
    """Parse ``openai:NAME@BASE_URL`` or look up ``openai:ENDPOINT``."""
    body = spec.strip().removeprefix(PREFIX)
    name, sep, url = body.rpartition("@")
    if not sep:
        if not body:
            raise ModelNotFoundError(spec, "it names no model (openai:NAME@BASE_URL).")
        return _named(spec, body)
    if not name or not url.startswith(("http://", "https://")):
        raise ModelNotFoundError(
            spec, "write it as openai:NAME@BASE_URL, e.g. openai:tiny@http://127.0.0.1:8000/v1."
        )
    return Endpoint(name, url.rstrip("/"))


class OpenAISource(ModelSource):
    """Models served over an OpenAI-compatible API (resolving asks the endpoint's model list)."""

    syntax = "openai:NAME@BASE_URL or openai:ENDPOINT (endpoints.json)"

    def handles(self, spec: str) -> bool:
        return is_remote(spec)

    def resolve(self, spec: str) -> ModelRef:
        endpoint = endpoint_of(spec)
        try:
            listed = {m.id: m for m in endpoint.client().models.list()}
        except GenerationError:
            raise
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            why = (
                f"the endpoint {endpoint.base_url} refused the API key (401); set "
                f"{endpoint.api_key_env or 'OPENAI_API_KEY'}, or name the endpoint in "
                f"{str(endpoints_file())!r} with its api_key_env"
                if status == 401
                else f"the endpoint {endpoint.base_url} did not answer: {type(exc).__name__}"
            )
            raise ModelNotFoundError(spec, why + ".") from None
        if endpoint.model not in listed:
            raise ModelNotFoundError(
                spec,
                f"the endpoint {endpoint.base_url} serves no model {endpoint.model!r} (it serves "
                f"{', '.join(sorted(listed)) or 'nothing'}).",
            )
        version = str(getattr(listed[endpoint.model], "version", "") or "")
        meta = {"model": endpoint.model, "base_url": endpoint.base_url, "version": version}
        if endpoint.api_key_env:
            meta["api_key_env"] = endpoint.api_key_env
        return ModelRef(
            spec=spec,
            kind="openai",
            path=Path(),
            description=f"{endpoint.model} at {endpoint.base_url}",
            meta=meta,
            endpoint=endpoint.base_url,
        )

    def entries(self) -> list[dict[str, str]]:
        """The workspace's named endpoints."""
        try:
            table = json.loads(endpoints_file().read_text())
        except (OSError, ValueError):
            return []
        return [
            {
                "name": f"{PREFIX}{name}",
                "kind": "openai",
                "location": str(entry.get("base_url", "")),
                "status": "remote",
                "description": f"{entry.get('model', '?')} at {entry.get('base_url', '?')}",
            }
            for name, entry in sorted(table.items())
            if isinstance(entry, dict)
        ]


def remote_hash(ref: ModelRef) -> str:
    """A remote model's lineage hash: its endpoint, name and the version it reports."""
    key = f"{ref.meta.get('model')}@{ref.endpoint}|{ref.meta.get('version', '')}"
    return hashlib.sha256(key.encode()).hexdigest()


def _call(
    client: Any,
    model: str,
    prompt: str,
    params: GenerationParams,
    on_text: Callable[[str], None] | None,
) -> tuple[str, int, int, str]:
    """One prompt: (text, prompt tokens, completion tokens, finish reason)."""
    common: dict[str, Any] = {
        "model": model,
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "seed": params.seed,
    }
    if params.chat is False:
        out = client.completions.create(prompt=prompt, **common)
        choice = out.choices[0]
        return (
            choice.text.strip(),
            out.usage.prompt_tokens,
            out.usage.completion_tokens,
            (choice.finish_reason or ""),
        )
    messages = [{"role": "user", "content": prompt}]
    if params.system:
        messages.insert(0, {"role": "system", "content": params.system})
    if on_text is None:
        out = client.chat.completions.create(messages=messages, **common)
        choice = out.choices[0]
        text = (choice.message.content or "").strip()
        usage = out.usage
        return text, usage.prompt_tokens, usage.completion_tokens, choice.finish_reason or ""
    stream = client.chat.completions.create(
        messages=messages, stream=True, stream_options={"include_usage": True}, **common
    )
    so_far, reason, prompt_tokens, completion_tokens = "", "", 0, 0
    for chunk in stream:
        if chunk.choices:
            so_far += chunk.choices[0].delta.content or ""
            reason = chunk.choices[0].finish_reason or reason
            on_text(so_far.strip())
        if chunk.usage is not None:
            prompt_tokens, completion_tokens = (
                chunk.usage.prompt_tokens,
                chunk.usage.completion_tokens,
            )
    return so_far.strip(), prompt_tokens, completion_tokens, reason


def generate_remote(
    prompts: Sequence[str],
    spec: str,
    params: GenerationParams,
    *,
    track: bool,
    on_text: Callable[[int, str], None] | None = None,
) -> GenerationResult:
    """:func:`models.generate` for an ``openai:`` spec: ``batch_size`` prompts in flight at a
    time (one at a time when streaming), each call traced as local generation is."""
    from llmops_magics.models._generate import GenerationResult
    from llmops_magics.models._sources import resolve

    ref = resolve(spec)
    client = Endpoint(ref.meta["model"], str(ref.endpoint), ref.meta.get("api_key_env")).client()
    n = len(prompts)
    outs: list[tuple[str, int, int, str]] = [("", 0, 0, "")] * n
    spans: list[tuple[int, int]] = [(0, 0)] * n

    def one(i: int) -> None:
        t0 = time.time_ns()
        stream = None if on_text is None else (lambda text: on_text(i, text))
        try:
            outs[i] = _call(client, ref.meta["model"], prompts[i], params, stream)
        except GenerationError:
            raise
        except Exception as exc:
            raise GenerationError(
                f"The endpoint {ref.endpoint} failed on prompt {i}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}",
                hint="Check that the server is up and serves this model (GET /v1/models).",
            ) from exc
        spans[i] = (t0, time.time_ns())

    started = time.perf_counter()
    workers = 1 if on_text is not None else min(params.batch_size, n)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(one, i) for i in range(n)]:
            future.result()
    result = GenerationResult(
        model=spec,
        prompts=list(prompts),
        texts=[o[0] for o in outs],
        prompt_tokens=[o[1] for o in outs],
        completion_tokens=[o[2] for o in outs],
        latency_s=[(b - a) / 1e9 for a, b in spans],
        finish_reasons=[o[3] for o in outs],
        params=params.to_dict(),
        total_s=time.perf_counter() - started,
    )
    if track:
        _track(result, ref, spans)
    return result


def _track(result: GenerationResult, ref: ModelRef, spans: list[tuple[int, int]]) -> None:
    """One ``generate`` run with a trace per prompt, tagged with the remote model."""
    from llmops_magics import tracking
    from llmops_magics.models._generate import trace_generations

    tracker = tracking.tracker()
    tags = {tracking.MODEL: result.model, tracking.MODEL_KIND: ref.kind}
    with tracker.start_run("generate", name=f"generate {result.model}", tags=tags) as run:
        run.log_params(
            {"model": result.model, "endpoint": str(ref.endpoint), "n_prompts": len(result)}
            | result.params
        )
        run.log_metrics({"total_s": result.total_s, "tokens_per_s": result.tokens_per_s})
        attributes = {"model": result.model, "endpoint": str(ref.endpoint)}
        trace_generations(tracker, result, spans, run.id, attributes)
    tracker.traces.flush()
    result.run_id = run.id
    result.tracking_uri = tracker.uri
