"""Batching: the requests that wait for one base model share its forward passes.

One engine (a thread) runs per base model. It takes the first waiting request, lets others join
for ``batch_wait_ms`` (longer while they keep arriving, see ``_GATHER_WAITS``), and runs every
waiting request that decodes the same way (greedy, or the same temperature/top_p without a
seed) as one left-padded ``model.generate`` call; a sampled
request with a seed runs alone, so its text depends on its seed only. Adapters of that base
ride in the same batch through PEFT's mixed-adapter forward (``adapter_names``): nothing is
reloaded or switched between requests. A transformers ``StoppingCriteria`` follows every row at
every step: it streams the row's new text, ends a row on its end token, its own ``max_tokens``
or a stop string, and hands the row's result back at once (a short answer does not wait for the
longest one in its batch).

transformers' continuous-batching manager (``init_continuous_batching``) would also schedule
requests, but it serves one set of weights with one sampling mode: it cannot mix LoRA adapters
of one base, per-request seeds or greedy with sampled rows, so it is not used here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmops_magics.serving._errors import ApiError

__all__ = ["Engine", "Job", "Sampling", "SeamEngine"]

log = logging.getLogger("llmops_magics.serving")


@dataclass(frozen=True)
class Sampling:
    """How a request decodes; requests with equal settings share a batch."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    @property
    def key(self) -> tuple[Any, ...]:
        return ("greedy",) if self.greedy else (self.temperature, self.top_p, self.seed)


@dataclass(eq=False)
class Job:
    """One completion to generate; its events arrive on :attr:`events`.

    Events: ``("text", delta)`` while streaming, then ``("done", None)`` or
    ``("error", ApiError)``. After ``done``, :attr:`text`, :attr:`completion_tokens` and
    :attr:`finish_reason` hold the result.
    """

    prompt_ids: list[int]
    max_tokens: int
    sampling: Sampling
    adapter: str | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    #: the prompt as text and whether it is a rendered chat (what a generation engine reads)
    prompt_text: str = ""
    chat: bool = False
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    text: str = ""
    completion_tokens: int = 0
    finish_reason: str = ""
    queued_at: float = field(default_factory=time.perf_counter)
    started_at: float = 0.0
    batch_size: int = 0

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompt_ids)


def _alone_if_seeded(job: Job) -> tuple[Any, ...]:
    """A key part no other job shares, for a sampled request with a seed (one random stream
    serves a whole batch, so in company its sample would depend on the others)."""
    sampling = job.sampling
    return (id(job),) if not sampling.greedy and sampling.seed is not None else ()


class _Row:
    """What the stopping criterion tracks for one job of a running batch."""

    def __init__(self, job: Job, decode: Callable[[list[int]], str], eos: set[int]) -> None:
        self.job, self.decode, self.eos = job, decode, eos
        self.tokens: list[int] = []
        self.sent = ""
        self.done = False
        self.hold = max((len(s) for s in job.stop), default=1) - 1

    def step(self, token: int) -> None:
        job = self.job
        if job.cancelled.is_set():
            return self.finish("cancelled")
        if token in self.eos:
            return self.finish("stop")
        self.tokens.append(token)
        text = self.decode(self.tokens)
        cut = min((i for i in (text.find(s) for s in job.stop if s) if i >= 0), default=-1)
        if cut >= 0:
            return self.finish("stop", text[:cut])
        if len(self.tokens) >= job.max_tokens:
            return self.finish("length", text)
        if job.stream:
            visible = text.strip()
            visible = visible[: len(visible) - self.hold] if self.hold else visible
            visible = visible.rstrip("\ufffd")  # a character whose bytes are not all here yet
            if len(visible) > len(self.sent) and visible.startswith(self.sent):
                job.events.put(("text", visible[len(self.sent) :]))
                self.sent = visible
        return None

    def finish(self, reason: str, text: str | None = None) -> None:
        job = self.job
        final = (self.decode(self.tokens) if text is None else text).strip()
        job.text, job.finish_reason, job.completion_tokens = final, reason, len(self.tokens)
        if job.stream and final.startswith(self.sent) and len(final) > len(self.sent):
            job.events.put(("text", final[len(self.sent) :]))
        self.done = True
        job.events.put(("done", None))


