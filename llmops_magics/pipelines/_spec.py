"""Pipeline files: YAML with line numbers, stages, their graph, parameter checks.

.. code-block:: yaml

    name: demo
    seed: 0                      # given to every stage whose template declares `seed`
    stages:
      eda:                       # the template is the stage's name unless `template:` says
        params: {dataset: chatterbot, limit: 200}
      prep:
        inputs: {data_hash: eda.data_hash}   # parameter <- an earlier stage's output
      report:
        template: ./my_report.ipynb          # your own notebook, relative to this file
        after: [prep]                        # order only, no data
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmops_magics.pipelines._errors import PipelineError, PipelineSpecError
from llmops_magics.pipelines._params import coerce
from llmops_magics.pipelines._templates import (
    TemplateInfo,
    describe_template,
    template_names,
    template_path,
)

__all__ = ["Pipeline", "Stage", "load_pipeline", "parse_pipeline"]

_TOP_KEYS = {"name", "description", "seed", "stages"}
_STAGE_KEYS = {"template", "params", "inputs", "after"}


class _Map(dict):
    """A YAML mapping that remembers the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]


def _loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_map(loader: Any, node: Any) -> Iterator[_Map]:
        data = _Map()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        yield data
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                hash(key)
            except TypeError:
                raise PipelineSpecError(
                    f"a mapping key must be text, got {key!r}", line=line
                ) from None
            if key in data:
                raise PipelineSpecError(
                    f"{key!r} is given twice (first on line {data.key_lines[key]})", line=line
                )
            data[key] = loader.construct_object(value_node, deep=True)
            data.key_lines[key] = line

    Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
    return Loader


@dataclass(frozen=True)
class Stage:
    """One stage: a template notebook, its parameters, and what it takes from earlier stages."""

    name: str
    template: str
    params: dict[str, Any] = field(default_factory=dict)
    #: parameter name -> (upstream stage, output name)
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    line: int | None = None
    #: line of each parameter and input key in the file
    lines: dict[str, int] = field(default_factory=dict, compare=False)
    #: the template notebook's path, resolved when the pipeline is checked
    notebook: str = ""

    @property
    def upstream(self) -> list[str]:
        """Stages this one waits for: those it takes outputs from, then ``after``."""
        names = [s for s, _ in self.inputs.values()]
        return list(dict.fromkeys([*names, *self.after]))


@dataclass(frozen=True)
class Pipeline:
    """A checked pipeline: stages in dependency order, each with its template described."""

    name: str
    stages: dict[str, Stage]
    seed: int = 0
    description: str = ""
    path: str | None = None
    source: str = ""
    templates: dict[str, TemplateInfo] = field(default_factory=dict, repr=False)

    @property
    def order(self) -> list[str]:
        """Stage names in the order they run."""
        return list(self.stages)

    def with_params(self, overrides: Mapping[str, Any]) -> Pipeline:
        """A copy with ``{"stage.key": value}`` (or ``{"key": value}`` for every stage that
        declares ``key``, ``seed`` for the pipeline) applied and checked."""
        stages = {n: dataclasses.replace(s, params=dict(s.params)) for n, s in self.stages.items()}
        seed = self.seed
        for name, value in overrides.items():
            stage_name, dot, key = name.rpartition(".")
            if not dot:
                key = name
                if key == "seed":
                    if not isinstance(value, int) or isinstance(value, bool):
                        raise PipelineError(f"-p seed={value!r}: the seed must be an integer.")
                    seed = value
                    continue
                targets = [s for s in stages if key in self.templates[s].parameters]
                if not targets:
                    raise PipelineError(
                        f"-p {name}: no stage declares a parameter {key!r}.",
                        hint="Write -p STAGE.PARAM=VALUE; %llmops templates lists parameters.",
                    )
            else:
                if stage_name not in stages:
                    raise PipelineError(
                        f"-p {name}: there is no stage {stage_name!r} in pipeline {self.name!r}.",
                        hint=f"Stages: {', '.join(stages)}.",
                    )
                targets = [stage_name]
            for target in targets:
                stage = stages[target]
                info = self.templates[target]
                if key not in info.parameters:
                    raise PipelineError(
                        f"-p {name}: template {info.name!r} of stage {target!r} does not declare "
                        f"a parameter {key!r}.",
                        hint=f"Its parameters: {', '.join(info.parameters) or '(none)'}.",
                    )
                if key in stage.inputs:
                    up, out = stage.inputs[key]
                    raise PipelineError(
                        f"-p {name}: stage {target!r} takes {key!r} from {up}.{out}; it cannot "
                        "also be set."
                    )
                stage.params[key] = coerce(
                    value, info.parameters[key].get("default"), where=f"-p {target}.{key}"
                )
        return dataclasses.replace(self, stages=stages, seed=seed)


