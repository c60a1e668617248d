"""Running prompt templates over data with several models, cached, scored and traced."""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import DataError, LlmopsError
from llmops_magics.models._generate import GenerationParams
from llmops_magics.prompts._cache import (
    CachedGeneration,
    GenerationCache,
    cache_key,
    model_identity,
)
from llmops_magics.prompts._errors import TemplateError
from llmops_magics.prompts._registry import PromptVersion, get_prompt, register
from llmops_magics.prompts._template import OUTPUTS, Template
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "ChainRun", "PromptRun", "chain", "run"]

#: the columns of :meth:`PromptRun.to_frame`
COLUMNS = [
    "example",
    "input",
    "model",
    "version",
    "prompt",
    "output",
    "reference",
    "latency_s",
    "prompt_tokens",
    "tokens",
    "bleu",
    "rougeL",
    "cached",
    "trace_id",
    "generation_run_id",
]
#: how many generations were computed (not served from the cache) in this process
generation_count = 0


# --- input ---------------------------------------------------------------------------------


def _rows(data: Any, limit: int | None) -> tuple[list[dict[str, Any]], list[str], str]:
    """Rows as dicts, the column names and a content hash of the rows used."""
    if limit is not None and limit < 1:
        raise DataError(
            f"limit must be at least 1, got {limit}.", hint="Give --limit N with N ≥ 1."
        )
    if data is None:
        return [{}], [], ""
    import pandas as pd

    if isinstance(data, pd.Series):
        data = data.to_frame()
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"--data must be a pandas DataFrame, got {type(data).__name__}.",
            hint="Load one with %llmops data chatterbot -o df, then --data df.",
        )
    if data.empty:
        raise DataError(
            "The data frame has no rows: there is nothing to render the prompt with.",
            hint="Give a frame with at least one row (check the filter that made it).",
        )
    if limit is not None:
        data = data.head(limit)
    bad = [c for c in data.columns if not isinstance(c, str)]
    if bad:
        data = data.rename(columns={c: str(c) for c in bad})
    records = data.to_dict(orient="records")
    from llmops_magics.data import content_hash

    digest = content_hash(data)
    return records, [str(c) for c in data.columns], digest


def _check_reference(reference: str | None, columns: list[str]) -> None:
    if reference is not None and reference not in columns:
        raise DataError(
            f"The reference column {reference!r} is not in the data.",
            column=reference,
            hint=f"Columns: {', '.join(columns) or '(no --data given)'}.",
        )


def _label(values: Mapping[str, Any], used: Sequence[str], width: int = 80) -> str:
    text = " · ".join(str(values[v]) for v in used if v in values)
    return text if len(text) <= width else text[: width - 1] + "…"


# --- generation ----------------------------------------------------------------------------


@dataclass
class _Cell:
    key: str
    gen: CachedGeneration
    cached: bool


@dataclass
class _Fresh:
    """A generation made by this call, waiting for its MLflow span."""

    spec: str
    prompt: str
    gen: CachedGeneration
    step: str
    version: int
    start_ns: int
    end_ns: int


@dataclass
class _Step:
    """One prompt run over every row with one model (a step of a chain)."""

    name: str
    version: int
    prompts: list[str]
    cells: list[_Cell]
    start_ns: int
    end_ns: int