def _criterion(rows: list[_Row], prompt_len: int) -> Any:
    import torch
    from transformers import StoppingCriteria

    class RowsCriterion(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            last = input_ids[:, -1].tolist()
            if input_ids.shape[1] > prompt_len:
                for row, token in zip(rows, last, strict=True):
                    if not row.done:
                        row.step(int(token))
            return torch.tensor([r.done for r in rows], device=input_ids.device)

    return RowsCriterion()


#: a first request waits for company at most this many times ``batch_wait_s`` (each arrival
#: within ``batch_wait_s`` of the last one extends the wait)
_GATHER_WAITS = 20


class Engine:
    """The batching thread of one base model.

    Parameters
    ----------
    base
        The base model's ``LoadedModel`` (adapters are rows of its shared PeftModel).
    guard
        The lock held while computing (loading an adapter changes the shared weights).
    max_batch, batch_wait_s, max_queue
        Batch size, how long a first request waits for company, and the queue's limit.
    on_batch
        Called with the size of each batch run (for the metrics).
    """

    def __init__(
        self,
        base: Any,
        guard: Any,
        *,
        max_batch: int,
        batch_wait_s: float,
        max_queue: int,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        from llmops_magics.models import eos_ids

        self.base = base
        self.guard = guard
        self.max_batch, self.batch_wait_s, self.max_queue = max_batch, batch_wait_s, max_queue
        self.on_batch = on_batch
        self.eos = eos_ids(base)
        self.pending: deque[Job] = deque()
        self.running: list[Job] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="llmops-serve-engine", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Requests waiting (not yet in a batch)."""
        return len(self.pending)

    def submit(self, job: Job) -> Job:
        """Queue ``job``; 429 when the queue is full, 503 when the engine is stopping."""
        with self._cond:
            if self._stopping:
                raise ApiError(503, "The server is shutting down.", code="shutting_down")
            if len(self.pending) >= self.max_queue:
                raise ApiError(
                    429,
                    f"The queue is full ({self.max_queue} requests wait). Retry later.",
                    code="queue_full",
                )
            self.pending.append(job)
            self._cond.notify()
        return job

    def stop(self, *, abort: bool = False, timeout: float | None = None) -> None:
        """Stop taking requests; finish the queued and running ones (or, with ``abort``, end
        them with an error) and end the thread."""
        with self._cond:
            self._stopping = True
            if abort:
                while self.pending:
                    self._fail(
                        self.pending.popleft(), "The server stopped before this request ran."
                    )
                for job in self.running:
                    job.cancelled.set()
            self._cond.notify_all()
        self._thread.join(timeout)

    @staticmethod
    def _fail(job: Job, message: str) -> None:
        job.events.put(("error", ApiError(503, message, code="shutting_down")))

    def _take(self) -> list[Job] | None:
        with self._cond:
            while not self.pending and not self._stopping:
                self._cond.wait()
            if not self.pending:
                return None
            # wait for company while requests keep arriving (a burst of clients reaches the
            # queue over tens of milliseconds), at most _GATHER_WAITS waits in all
            now = time.monotonic()
            deadline, cap = now + self.batch_wait_s, now + self.batch_wait_s * _GATHER_WAITS
            seen = len(self.pending)
            while len(self.pending) < self.max_batch and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
                if len(self.pending) > seen:
                    seen = len(self.pending)
                    deadline = min(time.monotonic() + self.batch_wait_s, cap)
            key = self._key(self.pending[0])
            batch = [j for j in self.pending if self._key(j) == key][: self.max_batch]
            for job in batch:
                self.pending.remove(job)
            self.running = batch
            return batch

    @staticmethod
    def _key(job: Job) -> tuple[Any, ...]:
        """Jobs with equal keys can share a batch. A seeded sampled request runs alone: its text
        then depends on its seed only, not on the requests that came with it."""
        return (*job.sampling.key, *_alone_if_seeded(job))

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            live = [j for j in batch if not j.cancelled.is_set()]
            for job in batch:
                if job.cancelled.is_set():
                    self._fail(job, "The request was cancelled.")
            try:
                if live:
                    self._run(live)
            except Exception:  # every job of the batch learns; the client sees no stack trace
                log.exception("generation failed on a batch of %d", len(live))
                for job in live:
                    if not job.finish_reason:
                        job.events.put(
                            ("error", ApiError(500, "Generation failed.", code="generation_error"))
                        )
            finally:
                with self._cond:
                    self.running = []

    def _run(self, jobs: list[Job]) -> None:
        import torch

        with self.guard.compute(), torch.inference_mode():
            jobs = self._loaded(jobs)
            if jobs:
                self._generate(jobs)

    def _loaded(self, jobs: list[Job]) -> list[Job]:
        """The jobs whose adapter is loaded (under the guard). A request holds its version until
        it is answered, so only a request that let go early (cancelled) can name an adapter
        that was unloaded; it gets an error instead of failing the whole batch."""
        peft_model = self.base.peft_model
        known = set(peft_model.peft_config) if peft_model is not None else set()
        gone = [j for j in jobs if j.adapter is not None and j.adapter not in known]
        for job in gone:
            job.events.put(
                ("error", ApiError(503, "The model version was unloaded; retry.", code="unloaded"))
            )
        return [j for j in jobs if j not in gone]

    def _generate(self, jobs: list[Job]) -> None:
        import torch

        tok = self.base.tokenizer
        width = max(j.prompt_tokens for j in jobs)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - j.prompt_tokens) + j.prompt_ids for j in jobs])
        mask = torch.tensor([[0] * (width - j.prompt_tokens) + [1] * j.prompt_tokens for j in jobs])
        rows = [
            _Row(j, lambda ids: tok.decode(ids, skip_special_tokens=True), self.eos) for j in jobs
        ]
        sampling = jobs[0].sampling
        options: dict[str, Any] = {"max_new_tokens": max(j.max_tokens for j in jobs)}
        if sampling.greedy:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            options.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
        model = self.base.model
        peft_model = self.base.peft_model
        started = time.perf_counter()
        for job in jobs:
            job.started_at, job.batch_size = started, len(jobs)
        if self.on_batch is not None:
            self.on_batch(len(jobs))
        if peft_model is not None:
            # each row names its adapter; the base rows run with the adapters off
            peft_model.base_model.enable_adapter_layers()
            model = peft_model
            options["adapter_names"] = [j.adapter or "__base__" for j in jobs]
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        model.generate(
            input_ids=input_ids.to(model.device),
            attention_mask=mask.to(model.device),
            pad_token_id=pad,
            stopping_criteria=[_criterion(rows, width)],
            **options,
        )
        for row in rows:
            if not row.done:
                row.finish("length")


#: rows per engine call at most (ONNX Runtime GenAI's models take batches of up to 32; a larger
#: gathered batch runs as several calls of this size)
_SEAM_BATCH = 32


class SeamEngine(Engine):
    """The batching thread of a model that a generation engine of the seam serves
    (``models.choose_engine``: CTranslate2 for SmolLM2 on a CPU under ``auto``).

    The engine holds one set of weights per model version (an adapter is merged into its base
    per version), so a thread batches the requests of one version. A batch is the waiting
    requests that decode alike (sampling, ``max_tokens``, stop strings) and is one
    ``Engine.run`` call, which batches them itself; a streamed request runs alone, its text
    streamed as the engine produces it.
    """

    def __init__(self, loaded: Any, seam: Any, guard: Any, **options: Any) -> None:
        self.seam = seam
        # a batch is one engine call of at most _SEAM_BATCH rows: its answers go back when it
        # ends, and the requests that arrived meanwhile form the next one
        options["max_batch"] = min(options["max_batch"], _SEAM_BATCH)
        super().__init__(loaded, guard, **options)

    @staticmethod
    def _key(job: Job) -> tuple[Any, ...]:
        alone = (id(job),) if job.stream else _alone_if_seeded(job)
        return (job.sampling.key, job.max_tokens, job.stop, job.chat, *alone)

    def _run(self, jobs: list[Job]) -> None:
        import random

        from llmops_magics.models import GenerationParams

        first = jobs[0]
        sampling = first.sampling
        params = GenerationParams(
            max_new_tokens=first.max_tokens,
            temperature=max(sampling.temperature, 0.0),
            top_p=sampling.top_p,
            seed=sampling.seed if sampling.seed is not None else random.randrange(2**31),
            batch_size=len(jobs),
            chat=first.chat,
            stop=list(first.stop),
        )
        rows = [_SeamRow(job) for job in jobs]
        started = time.perf_counter()
        for job in jobs:
            job.started_at, job.batch_size = started, len(jobs)
        if self.on_batch is not None:
            self.on_batch(len(jobs))
        on_text = (lambda i, text: rows[i].text(text)) if first.stream else None
        with self.guard.compute():
            out = self.seam.run(self.base, [j.prompt_text for j in jobs], params, False, on_text)
        for i, row in enumerate(rows):
            row.finish(out.texts[i], out.completion_tokens[i], out.reasons[i])


class _SeamRow:
    """Streams one job's text as an engine reports it (``on_text`` gives the text so far)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.sent = ""
        self.hold = max((len(s) for s in job.stop), default=1) - 1

    def text(self, so_far: str) -> None:
        visible = so_far[: len(so_far) - self.hold] if self.hold else so_far
        visible = visible.rstrip("\ufffd")
        if len(visible) > len(self.sent) and visible.startswith(self.sent):
            self.job.events.put(("text", visible[len(self.sent) :]))
            self.sent = visible

    def finish(self, text: str, tokens: int, reason: str) -> None:
        job = self.job
        job.text, job.completion_tokens, job.finish_reason = text, tokens, reason
        if job.stream and text.startswith(self.sent) and len(text) > len(self.sent):
            job.events.put(("text", text[len(self.sent) :]))
        job.events.put(("done", None))
