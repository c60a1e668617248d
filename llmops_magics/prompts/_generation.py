"""Rendering and generating for one call: templates, prompts that read other prompts' outputs,
the workspace's generation cache, and streaming of a single output."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmops_magics import progress as _progress
from llmops_magics.models import GenerationParams
from llmops_magics.prompts._cache import (
    CachedGeneration,
    GenerationCache,
    cache_key,
    model_identity,
)
from llmops_magics.prompts._errors import TemplateError
from llmops_magics.prompts._registry import PromptVersion, get_prompt
from llmops_magics.prompts._sandbox import as_data
from llmops_magics.prompts._template import OUTPUTS, Template

__all__ = ["Cell", "Fresh", "Session", "Step", "Streamer", "generation_count"]

#: how many generations were computed (not served from the cache) in this process
generation_count = 0


@dataclass
class Cell:
    """One output of a call: its cache key, the generation and whether the cache held it."""

    key: str
    gen: CachedGeneration
    cached: bool


@dataclass
class Fresh:
    """A generation made by this call, waiting for its MLflow span."""

    spec: str
    prompt: str
    gen: CachedGeneration
    step: str
    version: int
    start_ns: int
    end_ns: int


@dataclass
class Step:
    """One prompt run over every row with one model (a step of a chain)."""

    name: str
    version: int
    prompts: list[str]
    cells: list[Cell]
    start_ns: int
    end_ns: int


class Streamer:
    """Passes the text of a single generation, as it grows, to a ``stream`` progress view.

    The view is opened at the first token, so a fully cached run shows nothing.
    """

    def __init__(self, view: _progress.Progress, title: str) -> None:
        self.view = view
        self.title = title
        self.started = False

    @classmethod
    def open(cls, stream: bool | None, title: str) -> Streamer | None:
        """A streamer when the output can be watched: with a notebook front end (the live view
        registered for ``stream``), or everywhere when ``stream`` is True; None otherwise
        (papermill kernels, terminals, ``LLMOPS_PLAIN=1``: nothing streams there)."""
        if stream is False:
            return None
        view = _progress.channel("stream", "panel" if stream else None, plain=_progress.Silent)
        return None if isinstance(view, _progress.Silent) else cls(view, title)

    def __call__(self, index: int, text: str) -> None:
        if not self.started:
            self.started = True
            self.view.start(None, self.title)
        self.view.update({"text": text})

    def close(self) -> None:
        """Leave the final text in place."""
        if self.started:
            self.view.finish()


class Session:
    """What one call shares: rows, variables, decoding settings, the cache and step outputs."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        columns: list[str],
        namespace: Mapping[str, Any],
        params: GenerationParams,
        *,
        variables: Mapping[str, Any] | None = None,
        progress: _progress.ProgressOption = None,
        stream: Streamer | None = None,
        executor: Any = None,
        name: str = "",
        track: bool = True,
    ) -> None:
        self.rows, self.columns, self.namespace = rows, columns, namespace
        self.variables = variables or {}
        self.data: dict[tuple[str, str], Any] = {}  # notebook/explicit values copied as data
        self.params, self.progress, self.stream = params, progress, stream
        self.key_params = {
            k: v for k, v in params.to_dict().items() if k != "batch_size"
        }  # batching does not change what greedy decoding returns
        self.cache = GenerationCache.for_workspace()
        self.generated = 0
        self.identities: dict[str, str] = {}
        self.engines: dict[str, str] = {}
        self.templates: dict[str, tuple[PromptVersion, Template]] = {}
        self.memo: dict[tuple[str, str], list[str]] = {}
        self.steps: dict[str, list[Step]] = {}
        self.fresh: dict[str, Fresh] = {}
        #: an open distributed executor: misses are generated there in shards (None: here)
        self.executor = executor
        self.name = name
        self.track = track

    def identity(self, spec: str) -> str:
        """The cache identity of model ``spec`` (computed once per call)."""
        if spec not in self.identities:
            self.identities[spec] = model_identity(spec)
        return self.identities[spec]

    def engine(self, spec: str) -> str:
        """The engine that generates with model ``spec`` in this call (``auto`` resolved, e.g.
        ``onnxruntime-genai (int8)``): part of the cache key and of the run's lineage."""
        if spec not in self.engines:
            from llmops_magics.models import resolved_engine

            self.engines[spec] = resolved_engine(self.params.engine, spec)
        return self.engines[spec]

    def engines_param(self, specs: Sequence[str]) -> str:
        """The engines of ``specs`` as one run parameter (``model=engine``, comma-separated,
        or the engine alone for one model)."""
        if len(specs) == 1:
            return self.engine(specs[0])
        return ", ".join(f"{spec}={self.engine(spec)}" for spec in specs)

    # -- rendering -----------------------------------------------------------------------------

    def values(
        self, template: Template, row: Mapping[str, Any], outputs: Mapping[str, str]
    ) -> dict[str, Any]:
        """The values of ``template``'s variables for one row, as data only
        (:func:`~llmops_magics.prompts._sandbox.as_data`): columns first, then explicit
        variables, then the notebook's (for the caller's own template only), and ``outputs`` of
        the prompts it reads."""
        values: dict[str, Any] = {}
        for name in template.variables:
            if name == OUTPUTS:
                values[name] = dict(outputs)
            elif name in row:
                values[name] = as_data(row[name], f"The data column {name!r}")
            elif name in self.variables:
                values[name] = self._copied("variable", name, self.variables[name])
            elif template.own and name in self.namespace:
                values[name] = self._copied("notebook variable", name, self.namespace[name])
        return values

    def _copied(self, kind: str, name: str, value: Any) -> Any:
        """``value`` copied as data once per call (the error names the variable)."""
        if (kind, name) not in self.data:
            self.data[(kind, name)] = as_data(value, f"The {kind} {name!r}")
        return self.data[(kind, name)]

    def render(self, template: Template, spec: str, stack: tuple[str, ...]) -> list[str]:
        """``template`` rendered for every row (the prompts it reads run first, with ``spec``)."""
        template.check_variables(self.columns, self.namespace, self.variables)
        outputs = self.outputs_for(template, spec, stack)
        return [
            template.render(self.values(template, row, outputs[i]))
            for i, row in enumerate(self.rows)
        ]

    def outputs_for(
        self, template: Template, spec: str, stack: tuple[str, ...]
    ) -> list[dict[str, str]]:
        """Per row, the outputs of the prompts that ``template`` reads."""
        per_row: list[dict[str, str]] = [{} for _ in self.rows]
        for dep in template.dependencies:
            outs = self.step(dep, spec, stack)
            for i, text in enumerate(outs):
                per_row[i][dep] = text
        return per_row

    def prompt(self, name: str) -> tuple[PromptVersion, Template]:
        """The latest version of stored prompt ``name`` and its template."""
        if name not in self.templates:
            pv = get_prompt(name)
            self.templates[name] = (pv, Template(pv.template, name))
        return self.templates[name]

    def step(self, name: str, spec: str, stack: tuple[str, ...] = ()) -> list[str]:
        """The outputs of the latest version of prompt ``name`` for every row."""
        if (name, spec) in self.memo:
            return self.memo[(name, spec)]
        if name in stack:
            cycle = " → ".join([*stack[stack.index(name) :], name])
            raise TemplateError(
                f"The prompts use each other's outputs in a cycle: {cycle}",
                hint="A prompt may only read outputs of prompts that do not read its own.",
            )
        pv, template = self.prompt(name)
        prompts = self.render(template, spec, (*stack, name))
        start = time.time_ns()
        cells = self.cells(spec, prompts, [(name, pv.version)] * len(prompts))
        self.steps.setdefault(spec, []).append(
            Step(name, pv.version, prompts, cells, start, time.time_ns())
        )
        self.memo[(name, spec)] = [c.gen.output for c in cells]
        return self.memo[(name, spec)]

    # -- generating ----------------------------------------------------------------------------

    def cells(self, spec: str, prompts: list[str], labels: Sequence[tuple[str, int]]) -> list[Cell]:
        """Generations for ``prompts`` with model ``spec``: stored ones, the rest generated."""
        global generation_count
        identity = self.identity(spec)
        # the engine that runs, not "auto": an int8 engine's outputs never answer for torch's
        key_params = self.key_params | {"engine": self.engine(spec)}
        keys = [cache_key(identity, p, key_params) for p in prompts]
        found = self.cache.get_many(sorted(set(keys)))
        before = set(found)
        misses: dict[str, str] = {}
        label_of: dict[str, tuple[str, int]] = {}
        for key, prompt, label in zip(keys, prompts, labels, strict=True):
            if key not in found and key not in misses:
                misses[key] = prompt
                label_of[key] = label
        if misses:
            todo = list(misses.values())
            start = time.time_ns()
            # one output can be watched as it grows; several are generated in batches
            on_text = self.stream if len(todo) == 1 else None
            if self.executor is not None and on_text is None:
                fresh = self._generate_there(spec, todo)
            else:
                fresh = generate(spec, todo, self.params, self.progress, on_text)
            for (key, prompt), gen in zip(misses.items(), fresh, strict=True):
                end = start + max(int(gen.latency_s * 1e9), 1)
                name, version = label_of[key]
                self.fresh[key] = Fresh(spec, prompt, gen, name, version, start, end)
            self.cache.put_many(
                [(k, spec, p, g) for (k, p), g in zip(misses.items(), fresh, strict=True)]
            )
            found.update(zip(misses, fresh, strict=True))
            self.generated += len(todo)
            generation_count += len(todo)
        return [Cell(k, found[k], k in before) for k in keys]

    def _generate_there(self, spec: str, prompts: list[str]) -> list[CachedGeneration]:
        """``prompts`` (cache misses only) in shards on the executor: a ``generate`` run whose
        shards are its child runs; the prompt run traces the outputs it keeps."""
        from llmops_magics import executor as executor_mod
        from llmops_magics import tracking

        result = executor_mod.generate_shards(
            prompts,
            spec,
            self.params,
            executor=self.executor,
            track=self.track,
            traces=False,
            tags={tracking.PROMPT: self.name} if self.name else None,
        )
        return [
            CachedGeneration(
                result.texts[i],
                result.prompt_tokens[i],
                result.completion_tokens[i],
                result.latency_s[i],
                None,
                None,
            )
            for i in range(len(prompts))
        ]


def generate(
    spec: str,
    prompts: list[str],
    params: GenerationParams,
    progress: _progress.ProgressOption = None,
    on_text: Callable[[int, str], None] | None = None,
) -> list[CachedGeneration]:
    """Generate ``prompts`` with model ``spec`` (untracked: the caller traces what it keeps)."""
    from llmops_magics import models

    result = models.generate(
        prompts,
        model=spec,
        params=params,
        track=False,  # the caller traces the generations it keeps, then flushes once
        progress=progress,
        on_text=on_text,
    )
    return [
        CachedGeneration(
            result.texts[i],
            result.prompt_tokens[i],
            result.completion_tokens[i],
            result.latency_s[i],
            None,
            None,
        )
        for i in range(len(prompts))
    ]