class _Session:
    """What one call shares: rows, variables, decoding settings, the cache and step outputs."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        columns: list[str],
        namespace: Mapping[str, Any],
        params: GenerationParams,
        *,
        track: bool,
        progress: bool | None,
        stream: Callable[[str], None] | None,
    ) -> None:
        self.rows, self.columns, self.namespace = rows, columns, namespace
        self.params, self.track, self.progress, self.stream = params, track, progress, stream
        self.key_params = {
            k: v for k, v in params.to_dict().items() if k != "batch_size"
        }  # batching does not change what greedy decoding returns
        self.cache = GenerationCache.for_workspace()
        self.generated = 0
        self.identities: dict[str, str] = {}
        self.templates: dict[str, tuple[PromptVersion, Template]] = {}
        self.memo: dict[tuple[str, str], list[str]] = {}
        self.steps: dict[str, list[_Step]] = {}
        self.fresh: dict[str, _Fresh] = {}

    def identity(self, spec: str) -> str:
        if spec not in self.identities:
            self.identities[spec] = model_identity(spec)
        return self.identities[spec]

    def values(self, template: Template, row: Mapping[str, Any], outputs: Mapping[str, str]):
        values: dict[str, Any] = {}
        for name in template.variables:
            if name == OUTPUTS:
                values[name] = dict(outputs)
            elif name in row:
                values[name] = row[name]
            elif name in self.namespace:
                values[name] = self.namespace[name]
        return values

    def render(self, template: Template, spec: str, stack: tuple[str, ...]) -> list[str]:
        template.check_variables(self.columns, self.namespace)
        outputs = self.outputs_for(template, spec, stack)
        return [
            template.render(self.values(template, row, outputs[i]))
            for i, row in enumerate(self.rows)
        ]

    def outputs_for(
        self, template: Template, spec: str, stack: tuple[str, ...]
    ) -> list[dict[str, str]]:
        per_row: list[dict[str, str]] = [{} for _ in self.rows]
        for dep in template.dependencies:
            outs = self.step(dep, spec, stack)
            for i, text in enumerate(outs):
                per_row[i][dep] = text
        return per_row

    def prompt(self, name: str) -> tuple[PromptVersion, Template]:
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
            _Step(name, pv.version, prompts, cells, start, time.time_ns())
        )
        self.memo[(name, spec)] = [c.gen.output for c in cells]
        return self.memo[(name, spec)]

    def cells(
        self, spec: str, prompts: list[str], labels: Sequence[tuple[str, int]]
    ) -> list[_Cell]:
        """Generations for ``prompts`` with model ``spec``: stored ones, the rest generated."""
        global generation_count
        identity = self.identity(spec)
        keys = [cache_key(identity, p, self.key_params) for p in prompts]
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
            if self.stream is not None and len(todo) == 1:
                start = time.time_ns()
                fresh = [_stream_one(spec, todo[0], self.params, self.stream)]
            else:
                start = time.time_ns()
                fresh = _generate(spec, todo, self.params, self.progress)
            for (key, prompt), gen in zip(misses.items(), fresh, strict=True):
                end = start + max(int(gen.latency_s * 1e9), 1)
                name, version = label_of[key]
                self.fresh[key] = _Fresh(spec, prompt, gen, name, version, start, end)
            self.cache.put_many(
                [(k, spec, p, g) for (k, p), g in zip(misses.items(), fresh, strict=True)]
            )
            found.update(zip(misses, fresh, strict=True))
            self.generated += len(todo)
            generation_count += len(todo)
        return [_Cell(k, found[k], k in before) for k in keys]


def _generate(
    spec: str, prompts: list[str], params: GenerationParams, progress: bool | None
) -> list[CachedGeneration]:
    from llmops_magics import models

    p = params
    result = models.generate(
        prompts,
        model=spec,
        max_new_tokens=p.max_new_tokens,
        temperature=p.temperature,
        top_p=p.top_p,
        seed=p.seed,
        batch_size=p.batch_size,
        system=p.system,
        chat=p.chat,
        track=False,  # the caller traces the generations it keeps, then flushes once
        progress=progress,
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


def _stream_one(
    spec: str,
    prompt: str,
    params: GenerationParams,
    on_text: Callable[[str], None],
) -> CachedGeneration:
    """Generate one completion, calling ``on_text`` with the text so far as tokens arrive."""
    import threading

    import torch
    from transformers import TextIteratorStreamer

    from llmops_magics.errors import GenerationError
    from llmops_magics.models import eos_ids as _eos_ids
    from llmops_magics.models import load
    from llmops_magics.models import render_prompt as _render

    loaded = load(spec)
    tok, model = loaded.tokenizer, loaded.model
    rendered = _render(loaded, prompt, params)
    add_special = not (loaded.is_chat if params.chat is None else params.chat)
    enc = tok([rendered], return_tensors="pt", add_special_tokens=add_special).to(model.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600)
    options: dict[str, Any] = {"max_new_tokens": params.max_new_tokens}
    if params.temperature > 0:
        options.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
    else:
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            torch.manual_seed(params.seed)
            with torch.inference_mode():
                box["out"] = model.generate(
                    **enc, pad_token_id=tok.pad_token_id, streamer=streamer, **options
                )
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
            streamer.end()

    t0 = time.perf_counter()
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    so_far = ""
    for piece in streamer:
        so_far += piece
        on_text(so_far)
    thread.join()
    if "error" in box:
        raise GenerationError(f"Generation failed: {box['error']}") from box["error"]
    elapsed = time.perf_counter() - t0
    ids = box["out"][0, enc["input_ids"].shape[1] :].tolist()
    eos = _eos_ids(loaded)
    stop = next((k for k, t in enumerate(ids) if t in eos), None)
    kept = ids if stop is None else ids[:stop]
    text = tok.decode(kept, skip_special_tokens=True).strip()
    on_text(text)
    prompt_tokens = int(enc["input_ids"].shape[1])
    return CachedGeneration(text, prompt_tokens, len(kept), elapsed, None, None)


class _LiveText:
    """Shows the text generated so far in the notebook, updated in place."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.handle: Any = None

    def __call__(self, text: str) -> None:
        from IPython.display import HTML, display

        view = HTML(
            f"<div><b>{html.escape(self.title)}</b>"
            f'<pre style="white-space:pre-wrap">{html.escape(text)}</pre></div>'
        )
        if self.handle is None:
            self.handle = display(view, display_id=True)
        else:
            self.handle.update(view)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


