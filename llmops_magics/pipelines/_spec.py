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
from llmops_magics.pipelines._paths import bad_name
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
        def compose_node(self, parent: Any, index: Any) -> Any:
            # An alias (*name) repeats a node without copying it: nested aliases expand
            # exponentially (a "billion laughs" bomb). Pipelines are small: write values out.
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise PipelineSpecError(
                    "YAML aliases (*name) are not allowed in a pipeline file",
                    line=mark.line + 1,
                    hint="Write the value out instead of an &anchor / *alias pair.",
                )
            return super().compose_node(parent, index)

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
    label = path
    doc = _read_yaml(text, label)
    name, seed = _check_top(doc, path, label)
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
        why = bad_name(stage_name)
        if why is not None:  # a stage's name is a file name of the run: never a path
            raise _fail(
                f"stage name {why}",
                label,
                _line(raw_stages, stage_name),
                hint="Rename the stage, e.g. prep_2.",
            )
        stages[str(stage_name)] = _parse_stage(str(stage_name), raw, raw_stages, label, base)
    templates = {name: _describe(stage) for name, stage in stages.items()}
    stages = {n: dataclasses.replace(s, notebook=templates[n].path) for n, s in stages.items()}
    _check_graph(stages, templates, label)
    ordered = {n: stages[n] for n in _topological(stages, label)}
    for n, stage in ordered.items():
        ordered[n] = _checked_params(stage, templates[n], label)
    return Pipeline(
        name=name,
        stages=ordered,
        seed=seed,
        description=str(doc.get("description", "") or ""),
        path=path,
        source=text,
        templates={n: templates[n] for n in ordered},
    )


def _read_yaml(text: str, label: str | None) -> Any:
    """The YAML document (mappings remember their lines); errors name the line."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # a SafeLoader subclass
    except PipelineSpecError as exc:
        raise _fail(exc.message, label, exc.line, hint=exc.hint) from None
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


def _only_known_keys(
    mapping: Any, known: set[str], what: str, label: str | None, *, stage: str | None = None
) -> None:
    """Refuse a key that is not in ``known`` (a typo), naming the known ones."""
    for key in mapping:
        if key not in known:
            raise _fail(
                f"stage {stage!r}: unknown key {key!r}" if stage else f"unknown key {key!r}",
                label,
                _line(mapping, key),
                stage=stage,
                hint=f"{what} has: {', '.join(sorted(known))}.",
            )


def _check_top(doc: Any, path: str | None, label: str | None) -> tuple[str, int]:
    """Check the top-level keys; return the pipeline's name and seed."""
    if not isinstance(doc, dict):
        raise _fail(
            "a pipeline is a mapping with `name` and `stages`",
            label,
            1,
            hint="Start from pipelines/demo.yaml.",
        )
    _only_known_keys(doc, _TOP_KEYS, "A pipeline", label)
    name = doc.get("name", Path(path).stem if path else "pipeline")
    if isinstance(name, str):
        name = name.strip()
    why = bad_name(name)
    if why is not None:  # the name is a folder of the workspace: never a path
        raise _fail(f"`name`: {why}", label, _line(doc, "name"), hint="e.g. name: my_pipeline")
    seed = doc.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise _fail(f"`seed` must be an integer, got {seed!r}", label, _line(doc, "seed"))
    return name, seed


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


# --- one stage ---------------------------------------------------------------------------------


def _parse_stage(name: str, raw: Any, parent: Any, label: str | None, base: Path) -> Stage:
    line = _line(parent, name)
    raw = _stage_mapping(name, {} if raw is None else raw, line, label)

    def fail(message: str, key: str) -> PipelineSpecError:
        return _fail(f"stage {name!r}: {message}", label, _line(raw, key), stage=name)

    template = raw.get("template", name)
    if not isinstance(template, str) or not template:
        raise fail("`template` must be a template name or a .ipynb path", "template")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise fail("`params` must be a mapping", "params")
    inputs_raw = raw.get("inputs") or {}
    if not isinstance(inputs_raw, dict):
        raise fail("`inputs` must map parameters to STAGE.OUTPUT", "inputs")
    inputs = _stage_inputs(name, inputs_raw, params, label)
    after = raw.get("after") or []
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise fail("`after` must be a list of stage names", "after")
    where = _line(raw, "template") if "template" in raw else line
    return Stage(
        name=name,
        template=_resolve_template(name, template, where, label, base),
        params={str(k): v for k, v in params.items()},
        inputs=inputs,
        after=tuple(after),
        line=line,
        lines={
            **{str(k): v for k, v in getattr(params, "key_lines", {}).items()},
            **{str(k): v for k, v in getattr(inputs_raw, "key_lines", {}).items()},
        },
    )


