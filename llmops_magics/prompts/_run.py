"""Running a prompt template over data with several models, cached, scored and traced."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from llmops_magics import progress as _progress
from llmops_magics.models import GenerationParams
from llmops_magics.prompts._config import PromptConfig, settings
from llmops_magics.prompts._generation import Session, Streamer
from llmops_magics.prompts._registry import PromptVersion, get_prompt, register
from llmops_magics.prompts._results import PromptRun
from llmops_magics.prompts._rows import check_models, check_reference, label, read_rows
from llmops_magics.prompts._sandbox import as_data
from llmops_magics.prompts._scores import scores
from llmops_magics.prompts._template import Template
from llmops_magics.prompts._tracking import log_prompt_run

__all__ = ["run"]


def run(
    name: str,
    template: str | None = None,
    data: Any = None,
    *,
    config: PromptConfig | None = None,
    params: GenerationParams | None = None,
    namespace: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    progress: _progress.ProgressOption = None,
    **options: Any,
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
    config
        The run's options (:class:`PromptConfig`): ``models`` (specs; adapters on one base
        share it in memory), ``versions`` (stored versions to compare, ints or "latest"; by
        default the given/latest template), ``limit`` (the first rows), ``reference`` (a column
        of reference answers: per-cell BLEU and ROUGE-L), ``stream`` (show the tokens of a
        single output as they arrive; default: with a notebook front end) and ``track`` (log
        MLflow runs and traces; the prompt registry is always used).
    params
        Decoding settings (:class:`~llmops_magics.models.GenerationParams`).
    namespace
        The notebook's variables (a magic passes them): only ``template``, the text given in
        this call, reads them, each copied in as data (strings, numbers, booleans, None, dates,
        and lists and dicts of them; anything else is refused by name). A version loaded from
        the registry may be someone else's: it reads data columns and ``variables`` only.
    variables
        Explicit variables that every template of the call may read (copied in as data).
    progress
        How generation progress shows (:data:`llmops_magics.progress.ProgressOption`).
    **options
        Single fields of ``config`` or ``params`` (``models=["smollm2"]``,
        ``max_new_tokens=12``...), overriding them.

    Returns
    -------
    PromptRun
        Every output; identical (model, prompt, settings, seed) generations come from the cache.
    """
    started = time.perf_counter()
    cfg, gen = settings(PromptConfig, config, params, options)
    specs = check_models(cfg.models)
    rows, columns, digest = read_rows(data, cfg.limit)
    check_reference(cfg.reference, columns)
    namespace, variables = namespace or {}, variables or {}
    given = template.strip() if template is not None and template.strip() else None
    if given is not None:  # a text that cannot render, or reads code, is not stored
        own = Template(given, name, own=True)
        own.check_variables(columns, namespace, variables)
        for v in own.variables:
            if v not in columns and v in namespace and v not in variables:
                as_data(namespace[v], f"The notebook variable {v!r}")
    chosen, created = _choose_versions(name, template, cfg.versions)
    templates = [Template(v.template, name, own=v.template == given) for v in chosen]
    for t in templates:
        t.check_variables(columns, namespace, variables)
    single = len(rows) == 1 and len(specs) == 1 and len(chosen) == 1
    streamer = Streamer.open(cfg.stream, f"{name} · {specs[0]}") if single else None
    try:
        with _executor(cfg, specs) as ex:
            session = Session(
                rows,
                columns,
                namespace,
                gen,
                variables=variables,
                progress=progress,
                stream=streamer,
                executor=ex if ex.spec.distributed else None,
                name=name,
                track=cfg.track,
            )
            records = [
                record
                for spec in specs
                for record in _records(session, spec, name, chosen, templates, cfg.reference)
            ]
    finally:
        if streamer is not None:
            streamer.close()
    records.sort(key=lambda r: (r["example"], specs.index(r["model"]), r["version"]))
    if cfg.reference is not None:
        _score(records)
    result = PromptRun(
        name=name,
        versions=[v.version for v in chosen],
        models=specs,
        records=records,
        n_examples=len(rows),
        generated=session.generated,
        params=gen.to_dict(),
        reference=cfg.reference,
        data_hash=digest,
        created_version=created,
    )
    result.total_s = time.perf_counter() - started
    if cfg.track:
        log_prompt_run(result, chosen, session)
    for r in records:
        r.pop("_key")
    return result


def _executor(cfg: PromptConfig, specs: list[str]) -> Any:
    """The run's executor, open; Dask workers are checked for the packages and the local
    models before any prompt is submitted (cache hits are never submitted)."""
    from llmops_magics import executor as executor_mod
    from llmops_magics.models import resolve

    local = [s for s in specs if not resolve(s).is_remote]
    return executor_mod.open_executor(
        cfg.executor, requires=executor_mod.GENERATE_REQUIRES, models=local
    )


def _choose_versions(
    name: str, template: str | None, versions: list[int | str] | None
) -> tuple[list[PromptVersion], bool]:
    """The versions to run (each once) and whether ``template`` was saved as a new version."""
    created = False
    if template is not None and template.strip():
        current = register(name, template)
        created = current.created
    elif versions is None:
        current = get_prompt(name)
    chosen = [current] if versions is None else [get_prompt(name, v) for v in versions]
    return list({v.version: v for v in chosen}.values()), created


def _records(
    session: Session,
    spec: str,
    name: str,
    chosen: list[PromptVersion],
    templates: list[Template],
    reference: str | None,
) -> list[dict[str, Any]]:
    """One record per (example, version) with model ``spec``, generated or from the cache."""
    jobs: list[tuple[int, int, str]] = []
    for pv, t in zip(chosen, templates, strict=True):
        prompts = session.render(t, spec, (name,))
        jobs.extend((pv.version, i, p) for i, p in enumerate(prompts))
    cells = session.cells(spec, [p for _, _, p in jobs], [(name, v) for v, _, _ in jobs])
    used = {pv.version: t.variables for pv, t in zip(chosen, templates, strict=True)}
    records = []
    for (version, i, prompt), cell in zip(jobs, cells, strict=True):
        row, g = session.rows[i], cell.gen
        records.append(
            {
                "example": i,
                "input": label(row, [c for c in used[version] if c in session.columns]),
                "model": spec,
                "version": version,
                "prompt": prompt,
                "output": g.output,
                "reference": None if reference is None else str(row[reference]),
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
    return records


def _score(records: list[dict[str, Any]]) -> None:
    """Fill in each record's BLEU and ROUGE-L against its reference."""
    found = scores([r["output"] for r in records], [r["reference"] for r in records])
    for metric, values in found.items():
        for r, value in zip(records, values, strict=True):
            r[metric] = value