# --- scores --------------------------------------------------------------------------------


def _scores(predictions: list[str], references: list[str]) -> dict[str, list[float]]:
    """Per-cell BLEU (0-100) and ROUGE-L F (0-1) from the evaluation stage.

    Cells whose reference is empty get NaN (there is nothing to compare with).
    """
    out = {"bleu": [math.nan] * len(predictions), "rougeL": [math.nan] * len(predictions)}
    from llmops_magics.evaluation import sentence_scores

    keep = [i for i, r in enumerate(references) if r and r.strip()]
    if not keep:
        return out
    for metric in out:
        values = sentence_scores(
            metric, [predictions[i] for i in keep], [references[i] for i in keep]
        )
        for i, value in zip(keep, values, strict=True):
            out[metric][i] = float(value)
    return out


# --- results -------------------------------------------------------------------------------


@dataclass
class PromptRun(Result):
    """The outputs of one prompt (one or several versions) with one or several models.

    ``to_frame()`` is the long table: one row per (example, model, version). In a notebook the
    result shows as a grid, one row per example and one column per model (and version).
    """

    name: str
    versions: list[int]
    models: list[str]
    records: list[dict[str, Any]]
    n_examples: int
    generated: int
    params: dict[str, Any]
    reference: str | None = None
    total_s: float = 0.0
    run_id: str | None = None
    data_hash: str = ""
    created_version: bool = False

    _title = "prompt"

    def to_frame(self) -> pd.DataFrame:
        """The long table of every output with its latency, tokens, scores and trace id."""
        import pandas as pd

        return pd.DataFrame(self.records, columns=COLUMNS)

    @property
    def cached(self) -> int:
        """How many outputs came from the workspace's cache."""
        return sum(bool(r["cached"]) for r in self.records)

    def column_label(self, model: str, version: int) -> str:
        """The grid column of ``model`` and ``version``."""
        return model if len(self.versions) == 1 else f"{model} · v{version}"

    def grid(self) -> Any:
        """The comparison grid widget (:class:`llmops_magics.widgets.grid.PromptGrid`)."""
        from llmops_magics.widgets.grid import PromptGrid

        return PromptGrid.from_run(self)

    def wide(self, value: str = "output") -> pd.DataFrame:
        """One row per example, one column per model (and version), holding ``value``."""
        frame = self.to_frame()
        frame["column"] = [
            self.column_label(m, v) for m, v in zip(frame["model"], frame["version"], strict=True)
        ]
        table = frame.pivot(index="example", columns="column", values=value)
        order = [self.column_label(m, v) for v in self.versions for m in self.models]
        return table[order]

    def means(self) -> pd.DataFrame:
        """Per column (model, version): mean latency, tokens and, with a reference, scores."""
        frame = self.to_frame()
        metrics = ["latency_s", "tokens"] + (["bleu", "rougeL"] if self.reference else [])
        for m in metrics:
            frame[m] = frame[m].astype(float)
        table = frame.groupby(["model", "version"], sort=False)[metrics].mean().reset_index()
        pairs = zip(table["model"], table["version"], strict=True)
        table.insert(0, "column", [self.column_label(m, v) for m, v in pairs])
        return table

    def plot(self) -> Any:
        """Bar charts of :meth:`means`, one panel per measure (a matplotlib ``Figure``)."""
        from matplotlib.figure import Figure

        table = self.means()
        measures = [c for c in ("rougeL", "bleu", "latency_s", "tokens") if c in table]
        titles = {"rougeL": "ROUGE-L F", "bleu": "BLEU", "latency_s": "latency (s)"}
        fig = Figure(figsize=(3.2 * len(measures), 2.8 + 0.15 * len(table)), layout="constrained")
        axes = fig.subplots(1, len(measures), squeeze=False)[0]
        for ax, measure in zip(axes, measures, strict=True):
            ax.barh(table["column"], table[measure], color="#4c78a8")
            ax.set_title(titles.get(measure, "tokens generated"))
            ax.invert_yaxis()
            if ax is not axes[0]:
                ax.set_yticklabels([])
        fig.suptitle(f"prompt {self.name}: mean over {self.n_examples} example(s)")
        return fig

    def _summary(self) -> str:
        versions = ", ".join(f"v{v}" for v in self.versions)
        saved = " (new version)" if self.created_version else ""
        where = f" · run {self.run_id}" if self.run_id else ""
        return (
            f"prompt {self.name} {versions}{saved}: {self.n_examples} example(s) x "
            f"{len(self.models)} model(s) · {self.generated} generated, {self.cached} cached · "
            f"{self.total_s:.2f}s{where}"
        )

    def _display_frame(self) -> pd.DataFrame:
        frame = self.to_frame().drop(columns=["trace_id", "generation_run_id", "prompt"])
        if self.reference is None:
            frame = frame.drop(columns=["reference", "bleu", "rougeL"])
        return frame

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        try:
            widget_bundle = self.grid()._repr_mimebundle_(**kwargs)
        except Exception:  # no widget front end: the HTML table stands in
            return bundle
        if widget_bundle:
            bundle.update({k: v for k, v in widget_bundle.items() if k != "text/plain"})
        return bundle

    def __repr__(self) -> str:
        lines = [self._summary()]
        for r in self.records[:6]:
            label = self.column_label(r["model"], r["version"])
            lines.append(f"[{r['example']}] {label}: {_clip(r['output'])!r}")
        if len(self.records) > 6:
            lines.append(f"... {len(self.records) - 6} more (see .to_frame())")
        return "\n".join(lines)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class ChainRun(Result):
    """The outputs of a chain of prompts, step by step, with one MLflow trace per row."""

    steps: list[str]
    models: list[str]
    records: list[dict[str, Any]]
    n_examples: int
    generated: int
    trace_ids: dict[str, list[str]] = field(default_factory=dict)  # model -> one per row
    total_s: float = 0.0
    run_id: str | None = None

    _title = "chain"

    def to_frame(self) -> pd.DataFrame:
        """One row per (example, model, step)."""
        import pandas as pd

        cols = ["example", "model", "step", "version", "prompt", "output", "latency_s"]
        cols += ["prompt_tokens", "tokens", "cached", "trace_id"]
        return pd.DataFrame(self.records, columns=cols)

    def outputs(self, model: str | None = None) -> pd.DataFrame:
        """One row per example, one column per step: the outputs of ``model`` (the first)."""
        frame = self.to_frame()
        frame = frame[frame["model"] == (model or self.models[0])]
        table = frame.pivot(index="example", columns="step", values="output")
        return table[[s for s in self._order() if s in table.columns]]

    def _order(self) -> list[str]:
        seen: list[str] = []
        for r in self.records:
            if r["step"] not in seen:
                seen.append(r["step"])
        return seen

    def _summary(self) -> str:
        where = f" · run {self.run_id}" if self.run_id else ""
        return (
            f"chain {' → '.join(self.steps)}: {self.n_examples} example(s) x "
            f"{len(self.models)} model(s) · {self.generated} generated · "
            f"{self.total_s:.2f}s{where}"
        )

    def _display_frame(self) -> pd.DataFrame:
        return self.to_frame().drop(columns=["trace_id", "prompt"])

    def __repr__(self) -> str:
        lines = [self._summary()]
        for r in self.records[:6]:
            lines.append(f"[{r['example']}] {r['model']} {r['step']}: {_clip(r['output'])!r}")
        if len(self.records) > 6:
            lines.append(f"... {len(self.records) - 6} more (see .to_frame())")
        return "\n".join(lines)