def _stage_mapping(name: str, raw: Any, line: int | None, label: str | None) -> Any:
    """A stage's settings: a mapping of the known keys."""
    if not isinstance(raw, dict):
        raise _fail(
            f"stage {name!r} must be a mapping (template, params, inputs, after), got {raw!r}",
            label,
            line,
            stage=name,
        )
    _only_known_keys(raw, _STAGE_KEYS, "A stage", label, stage=name)
    return raw


def _resolve_template(
    name: str, template: str, where: int | None, label: str | None, base: Path
) -> str:
    """A shipped template's name, or the absolute path of the stage's own notebook."""
    if not template.endswith(".ipynb"):
        if template not in template_names():
            raise _fail(
                f"stage {name!r}: {template!r} is not a template",
                label,
                where,
                stage=name,
                hint=f"Known templates: {', '.join(template_names())}; or give a .ipynb path.",
            )
        return template
    notebook = Path(template).expanduser()
    if not notebook.is_absolute():
        notebook = base / notebook
    if not notebook.is_file():
        raise _fail(
            f"stage {name!r}: the notebook {template!r} does not exist", label, where, stage=name
        )
    return str(notebook)


def _stage_inputs(
    name: str, inputs_raw: Any, params: Mapping[str, Any], label: str | None
) -> dict[str, tuple[str, str]]:
    """``{parameter: "STAGE.OUTPUT"}`` as ``{parameter: (stage, output)}``."""
    inputs: dict[str, tuple[str, str]] = {}
    for param, ref in inputs_raw.items():
        up, dot, out = str(ref).partition(".")
        problem = ""
        if not isinstance(ref, str) or not dot or not up or not out:
            problem = f"input {param!r} must be STAGE.OUTPUT, got {ref!r}"
        elif param in params:
            problem = f"{param!r} is both a parameter and an input"
        if problem:
            raise _fail(f"stage {name!r}: {problem}", label, _line(inputs_raw, param), stage=name)
        inputs[str(param)] = (up, out)
    return inputs


def _describe(stage: Stage) -> TemplateInfo:
    if stage.template.endswith(".ipynb"):
        return describe_template(stage.template)
    return describe_template(template_path(stage.template), stage.template)


# --- the whole graph ---------------------------------------------------------------------------


def _not_in_template(
    stage: Stage, key: str, message: str, what: str, known: list[str], label: str | None
) -> PipelineSpecError:
    """A stage names a parameter or an output that its template does not declare."""
    return _fail(
        f"stage {stage.name!r}: {message}",
        label,
        stage.lines.get(key, stage.line),
        stage=stage.name,
        hint=f"Its {what}: {', '.join(known) or '(none)'}.",
    )


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
                message = (
                    f"input {param!r} takes {up}.{out}, but template {templates[up].name!r} "
                    f"has no output {out!r}"
                )
                raise _not_in_template(stage, param, message, "outputs", declared, label)


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


def _checked_params(stage: Stage, info: TemplateInfo, label: str | None) -> Stage:
    """The stage with its parameters checked against the template and matched to its types."""
    for key in [*stage.params, *stage.inputs]:
        if key not in info.parameters:
            message = f"template {info.name!r} does not declare a parameter {key!r}"
            raise _not_in_template(stage, key, message, "parameters", list(info.parameters), label)
    params = {}
    for key, value in stage.params.items():
        try:
            params[key] = coerce(
                value, info.parameters[key].get("default"), where=f"stage {stage.name!r}: {key}"
            )
        except PipelineError as exc:
            line = stage.lines.get(key, stage.line)
            raise _fail(exc.message, label, line, stage=stage.name) from None
    return dataclasses.replace(stage, params=params)
