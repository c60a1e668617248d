"""Errors of the prompt iteration stage."""

from __future__ import annotations

from collections.abc import Iterable

from llmops_magics.errors import LlmopsError

__all__ = ["PromptNotFoundError", "TemplateError", "UnknownVariableError"]


class TemplateError(LlmopsError, ValueError):
    """A prompt template that cannot be compiled or rendered.

    ``line`` is the 1-based line of the template where the problem is (None when unknown).
    """

    def __init__(
        self, message: str, *, name: str = "", line: int | None = None, hint: str | None = None
    ) -> None:
        self.name = name
        self.line = line
        where = f" (prompt {name!r}, line {line})" if name and line else ""
        if not name and line:
            where = f" (line {line})"
        super().__init__(f"{message}{where}", hint=hint)


class UnknownVariableError(TemplateError, LookupError):
    """A template variable that is neither a data column nor a notebook variable."""

    def __init__(
        self,
        variable: str,
        *,
        name: str = "",
        columns: Iterable[str] = (),
        line: int | None = None,
        stored: bool = False,
    ) -> None:
        self.variable = variable
        self.columns = list(columns)
        cols = ", ".join(self.columns) if self.columns else "(no --data given)"
        if stored:  # a registry version does not read the notebook: it may be someone else's
            super().__init__(
                f"The stored template uses {{{{ {variable} }}}}: a version from the registry "
                "reads data columns and explicit variables only, not notebook variables",
                name=name,
                line=line,
                hint=f"Pass it explicitly: --var {variable} (the notebook variable) or --var "
                f"{variable}=TEXT; in Python, variables={{{variable!r}: ...}}.",
            )
            return
        super().__init__(
            f"The template uses {{{{ {variable} }}}}, which is neither a data column nor a "
            "notebook variable",
            name=name,
            line=line,
            hint=f"Data columns: {cols}. Define {variable} in the notebook, pass --data with a "
            f"{variable!r} column, or fix the name.",
        )


class PromptNotFoundError(LlmopsError, LookupError):
    """A prompt name or version that the workspace's prompt registry does not hold."""

    def __init__(self, name: str, version: int | None = None, *, known: Iterable[str] = ()):
        self.name = name
        self.version = version
        self.known = list(known)
        what = f"prompt {name!r}" if version is None else f"version {version} of prompt {name!r}"
        hint = (
            f"Create it with a %%llmops prompt {name} cell."
            if version is None
            else f"See its versions with %llmops prompts {name}."
        )
        if version is None and self.known:
            hint += f" Known prompts: {', '.join(self.known)}."
        super().__init__(f"The workspace has no {what}.", hint=hint)