# --- entry points --------------------------------------------------------------------------


def _check_models(models: Sequence[str] | str) -> list[str]:
    from llmops_magics.models import resolve

    specs = [models] if isinstance(models, str) else list(dict.fromkeys(models))
    if not specs:
        raise LlmopsError("No model given.", hint="Give at least one --model SPEC.")
    for spec in specs:
        resolve(spec)  # raises ModelNotFoundError, naming the spec, before any work
    return specs


def run(
    name: str,
    template: str | None = None,
    data: Any = None,
    *,
    models: Sequence[str] | str = ("smollm2",),
    namespace: Mapping[str, Any] | None = None,
    versions: Sequence[int | str] | None = None,
    limit: int | None = None,
    reference: str | None = None,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 8,
    system: str | None = None,
    chat: bool | None = None,
    stream: bool | None = None,
    progress: bool | None = None,
    track: bool = True,
) -> PromptRun:
    """Save a prompt template as a version (when it changed), render it and generate.

    Parameters
    ----------
    name
        The prompt's name in the workspace's MLflow prompt registry.
    template
        Jinja2 text; its variables come from ``data``'s columns, then from ``namespace``, and
        ``{{ outputs.OTHER }}`` is the output of prompt OTHER for the same row. None runs the
        stored latest version.
    data
        A DataFrame, one example per row; None renders the template once.
    models
        Model specs; adapters on one base share it in memory.
    versions
        Stored versions to compare (ints or "latest"); by default the given/latest template.
    limit
        Use the first ``limit`` rows.
    reference
        A column holding reference answers: per-cell BLEU and ROUGE-L.
    stream
        Show tokens as they arrive (default: in a notebook, when one output is generated).
    track
        Log MLflow runs and traces (the prompt registry is always used).

    Returns
    -------
    PromptRun
        Every output; identical (model, prompt, settings, seed) generations come from the cache.
    """
    started = time.perf_counter()
    namespace = namespace or {}
    specs = _check_models(models)
    params = GenerationParams(max_new_tokens, temperature, top_p, seed, batch_size, system, chat)
    rows, columns, digest = _rows(data, limit)
    _check_reference(reference, columns)
    created = False
    if template is not None and template.strip():
        current = register(name, template)
        created = current.created
    elif versions is None:
        current = get_prompt(name)
    chosen = [current] if versions is None else [get_prompt(name, v) for v in versions]
    chosen = list({v.version: v for v in chosen}.values())
    templates = [Template(v.template, name) for v in chosen]
    for t in templates:
        t.check_variables(columns, namespace)
    streaming = stream if stream is not None else _in_notebook()
    single = len(rows) == 1 and len(specs) == 1 and len(chosen) == 1
    live = _LiveText(f"{name} · {specs[0]}") if streaming and single else None
    session = _Session(
        rows, columns, namespace, params, track=track, progress=progress, stream=live
    )
    records: list[dict[str, Any]] = []
    for spec in specs:
        jobs: list[tuple[int, int, str]] = []
        for pv, t in zip(chosen, templates, strict=True):
            prompts = session.render(t, spec, (name,))
            jobs.extend((pv.version, i, p) for i, p in enumerate(prompts))
        cells = session.cells(spec, [p for _, _, p in jobs], [(name, v) for v, _, _ in jobs])
        used = {v: t.variables for v, t in zip([c.version for c in chosen], templates, strict=True)}
        for (version, i, prompt), cell in zip(jobs, cells, strict=True):
            g = cell.gen
            records.append(
                {
                    "example": i,
                    "input": _label(rows[i], [c for c in used[version] if c in columns]),
                    "model": spec,
                    "version": version,
                    "prompt": prompt,
                    "output": g.output,
                    "reference": None if reference is None else str(rows[i][reference]),
                    "latency_s": round(g.latency_s, 4),
                    "prompt_tokens": g.prompt_tokens,
                    "tokens": g.completion_tokens,
                    "bleu": math.nan,
                    "rougeL": math.nan,
                    "cached": cell.cached,
                    "trace_id": g.trace_id,
                    "generation_run_id": g.run_id,
                    "_key": cell.key,
                }
            )
    records.sort(key=lambda r: (r["example"], specs.index(r["model"]), r["version"]))
    if reference is not None:
        scores = _scores([r["output"] for r in records], [r["reference"] for r in records])
        for metric, values in scores.items():
            for r, value in zip(records, values, strict=True):
                r[metric] = value
    result = PromptRun(
        name=name,
        versions=[v.version for v in chosen],
        models=specs,
        records=records,
        n_examples=len(rows),
        generated=session.generated,
        params=params.to_dict(),
        reference=reference,
        data_hash=digest,
        created_version=created,
    )
    result.total_s = time.perf_counter() - started
    if track:
        _log_prompt_run(result, chosen, session)
    for r in records:
        r.pop("_key")
    return result


