"""The endpoints: what each request does, independent of the HTTP plumbing.

A handler returns a :class:`Reply` (status and JSON or text) or a :class:`Stream` (server-sent
events). Every failure is an :class:`~llmops_magics.serving.ApiError` in OpenAI's format; an
unexpected exception is logged here and answered with a bare 500.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmops_magics.serving._api import Decoding, chat_messages, decoding, prompts
from llmops_magics.serving._config import ServeConfig
from llmops_magics.serving._engine import Engine, Job, SeamEngine
from llmops_magics.serving._errors import ApiError
from llmops_magics.serving._models import ModelSet, ServedModel, Version
from llmops_magics.serving._stats import Meter

__all__ = ["App", "Reply", "Stream"]

log = logging.getLogger("llmops_magics.serving")

#: how long a request waits for its result before the server gives up on it
_WAIT_S = 600.0


@dataclass
class Reply:
    """A whole response."""

    status: int
    body: Any
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if isinstance(self.body, bytes | str):
            return self.body.encode() if isinstance(self.body, str) else self.body
        return json.dumps(self.body).encode()


@dataclass
class Stream:
    """A server-sent event stream: each item is one event's data (a dict or ``[DONE]``)."""

    events: Iterator[Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Call:
    """One request to a model, while it runs."""

    endpoint: str
    served: ServedModel
    version: Version
    jobs: list[Job]
    dec: Decoding
    span: Any
    started: float
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def id(self) -> str:
        trace_id = getattr(self.span, "trace_id", None)
        return str(trace_id) if trace_id else f"req-{id(self):x}"


class App:
    """The server's state and endpoints: models, engines, meter and tracer."""

    def __init__(self, models: ModelSet, config: ServeConfig, tracer: Any = None) -> None:
        self.models = models
        self.config = config
        self.tracer = tracer
        self.meter = Meter(time.perf_counter)
        self.engines: dict[int, Engine] = {}
        self.loading = True
        self.aborting = False
        self._lock = threading.Lock()
        self.url = ""
        models.holds.on_unload.append(self._drop_engine)

    # -- plumbing ------------------------------------------------------------------------------

    def engine(self, version: Version) -> Engine:
        """The batching engine of the version's base model (one per base)."""
        base = version.base
        with self._lock:
            engine = self.engines.get(id(base))
            if engine is None:
                options: dict[str, Any] = {
                    "max_batch": self.config.max_batch,
                    "batch_wait_s": self.config.batch_wait_ms / 1000.0,
                    "max_queue": self.config.max_queue,
                    "on_batch": self.meter.batch,
                }
                if version.seam is not None:
                    engine = SeamEngine(base, version.seam, self.models.guard, **options)
                else:
                    engine = Engine(base, self.models.guard, **options)
                self.engines[id(base)] = engine
            return engine

    def _drop_engine(self, loaded: Any) -> Callable[[], None] | None:
        """The engine of unloaded weights leaves (the next version gets its own); returns how to
        end its thread. Nobody holds the weights, so no request waits for it."""
        with self._lock:
            engine = self.engines.pop(id(loaded), None)
        if engine is None:  # an adapter of a shared base: the base's engine stays
            return None
        return lambda: engine.stop(abort=True, timeout=_WAIT_S)

    @property
    def depth(self) -> int:
        """Requests waiting in every engine."""
        return sum(e.depth for e in list(self.engines.values()))

    def ready(self) -> None:
        if self.loading:
            raise ApiError(503, "The server is loading its models; retry shortly.", code="loading")

    # -- simple endpoints ----------------------------------------------------------------------

    def health(self) -> Reply:
        """``GET /health``: 200 when ready, 503 while loading."""
        if self.loading:
            return Reply(503, {"status": "loading"})
        return Reply(200, {"status": "ok", "models": sorted(self.models.models)})

    def list_models(self) -> Reply:
        """``GET /v1/models``."""
        self.ready()
        return Reply(200, {"object": "list", "data": self.models.rows()})

    def metrics(self) -> Reply:
        """``GET /metrics`` in Prometheus text."""
        text = self.meter.prometheus(self.depth, self.loading)
        return Reply(200, text, "text/plain; version=0.0.4; charset=utf-8")

    def feedback(self, body: Mapping[str, Any]) -> Reply:
        """``POST /v1/feedback``."""
        if self.tracer is None:
            raise ApiError(
                404, "This server keeps no traces (started with --no-track).", code="no_traces"
            )
        return Reply(200, self.tracer.feedback(body))

    # -- generation ----------------------------------------------------------------------------

    def chat(self, body: Mapping[str, Any]) -> Reply | Stream:
        """``POST /v1/chat/completions``."""
        self.ready()
        served = self.models.get(body.get("model"))
        messages = chat_messages(body)
        dec = self._decoding(body)
        with served.lease() as version:
            tok = version.base.tokenizer
            if not getattr(tok, "chat_template", None):
                raise ApiError(
                    400,
                    f"The model {served.name!r} has no chat template; use /v1/completions.",
                    param="model",
                )
            rendered = str(
                tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            )
            ids = tok(rendered, add_special_tokens=False)["input_ids"]
            inputs = {"prompt": _last_user(messages), "messages": messages}
            return self._start("chat.completions", served, [(rendered, ids)], dec, inputs)

    def completions(self, body: Mapping[str, Any]) -> Reply | Stream:
        """``POST /v1/completions`` (the prompt as it is: no chat template)."""
        self.ready()
        served = self.models.get(body.get("model"))
        texts = prompts(body)
        dec = self._decoding(body)
        if dec.stream and len(texts) > 1:
            raise ApiError(422, "Stream one prompt at a time.", param="prompt")
        with served.lease() as version:
            tok = version.base.tokenizer
            ids = [(t, tok(t, add_special_tokens=True)["input_ids"]) for t in texts]
            inputs = {"prompt": texts[0] if len(texts) == 1 else texts}
            return self._start("completions", served, ids, dec, inputs)

    def _decoding(self, body: Mapping[str, Any]) -> Decoding:
        return decoding(
            body, default_max_tokens=self.config.default_max_tokens, cap=self.config.max_tokens
        )

    def _start(
        self,
        endpoint: str,
        served: ServedModel,
        items: list[tuple[str, list[int]]],
        dec: Decoding,
        inputs: Mapping[str, Any],
    ) -> Reply | Stream:
        """Queue the jobs of a request and answer (the version's lease is taken again, so it
        stays loaded until the answer is complete)."""
        version = served.acquire()
        started = time.perf_counter()
        span = None
        try:
            if self.tracer is not None:
                attrs = {"max_tokens": dec.max_tokens, "temperature": dec.sampling.temperature}
                span = self.tracer.start(endpoint, served.name, version, inputs, attrs)
            jobs = [
                Job(
                    prompt_ids=list(ids),
                    max_tokens=dec.max_tokens,
                    sampling=dec.sampling,
                    adapter=version.loaded.adapter_name,
                    stop=dec.stop,
                    stream=dec.stream,
                    prompt_text=text,
                    chat=endpoint == "chat.completions",
                )
                for text, ids in items
            ]
            engine = self.engine(version)
            for job in jobs:
                engine.submit(job)
        except BaseException as exc:
            served.release(version)
            if span is not None:
                self._end_trace(span, [], error=str(exc))
            raise
        call = _Call(endpoint, served, version, jobs, dec, span, started)
        if dec.stream:
            return Stream(self._events(call))
        try:
            return Reply(200, self._whole(call))
        finally:
            served.release(version)

    def _wait(self, job: Job) -> Iterator[str]:
        """The text deltas of a job until it is done; its error is raised."""
        import queue

        while True:
            try:
                kind, value = job.events.get(timeout=_WAIT_S)
            except queue.Empty:
                job.cancelled.set()
                raise ApiError(503, "The request took too long.", code="timeout") from None
            if kind == "text":
                yield value
            elif kind == "error":
                raise value
            else:
                return

    def _whole(self, call: _Call) -> dict[str, Any]:
        try:
            for job in call.jobs:
                for _ in self._wait(job):
                    pass
            self._aborted(call)
        except ApiError as exc:
            self._finish(call, exc.status, error=exc.message)
            exc.recorded = True
            raise
        self._finish(call, 200)
        chat = call.endpoint == "chat.completions"
        choices = [
            {
                "index": i,
                "finish_reason": job.finish_reason,
                **(
                    {"message": {"role": "assistant", "content": job.text}, "logprobs": None}
                    if chat
                    else {"text": job.text, "logprobs": None}
                ),
            }
            for i, job in enumerate(call.jobs)
        ]
        return {
            "id": call.id,
            "object": "chat.completion" if chat else "text_completion",
            "created": call.created,
            "model": call.served.name,
            "choices": choices,
            "usage": _usage(call.jobs),
            "system_fingerprint": call.version.version,
        }

    def _aborted(self, call: _Call) -> None:
        if any(j.finish_reason == "cancelled" for j in call.jobs):
            raise ApiError(503, "The server stopped while this request ran.", code="shutting_down")

    def _events(self, call: _Call) -> Iterator[Any]:
        """The SSE events of a streamed answer; an error mid-stream is an ``error`` event."""
        chat = call.endpoint == "chat.completions"
        job = call.jobs[0]

        def chunk(delta: str | None, finish: str | None, first: bool = False) -> dict[str, Any]:
            if chat:
                d: dict[str, Any] = {"role": "assistant", "content": ""} if first else {}
                if delta is not None:
                    d["content"] = delta
                choice: dict[str, Any] = {"index": 0, "delta": d, "finish_reason": finish}
            else:
                choice = {"index": 0, "text": delta or "", "finish_reason": finish}
            out: dict[str, Any] = {
                "id": call.id,
                "object": "chat.completion.chunk" if chat else "text_completion",
                "created": call.created,
                "model": call.served.name,
                "choices": [choice],
            }
            if call.dec.include_usage:
                out["usage"] = None
            return out

        try:
            if chat:
                yield chunk(None, None, first=True)
            for delta in self._wait(job):
                yield chunk(delta, None)
            self._aborted(call)
            yield chunk(None if chat else "", job.finish_reason)
            if call.dec.include_usage:
                yield {
                    "id": call.id,
                    "object": "chat.completion.chunk" if chat else "text_completion",
                    "created": call.created,
                    "model": call.served.name,
                    "choices": [],
                    "usage": _usage(call.jobs),
                }
            self._finish(call, 200)
            yield "[DONE]"
        except ApiError as exc:
            self._finish(call, exc.status, error=exc.message)
            yield exc.body()
        except GeneratorExit:  # the client went away: stop generating for it
            job.cancelled.set()
            self._finish(call, 499, error="client closed the connection")
            raise
        finally:
            call.served.release(call.version)

    def _finish(self, call: _Call, status: int, *, error: str | None = None) -> None:
        latency = time.perf_counter() - call.started
        usage = _usage(call.jobs)
        self.meter.record(
            call.endpoint,
            call.served.name,
            status,
            latency,
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        if call.span is not None:
            self._end_trace(call.span, call.jobs, error=error, latency=latency)

    def _end_trace(
        self, span: Any, jobs: list[Job], *, error: str | None = None, latency: float = 0.0
    ) -> None:
        text = jobs[0].text if len(jobs) == 1 else [j.text for j in jobs]
        outputs: dict[str, Any] = {"text": text}
        if error:
            outputs["error"] = error
        usage = _usage(jobs)
        attrs = usage | {
            "finish_reason": ",".join(j.finish_reason for j in jobs),
            "latency_s": round(latency, 4),
            "batch_size": max((j.batch_size for j in jobs), default=0),
        }
        self.tracer.end(span, outputs, attrs)

    def dispatch(
        self, method: str, path: str, body: Callable[[], Mapping[str, Any]]
    ) -> Reply | Stream:
        """Route a request; ``body`` reads and parses the JSON body on demand."""
        routes: dict[tuple[str, str], Callable[[], Reply | Stream]] = {
            ("GET", "/health"): self.health,
            ("GET", "/v1/models"): self.list_models,
            ("GET", "/metrics"): self.metrics,
            ("POST", "/v1/chat/completions"): lambda: self.chat(body()),
            ("POST", "/v1/completions"): lambda: self.completions(body()),
            ("POST", "/v1/feedback"): lambda: self.feedback(body()),
        }
        handler = routes.get((method, path))
        try:
            if handler is None:
                if any(p == path for _, p in routes):
                    raise ApiError(405, f"{method} is not allowed on {path}.")
                raise ApiError(404, f"There is no endpoint {path}.", code="unknown_url")
            return handler()
        except ApiError as exc:
            if not exc.recorded:  # refused before it reached a model: no model label
                self.meter.record(_ENDPOINTS.get(path, "other"), "", exc.status, 0.0)
            raise


#: the ``endpoint`` label of each path in the metrics
_ENDPOINTS = {
    "/v1/chat/completions": "chat.completions",
    "/v1/completions": "completions",
    "/v1/feedback": "feedback",
    "/v1/models": "models",
    "/health": "health",
    "/metrics": "metrics",
}


def _usage(jobs: list[Job]) -> dict[str, int]:
    prompt = sum(j.prompt_tokens for j in jobs)
    completion = sum(j.completion_tokens for j in jobs)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _last_user(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
