"""Prompt templates: Jinja2 compiled in a sandbox, checked before anything is generated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from llmops_magics.prompts import _sandbox
from llmops_magics.prompts._errors import TemplateError, UnknownVariableError

__all__ = ["OUTPUTS", "Template", "normalize"]

#: the template variable through which a prompt reads other prompts' outputs
OUTPUTS = "outputs"


def normalize(text: str) -> str:
    """The stored form of a template: surrounding blank lines and spaces removed."""
    return text.strip()


def _template_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@dataclass(frozen=True)
class Template:
    """A named prompt template (Jinja2 syntax), compiled once.

    Parameters
    ----------
    text
        The template, e.g. ``"Answer briefly: {{ question }}"``.
    name
        The prompt's name, used in error messages.
    """

    text: str
    name: str = ""
    #: True when the caller wrote this text in this call (a cell, ``--template``): it may read
    #: the notebook's variables. A version loaded from the registry may have been written by
    #: someone else: it reads data columns and explicit variables only.
    own: bool = False

    @cached_property
    def _parsed(self) -> tuple[Any, Any, Any]:
        from jinja2 import TemplateSyntaxError

        env = _sandbox.environment()
        try:
            ast = env.parse(self.text)
            compiled = env.from_string(self.text)
        except TemplateSyntaxError as exc:
            raise TemplateError(
                f"Template syntax error: {exc.message}",
                name=self.name,
                line=exc.lineno,
                hint="Jinja2 syntax: {{ variable }}, {% if cond %}...{% endif %}, "
                "{% for x in xs %}...{% endfor %}.",
            ) from None
        return env, ast, compiled

    def check(self) -> Template:
        """Compile the template; raise :class:`TemplateError` with the line on a syntax error."""
        self._parsed  # noqa: B018 - compiling is the check
        return self

    @cached_property
    def variables(self) -> list[str]:
        """The names the template reads from outside (columns, notebook variables, outputs)."""
        from jinja2 import meta

        env, ast, _ = self._parsed
        return sorted(meta.find_undeclared_variables(ast) - set(env.globals))

    @cached_property
    def dependencies(self) -> list[str]:
        """Other prompts whose outputs this template reads (``{{ outputs.NAME }}``), in order."""
        from jinja2 import nodes

        _, ast, _ = self._parsed
        found: list[str] = []
        for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
            target = node.node
            if not (isinstance(target, nodes.Name) and target.name == OUTPUTS):
                continue
            if isinstance(node, nodes.Getattr):
                key = node.attr
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                key = node.arg.value
            else:
                raise TemplateError(
                    "outputs[...] must name a prompt literally",
                    name=self.name,
                    line=node.lineno,
                    hint="Write {{ outputs.NAME }} or {{ outputs['NAME'] }}.",
                )
            if key not in found:
                found.append(key)
        return found

    def _line_of(self, variable: str) -> int | None:
        from jinja2 import nodes

        _, ast, _ = self._parsed
        for node in ast.find_all(nodes.Name):
            if node.name == variable:
                return int(node.lineno)
        return None

    def check_variables(
        self,
        columns: Iterable[str],
        namespace: Mapping[str, Any],
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise :class:`UnknownVariableError` for the first variable with no source
        (``namespace`` counts only for the caller's :attr:`own` text)."""
        cols = list(columns)
        known = set(cols) | set(variables or {}) | {OUTPUTS}
        if self.own:
            known |= set(namespace)
        for variable in self.variables:
            if variable not in known:
                raise UnknownVariableError(
                    variable,
                    name=self.name,
                    columns=cols,
                    line=self._line_of(variable),
                    stored=not self.own and variable in namespace,
                )

    def render(self, values: Mapping[str, Any]) -> str:
        """Render with ``values``; errors name the prompt and the line."""
        from jinja2 import TemplateError as JinjaError
        from jinja2 import UndefinedError

        _, _, compiled = self._parsed
        try:
            return _sandbox.render(compiled, values).strip()
        except TemplateError as exc:  # a bound of the sandbox
            raise TemplateError(
                f"Cannot render the template: {exc.message}",
                name=self.name,
                line=_template_line(exc),
                hint=exc.hint,
            ) from None
        except UndefinedError as exc:
            raise TemplateError(
                f"Cannot render the template: {exc.message}",
                name=self.name,
                line=_template_line(exc),
                hint="Every variable must be a data column, a notebook variable or "
                "outputs.PROMPT of a prompt that runs first.",
            ) from None
        except JinjaError as exc:
            raise TemplateError(
                f"Cannot render the template: {exc}", name=self.name, line=_template_line(exc)
            ) from None
        except Exception as exc:  # an error inside a filter or a notebook object's method
            raise TemplateError(
                f"Cannot render the template: {type(exc).__name__}: {exc}",
                name=self.name,
                line=_template_line(exc),
            ) from None