def _trace_fresh(session: _Session, run_id: str, exp_id: str, mlflow: Any) -> dict[str, str]:
    """One LLM span (its own trace) per generation this call made; returns key -> trace id."""
    traces: dict[str, str] = {}
    for key, f in session.fresh.items():
        span = mlflow.start_span_no_context(
            f.step,
            span_type="LLM",
            inputs={"prompt": f.prompt},
            attributes={"model": f.spec, "prompt_uri": f"prompts:/{f.step}/{f.version}"}
            | session.params.to_dict(),
            tags={"llmops.model": f.spec, "llmops.run_id": run_id, "llmops.prompt": f.step},
            experiment_id=exp_id,
            start_time_ns=f.start_ns,
        )
        span.end(
            outputs={"text": f.gen.output},
            attributes={
                "prompt_tokens": f.gen.prompt_tokens,
                "completion_tokens": f.gen.completion_tokens,
            },
            end_time_ns=f.end_ns,
        )
        traces[key] = span.trace_id
    return traces


def _store_traces(session: _Session, traces: dict[str, str], run_id: str) -> None:
    """Record in the cache which trace and run hold each new generation."""
    import dataclasses

    items = []
    for key, f in session.fresh.items():
        gen = dataclasses.replace(f.gen, trace_id=traces.get(key), run_id=run_id)
        items.append((key, f.spec, f.prompt, gen))
    session.cache.put_many(items)


