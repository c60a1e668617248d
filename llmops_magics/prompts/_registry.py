"""Prompt versions in the workspace's MLflow prompt registry."""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llmops_magics import tracking
from llmops_magics.errors import WorkspaceError
from llmops_magics.prompts._errors import PromptNotFoundError, TemplateError
from llmops_magics.prompts._template import Template, normalize
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PromptDiff",
    "PromptList",
    "PromptVersion",
    "diff",
    "get_prompt",
    "list_prompts",
    "register",
]


@dataclass(frozen=True)
class PromptVersion:
    """One stored version of a prompt."""

    name: str
    version: int
    template: str
    created: bool = False  # True when this call registered it
    created_at: int = 0  # ms since the epoch

    @property
    def uri(self) -> str:
        """The MLflow URI of this version (``prompts:/NAME/VERSION``)."""
        return f"prompts:/{self.name}/{self.version}"


def _prompts() -> tracking.Prompts:
    """The prompt registry of the active workspace's store."""
    return tracking.tracker().prompts


def _check_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", name or ""):
        raise TemplateError(
            f"{name!r} is not a valid prompt name",
            hint="Use letters, digits, '_', '-' and '.', e.g. summarize or qa-v2.",
        )


def _versions(registry: tracking.Prompts, name: str) -> list[PromptVersion]:
    try:
        found = registry.versions(name)
    except Exception as exc:
        raise WorkspaceError(f"Cannot read the prompt registry: {exc}") from exc
    out = [
        PromptVersion(p.name, int(p.version), p.template, created_at=int(p.creation_timestamp or 0))
        for p in found
    ]
    return sorted(out, key=lambda v: v.version)


def register(name: str, template: str, *, message: str | None = None) -> PromptVersion:
    """Save ``template`` as the next version of prompt ``name`` unless it is the latest already.

    The text is checked (Jinja2 syntax) first, so a broken template is never stored.

    Returns
    -------
    PromptVersion
        The new version (``created=True``) or the latest one when the text is unchanged.
    """
    _check_name(name)
    text = normalize(template)
    if not text:
        raise TemplateError(
            f"The template of prompt {name!r} is empty",
            hint="Write the prompt in the cell body, e.g. Answer briefly: {{ question }}",
        )
    Template(text, name).check()
    registry = _prompts()
    # One writer at a time: two kernels saving the same text must not make two versions.
    with registry.tracker.workspace.lock("prompts"):
        versions = _versions(registry, name)
        if versions and versions[-1].template == text:
            return versions[-1]
        pv = registry.register(name, text, message=message, tags={tracking.STAGE: "prompt"})
    return PromptVersion(
        name, int(pv.version), text, created=True, created_at=int(pv.creation_timestamp or 0)
    )


def get_prompt(name: str, version: int | str | None = None) -> PromptVersion:
    """A stored version of prompt ``name`` (the latest when ``version`` is None or "latest")."""
    versions = _versions(_prompts(), name)
    if not versions:
        raise PromptNotFoundError(name, known=sorted({p.name for p in list_prompts().prompts}))
    if version is None or version == "latest":
        return versions[-1]
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise PromptNotFoundError(name, version=None) from None
    for v in versions:
        if v.version == number:
            return v
    raise PromptNotFoundError(name, number)


@dataclass(frozen=True)
class PromptList(Result):
    """The prompts stored in the workspace (or the versions of one prompt)."""

    prompts: list[PromptVersion]
    name: str | None = None

    _title = "llmops prompts"

    def to_frame(self) -> pd.DataFrame:
        """One row per prompt (its latest version), or per version when a name was given."""
        import pandas as pd

        rows = [
            {
                "name": p.name,
                "version": p.version,
                "versions" if self.name is None else "uri": (
                    _count(self.prompts, p.name) if self.name is None else p.uri
                ),
                "template": p.template,
                "created": pd.Timestamp(p.created_at, unit="ms", tz="UTC").floor("s"),
            }
            for p in (self.prompts if self.name else _latest(self.prompts))
        ]
        columns = ["name", "version", "versions" if self.name is None else "uri"]
        return pd.DataFrame(rows, columns=[*columns, "template", "created"])

    def _summary(self) -> str:
        if self.name:
            return f"prompt {self.name}: {len(self.prompts)} version(s)"
        return f"llmops prompts: {len(_latest(self.prompts))} prompt(s)"

    def __repr__(self) -> str:
        frame = self.to_frame()
        if frame.empty:
            return self._summary() + " (none yet: create one with a %%llmops prompt NAME cell)"
        frame["template"] = [t if len(t) <= 50 else t[:49] + "…" for t in frame["template"]]
        return self._summary() + "\n" + frame.to_string(index=False)


def _latest(prompts: list[PromptVersion]) -> list[PromptVersion]:
    latest: dict[str, PromptVersion] = {}
    for p in prompts:
        if p.name not in latest or p.version > latest[p.name].version:
            latest[p.name] = p
    return sorted(latest.values(), key=lambda p: p.name)


def _count(prompts: list[PromptVersion], name: str) -> int:
    return sum(p.name == name for p in prompts)


def list_prompts(name: str | None = None) -> PromptList:
    """Every prompt in the workspace with its versions, or the versions of prompt ``name``."""
    registry = _prompts()
    if name is not None:
        versions = _versions(registry, name)
        if not versions:
            raise PromptNotFoundError(name, known=sorted({p.name for p in list_prompts().prompts}))
        return PromptList(versions, name=name)
    every = [v for n in sorted(set(registry.names())) for v in _versions(registry, n)]
    return PromptList(every)


@dataclass(frozen=True)
class PromptDiff(Result):
    """A unified diff between two versions of a prompt."""

    name: str
    old: PromptVersion
    new: PromptVersion
    lines: list[str] = field(default_factory=list)

    _title = "prompt-diff"

    @property
    def changed(self) -> bool:
        """Whether the two versions differ."""
        return self.old.template != self.new.template

    def to_frame(self) -> pd.DataFrame:
        """One row per diff line, with its kind (added, removed, context, header)."""
        import pandas as pd

        kinds = {"+": "added", "-": "removed", " ": "context", "@": "header"}
        rows = [
            {"kind": kinds.get(line[:1], "header"), "line": line}
            for line in self.lines
            if not line.startswith(("+++", "---"))
        ]
        return pd.DataFrame(rows, columns=["kind", "line"])

    def _summary(self) -> str:
        if not self.changed:
            return f"prompt {self.name}: v{self.old.version} and v{self.new.version} are identical"
        return f"prompt {self.name}: v{self.old.version} → v{self.new.version}"

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def __repr__(self) -> str:
        return self._summary() + ("\n" + str(self) if self.changed else "")

    def _repr_html_(self) -> str:
        colors = {"+": "#e6ffed", "-": "#ffeef0", "@": "#f1f8ff"}
        body = "".join(
            f'<div style="background:{colors.get(line[:1], "transparent")}">'
            f"{html.escape(line) or '&nbsp;'}</div>"
            for line in self.lines
        )
        return (
            f"<div><p><b>{html.escape(self._summary())}</b></p>"
            f'<pre style="font-family:monospace">{body}</pre></div>'
        )


def diff(name: str, old: int | str, new: int | str) -> PromptDiff:
    """The changes from version ``old`` to version ``new`` of prompt ``name``."""
    a, b = get_prompt(name, old), get_prompt(name, new)
    lines = list(
        difflib.unified_diff(
            a.template.splitlines(),
            b.template.splitlines(),
            fromfile=a.uri,
            tofile=b.uri,
            lineterm="",
        )
    )
    return PromptDiff(name, a, b, lines)