def _fail(message: str, path: str | None, line: int | None, **kw: Any) -> PipelineSpecError:
    return PipelineSpecError(message, path=path, line=line, **kw)


def _line(mapping: Any, key: Any) -> int | None:
    if isinstance(mapping, _Map):
        return mapping.key_lines.get(key, mapping.line)
    return None


def parse_pipeline(text: str, *, path: str | None = None, base: Path | None = None) -> Pipeline:
    """Parse and check a pipeline from YAML text (``path`` only labels errors)."""
    import yaml

    label = path
    try:
        doc = yaml.load(text, Loader=_loader())  # a SafeLoader subclass
    except PipelineSpecError as exc:
        raise _fail(exc.message, label, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise _fail(
            f"the YAML does not parse: {problem}{context}",
            label,
            line,
            hint="Check the indentation and the quoting on that line.",
        ) from None
    except yaml.YAMLError as exc:
        raise _fail(f"the YAML does not parse: {exc}", label, None) from None
    if not isinstance(doc, dict):
        raise _fail(
            "a pipeline is a mapping with `name` and `stages`",
            label,
            1,
            hint="Start from pipelines/demo.yaml.",
        )
    for key in doc:
        if key not in _TOP_KEYS:
            raise _fail(
                f"unknown key {key!r}",
                label,
                _line(doc, key),
                hint=f"A pipeline has: {', '.join(sorted(_TOP_KEYS))}.",
            )
    default_name = Path(path).stem if path else "pipeline"
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise _fail(f"`name` must be a short text, got {name!r}", label, _line(doc, "name"))
    seed = doc.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise _fail(f"`seed` must be an integer, got {seed!r}", label, _line(doc, "seed"))
    raw_stages = doc.get("stages")
    if not isinstance(raw_stages, dict) or not raw_stages:
        raise _fail(
            "`stages` must map stage names to their settings",
            label,
            _line(doc, "stages") or 1,
            hint="e.g. stages: {eda: {params: {dataset: chatterbot}}}",
        )
    base = base or (Path(path).resolve().parent if path else Path.cwd())
    stages: dict[str, Stage] = {}
    for stage_name, raw in raw_stages.items():
        stages[str(stage_name)] = _parse_stage(str(stage_name), raw, raw_stages, label, base)
    templates = {name: _describe(stage, label) for name, stage in stages.items()}
    stages = {n: dataclasses.replace(s, notebook=templates[n].path) for n, s in stages.items()}
    _check_graph(stages, templates, label)
    ordered = {n: stages[n] for n in _topological(stages, label)}
    for n, stage in ordered.items():
        _check_params(stage, templates[n], label)
        stages_params = {}
        for k, v in stage.params.items():
            try:
                stages_params[k] = coerce(
                    v, templates[n].parameters[k].get("default"), where=f"stage {n!r}: {k}"
                )
            except PipelineError as exc:
                raise _fail(exc.message, label, stage.lines.get(k, stage.line), stage=n) from None
        ordered[n] = dataclasses.replace(stage, params=stages_params)
    description = doc.get("description", "")
    return Pipeline(
        name=name.strip(),
        stages=ordered,
        seed=seed,
        description=str(description or ""),
        path=path,
        source=text,
        templates={n: templates[n] for n in ordered},
    )


def load_pipeline(path: str | os.PathLike[str]) -> Pipeline:
    """Read and check the pipeline file ``path``."""
    p = Path(path)
    if not p.is_file():
        raise PipelineSpecError(
            "no such pipeline file", path=str(path), hint="Give the path of a .yaml file."
        )
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineSpecError(f"cannot read it: {exc}", path=str(path)) from exc
    return parse_pipeline(text, path=str(path), base=p.resolve().parent)


def _parse_stage(name: str, raw: Any, parent: Any, label: str | None, base: Path) -> Stage:
    line = _line(parent, name)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _fail(
            f"stage {name!r} must be a mapping (template, params, inputs, after), got {raw!r}",
            label,
            line,
            stage=name,
        )
    for key in raw:
        if key not in _STAGE_KEYS:
            raise _fail(
                f"stage {name!r}: unknown key {key!r}",
                label,
                _line(raw, key),
                stage=name,
                hint=f"A stage has: {', '.join(sorted(_STAGE_KEYS))}.",
            )
    template = raw.get("template", name)
    if not isinstance(template, str) or not template:
        raise _fail(
            f"stage {name!r}: `template` must be a template name or a .ipynb path",
            label,
            _line(raw, "template"),
            stage=name,
        )
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise _fail(
            f"stage {name!r}: `params` must be a mapping", label, _line(raw, "params"), stage=name
        )
    inputs_raw = raw.get("inputs") or {}
    if not isinstance(inputs_raw, dict):
        raise _fail(
            f"stage {name!r}: `inputs` must map parameters to STAGE.OUTPUT",
            label,
            _line(raw, "inputs"),
            stage=name,
        )
    inputs: dict[str, tuple[str, str]] = {}
    for param, ref in inputs_raw.items():
        up, dot, out = str(ref).partition(".")
        if not isinstance(ref, str) or not dot or not up or not out:
            raise _fail(
                f"stage {name!r}: input {param!r} must be STAGE.OUTPUT, got {ref!r}",
                label,
                _line(inputs_raw, param),
                stage=name,
            )
        if param in params:
            raise _fail(
                f"stage {name!r}: {param!r} is both a parameter and an input",
                label,
                _line(inputs_raw, param),
                stage=name,
            )
        inputs[str(param)] = (up, out)
    after = raw.get("after") or []
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise _fail(
            f"stage {name!r}: `after` must be a list of stage names",
            label,
            _line(raw, "after"),
            stage=name,
        )
    if template.endswith(".ipynb"):
        notebook = Path(template).expanduser()
        if not notebook.is_absolute():
            notebook = base / notebook
        if not notebook.is_file():
            raise _fail(
                f"stage {name!r}: the notebook {template!r} does not exist",
                label,
                _line(raw, "template") if "template" in raw else line,
                stage=name,
            )
        template = str(notebook)
    elif template not in template_names():
        raise _fail(
            f"stage {name!r}: {template!r} is not a template",
            label,
            _line(raw, "template") if "template" in raw else line,
            stage=name,
            hint=f"Known templates: {', '.join(template_names())}; or give a .ipynb path.",
        )
    return Stage(
        name=name,
        template=template,
        params={str(k): v for k, v in params.items()},
        inputs=inputs,
        after=tuple(after),
        line=line,
        lines={
            **{str(k): v for k, v in getattr(params, "key_lines", {}).items()},
            **{str(k): v for k, v in getattr(inputs_raw, "key_lines", {}).items()},
        },
    )


def _describe(stage: Stage, label: str | None) -> TemplateInfo:
    if stage.template.endswith(".ipynb"):
        return describe_template(stage.template)
    return describe_template(template_path(stage.template), stage.template)


def _check_graph(
    stages: dict[str, Stage], templates: dict[str, TemplateInfo], label: str | None
) -> None:
    for stage in stages.values():
        for up in stage.upstream:
            if up == stage.name:
                raise _fail(
                    f"stage {stage.name!r} depends on itself", label, stage.line, stage=stage.name
                )
            if up not in stages:
                param = next((p for p, (u, _) in stage.inputs.items() if u == up), None)
                raise _fail(
                    f"stage {stage.name!r} takes from {up!r}, which is not a stage of this "
                    "pipeline",
                    label,
                    stage.lines.get(param, stage.line) if param else stage.line,
                    stage=stage.name,
                    hint=f"Stages: {', '.join(stages)}.",
                )
        for param, (up, out) in stage.inputs.items():
            declared = templates[up].outputs
            if declared and out not in declared:
                raise _fail(
                    f"stage {stage.name!r}: input {param!r} takes {up}.{out}, but template "
                    f"{templates[up].name!r} has no output {out!r}",
                    label,
                    stage.lines.get(param, stage.line),
                    stage=stage.name,
                    hint=f"Its outputs: {', '.join(declared)}.",
                )


def _topological(stages: dict[str, Stage], label: str | None) -> list[str]:
    """Stages in dependency order, keeping the file's order where the graph allows."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done
    path: list[str] = []

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise _fail(
                f"the stages form a cycle: {' -> '.join(cycle)}",
                label,
                stages[name].line,
                stage=name,
                hint="A stage can only take outputs of stages that run before it.",
            )
        state[name] = 1
        path.append(name)
        for up in stages[name].upstream:
            visit(up)
        path.pop()
        state[name] = 2
        order.append(name)

    for name in stages:
        visit(name)
    return order


def _check_params(stage: Stage, info: TemplateInfo, label: str | None) -> None:
    for key in [*stage.params, *stage.inputs]:
        if key not in info.parameters:
            raise _fail(
                f"stage {stage.name!r}: template {info.name!r} does not declare a parameter "
                f"{key!r}",
                label,
                stage.lines.get(key, stage.line),
                stage=stage.name,
                hint=f"Its parameters: {', '.join(info.parameters) or '(none)'}.",
            )