def _log_prompt_run(result: PromptRun, versions: list[PromptVersion], session: _Session) -> None:
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    with mlflow.start_run(experiment_id=exp_id, run_name=f"prompt {result.name}") as active:
        run_id = active.info.run_id
        traces = _trace_fresh(session, run_id, exp_id, mlflow)
        for r in result.records:
            if r["_key"] in traces:
                r["trace_id"], r["generation_run_id"] = traces[r["_key"]], run_id
        frame = result.to_frame()
        mlflow.set_tags(
            {
                "llmops.stage": "prompt",
                "llmops.prompt": result.name,
                "llmops.prompt_versions": ",".join(str(v) for v in result.versions),
                "llmops.data_hash": result.data_hash,
            }
        )
        mlflow.log_params(
            {
                "prompt": result.name,
                "versions": ",".join(str(v) for v in result.versions),
                "models": ",".join(result.models),
                "n_examples": result.n_examples,
                "reference": result.reference or "",
            }
            | result.params
        )
        metrics: dict[str, float] = {
            "generated": float(result.generated),
            "cached": float(result.cached),
            "total_s": result.total_s,
        }
        for (model, version), group in frame.groupby(["model", "version"]):
            tag = f"{_metric_name(str(model))}.v{version}"
            metrics[f"mean_latency_s.{tag}"] = float(group["latency_s"].mean())
            for metric in ("bleu", "rougeL"):
                value = group[metric].astype(float).mean()
                if not math.isnan(value):
                    metrics[f"{metric}.{tag}"] = float(value)
        mlflow.log_metrics(metrics)
        mlflow.log_text(frame.to_json(orient="records", lines=True), "prompt_run.jsonl")
        client = mlflow.MlflowClient(ws.tracking_uri, registry_uri=ws.tracking_uri)
        for pv in versions:
            try:
                client.link_prompt_version_to_run(active.info.run_id, pv.uri)
            except Exception:  # lineage is a bonus; the run itself is stored
                mlflow.set_tag(f"llmops.prompt_uri.v{pv.version}", pv.uri)
    if traces:
        # Traces are exported asynchronously; flush once so feedback can be attached at once
        # (a flush costs up to a second, so a fully cached re-run skips it).
        mlflow.flush_trace_async_logging()
        _store_traces(session, traces, run_id)
    result.run_id = run_id


