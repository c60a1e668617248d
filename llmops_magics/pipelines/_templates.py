"""Template notebooks: finding, describing (papermill's ``inspect_notebook``) and copying them.

A template is a notebook with one cell tagged ``parameters``. Its notebook metadata may say what
it produces: ``metadata.llmops = {"description": "...", "outputs": ["train_hash", ...]}``; the
runner checks that pipelines only take outputs a template declares and that each run records
them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.files import atomic_write
from llmops_magics.pipelines._errors import PipelineError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TemplateCopy",
    "TemplateInfo",
    "TemplateList",
    "copy_template",
    "describe_template",
    "template_names",
    "template_path",
    "templates",
]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


def template_names() -> list[str]:
    """Names of the templates shipped with the package (``eda``, ``prep``, ...)."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.ipynb"))


def template_path(name: str) -> Path:
    """The notebook of the shipped template ``name``."""
    path = TEMPLATE_DIR / f"{name}.ipynb"
    if not path.is_file():
        known = ", ".join(template_names()) or "(none)"
        raise PipelineError(
            f"There is no template named {name!r}.",
            hint=f"Known templates: {known}; or give the path of your own notebook (*.ipynb).",
        )
    return path


@dataclass(frozen=True)
class TemplateInfo(Result):
    """A template's name, file, description, parameters (with defaults) and outputs."""

    name: str
    path: str
    description: str
    parameters: dict[str, dict[str, Any]]
    outputs: list[str] = field(default_factory=list)

    _title = "template"

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: name, type, default, help."""
        import pandas as pd

        rows = [
            {
                "parameter": name,
                "type": p.get("inferred_type_name", ""),
                "default": p.get("default", ""),
                "help": p.get("help", ""),
            }
            for name, p in self.parameters.items()
        ]
        return pd.DataFrame(rows, columns=["parameter", "type", "default", "help"])

    def _summary(self) -> str:
        outs = ", ".join(self.outputs) or "(none declared)"
        return f"template {self.name}: {self.description} — outputs: {outs}"

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v.get('default')}" for k, v in self.parameters.items())
        return f"{self._summary()}\n  parameters: {params}\n  file: {self.path}"


@dataclass(frozen=True)
class TemplateList(Result):
    """What ``%llmops templates`` shows: every shipped template with its parameters."""

    templates: list[TemplateInfo]

    _title = "templates"

    def to_frame(self) -> pd.DataFrame:
        """One row per template: name, description, parameters (name=default), outputs."""
        import pandas as pd

        rows = [
            {
                "template": t.name,
                "description": t.description,
                "parameters": ", ".join(f"{k}={v.get('default')}" for k, v in t.parameters.items()),
                "outputs": ", ".join(t.outputs),
            }
            for t in self.templates
        ]
        return pd.DataFrame(rows, columns=["template", "description", "parameters", "outputs"])

    def _summary(self) -> str:
        return f"{len(self.templates)} templates (copy one to edit: %llmops template copy NAME)"

    def __getitem__(self, name: str) -> TemplateInfo:
        for t in self.templates:
            if t.name == name:
                return t
        raise KeyError(name)

    def names(self) -> list[str]:
        """The templates' names."""
        return [t.name for t in self.templates]

    def __repr__(self) -> str:
        lines = [self._summary()]
        for t in self.templates:
            lines.append(f"  {t.name:<16} {t.description}")
            params = ", ".join(f"{k}={v.get('default')}" for k, v in t.parameters.items())
            lines.append(f"  {'':<16} parameters: {params}")
            if t.outputs:
                lines.append(f"  {'':<16} outputs: {', '.join(t.outputs)}")
        return "\n".join(lines)


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError(
            f"Cannot read the notebook {str(path)!r}: {exc}.",
            hint="A template must be a Jupyter notebook (.ipynb, JSON).",
        ) from exc
    meta = nb.get("metadata", {}).get("llmops", {})
    if not meta.get("description"):
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "markdown":
                text = "".join(cell.get("source", ""))
                first = next((ln.strip("# ").strip() for ln in text.splitlines() if ln.strip()), "")
                meta = {**meta, "description": first}
                break
    return dict(meta)


def describe_template(path: str | Path, name: str | None = None) -> TemplateInfo:
    """Parameters (papermill's ``inspect_notebook``), description and outputs of a notebook."""
    import papermill

    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"The template notebook {str(path)!r} does not exist.")
    meta = _read_metadata(path)
    try:
        params = papermill.inspect_notebook(str(path))
    except Exception as exc:
        raise PipelineError(f"Cannot inspect the notebook {str(path)!r}: {exc}.") from exc
    outputs = meta.get("outputs", [])
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise PipelineError(
            f"{str(path)!r}: metadata.llmops.outputs must be a list of names, got {outputs!r}."
        )
    return TemplateInfo(
        name=name or path.stem,
        path=str(path),
        description=str(meta.get("description", "")),
        parameters={k: dict(v) for k, v in params.items()},
        outputs=list(outputs),
    )


def templates() -> TemplateList:
    """Every shipped template with its parameters (``%llmops templates``)."""
    return TemplateList([describe_template(template_path(n), n) for n in template_names()])


@dataclass(frozen=True)
class TemplateCopy(Result):
    """Where ``%llmops template copy`` put a template."""

    name: str
    path: str

    _title = "template copied"

    def to_frame(self) -> pd.DataFrame:
        """The template and its new path."""
        import pandas as pd

        return pd.DataFrame([{"template": self.name, "path": self.path}])

    def __repr__(self) -> str:
        return (
            f"copied template {self.name} to {self.path}; edit it, then use it in a pipeline "
            f"with `template: {self.path}`"
        )


def copy_template(
    name: str, dest: str | Path | None = None, *, overwrite: bool = False
) -> TemplateCopy:
    """Copy template ``name`` into ``dest`` (a folder or a ``.ipynb`` path; default: here).

    An existing file is never replaced unless ``overwrite`` is true.
    """
    source = template_path(name)
    target = Path(dest) if dest is not None else Path.cwd()
    if target.suffix != ".ipynb":
        if target.exists() and not target.is_dir():
            raise PipelineError(
                f"{str(target)!r} is a file, not a folder or a .ipynb path.",
                hint="Give a folder, or a path that ends in .ipynb.",
            )
        target = target / f"{name}.ipynb"
    if (target.exists() or target.is_symlink()) and not overwrite:  # a dangling link too
        raise PipelineError(
            f"{str(target)!r} already exists.",
            hint="Give another destination, or --force to replace it.",
        )
    if target.is_dir():
        raise PipelineError(f"{str(target)!r} is a folder.", hint="Give a file path or a folder.")
    try:
        # written next to the target and renamed over it: a symbolic link there is replaced,
        # never written through
        atomic_write(target, source.read_bytes())
    except OSError as exc:
        raise PipelineError(
            f"Cannot write {str(target)!r}: {exc.strerror or exc}.",
            hint="Give a folder you can write to.",
        ) from None
    return TemplateCopy(name=name, path=str(target))