def _metric_name(model: str) -> str:
    import re

    short = model.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_\-. ]", "_", short)[:60]


def chain(
    steps: Sequence[str],
    data: Any = None,
    *,
    models: Sequence[str] | str = ("smollm2",),
    namespace: Mapping[str, Any] | None = None,
    limit: int | None = None,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 8,
    system: str | None = None,
    chat: bool | None = None,
    progress: bool | None = None,
    track: bool = True,
) -> ChainRun:
    """Run stored prompts in order; each may read earlier ones as ``{{ outputs.NAME }}``.

    Each step is batched over the rows; a row's steps are recorded as spans of one MLflow trace
    (one trace per row and model). Prompts that a step reads but the chain does not name run
    first, as extra steps.

    Parameters
    ----------
    steps
        Prompt names, in order (the latest version of each is used).
    data, models, namespace, limit, max_new_tokens, temperature, top_p, seed, batch_size
        As for :func:`run`.
    """
    started = time.perf_counter()
    names = list(steps)
    if not names:
        raise LlmopsError("A chain needs at least one prompt.", hint="%llmops chain A B --data df")
    namespace = namespace or {}
    specs = _check_models(models)
    params = GenerationParams(max_new_tokens, temperature, top_p, seed, batch_size, system, chat)
    rows, columns, digest = _rows(data, limit)
    session = _Session(
        rows, columns, namespace, params, track=track, progress=progress, stream=None
    )
    for name in names:
        session.prompt(name)[1].check()  # every step exists and compiles before any generation
    for spec in specs:
        for name in names:
            session.step(name, spec)
    records: list[dict[str, Any]] = []
    for spec in specs:
        for s in session.steps.get(spec, []):
            for i, (prompt, cell) in enumerate(zip(s.prompts, s.cells, strict=True)):
                g = cell.gen
                records.append(
                    {
                        "example": i,
                        "model": spec,
                        "step": s.name,
                        "version": s.version,
                        "prompt": prompt,
                        "output": g.output,
                        "latency_s": round(g.latency_s, 4),
                        "prompt_tokens": g.prompt_tokens,
                        "tokens": g.completion_tokens,
                        "cached": cell.cached,
                        "trace_id": None,
                    }
                )
    result = ChainRun(
        steps=names,
        models=specs,
        records=records,
        n_examples=len(rows),
        generated=session.generated,
    )
    if track:
        _log_chain(result, session, digest)
    result.total_s = time.perf_counter() - started
    return result


def _log_chain(result: ChainRun, session: _Session, digest: str) -> None:
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    title = " → ".join(result.steps)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"chain {title}") as active:
        run_id = active.info.run_id
        traces: dict[str, str] = {}
        mlflow.set_tags({"llmops.stage": "chain", "llmops.data_hash": digest})
        mlflow.log_params(
            {"steps": ",".join(result.steps), "models": ",".join(result.models)}
            | {"n_examples": result.n_examples}
            | session.params.to_dict()
        )
        for spec in result.models:
            steps = session.steps.get(spec, [])
            ids: list[str] = []
            for i, row in enumerate(session.rows):
                root = mlflow.start_span_no_context(
                    f"chain {title}",
                    span_type="CHAIN",
                    inputs={k: _jsonable(v) for k, v in row.items()},
                    attributes={"model": spec, "steps": json.dumps(result.steps)},
                    tags={"llmops.model": spec, "llmops.run_id": run_id, "llmops.stage": "chain"},
                    experiment_id=exp_id,
                    start_time_ns=steps[0].start_ns,
                )
                for s in steps:
                    cell = s.cells[i]
                    span = mlflow.start_span_no_context(
                        s.name,
                        span_type="LLM",
                        parent_span=root,
                        inputs={"prompt": s.prompts[i]},
                        attributes={
                            "prompt_uri": f"prompts:/{s.name}/{s.version}",
                            "model": spec,
                            "cached": cell.cached,
                        },
                        start_time_ns=s.start_ns,
                    )
                    span.end(
                        outputs={"text": cell.gen.output},
                        attributes={
                            "prompt_tokens": cell.gen.prompt_tokens,
                            "completion_tokens": cell.gen.completion_tokens,
                        },
                        end_time_ns=max(s.end_ns, s.start_ns + 1),
                    )
                root.end(
                    outputs={"output": steps[-1].cells[i].gen.output},
                    end_time_ns=steps[-1].end_ns + 1,
                )
                ids.append(root.trace_id)
                for s in steps:  # a new generation points at the first chain trace using it
                    traces.setdefault(s.cells[i].key, root.trace_id)
            result.trace_ids[spec] = ids
        for r in result.records:
            r["trace_id"] = result.trace_ids[r["model"]][r["example"]]
        mlflow.log_text(result.to_frame().to_json(orient="records", lines=True), "chain_run.jsonl")
    mlflow.flush_trace_async_logging()
    _store_traces(session, {k: v for k, v in traces.items() if k in session.fresh}, run_id)
    result.run_id = run_id


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
