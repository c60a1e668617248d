"""Parameters as data: parsing ``-p stage.key=value`` and ``--grid``, checking types.

A value never becomes code. Command-line values are read as JSON where they are JSON (numbers,
``true``, ``null``, lists, quoted strings), as numbers where Python reads them as numbers
(``1e-4``), and as plain strings otherwise; papermill then writes each one into the notebook as a
Python literal (``"; import os`` becomes the string ``"\\"; import os"``). Values are coerced to
the type of the template's default, so ``-p eda.limit=100`` is an int and ``-p eda.name=123`` a
string where the template says so.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from llmops_magics.pipelines._errors import PipelineError

__all__ = [
    "MISSING",
    "coerce",
    "default_value",
    "grid_variants",
    "parse_assignment",
    "parse_grid",
    "parse_value",
]

MISSING = object()


def parse_value(text: str) -> Any:
    """Read one command-line value as data (never evaluated as code)."""
    stripped = text.strip()
    if stripped == "":
        return ""
    try:
        value = json.loads(stripped)
    except ValueError:
        pass
    else:
        return value
    try:
        return int(stripped, 10)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def parse_assignment(text: str, *, option: str = "-p") -> tuple[str, Any]:
    """``stage.key=value`` → ``("stage.key", value)``."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise PipelineError(
            f"{option} {text!r} is not NAME=VALUE.",
            hint=f"Write {option} stage.param=value, e.g. {option} finetune.lr=3e-4.",
        )
    return name, parse_value(raw)


def _split_values(raw: str) -> list[str]:
    """Split on commas outside quotes and brackets: ``a,"b,c",[1,2]`` → three values."""
    parts: list[str] = []
    depth = 0
    quote = ""
    current = ""
    for char in raw:
        if quote:
            current += char
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
            current += char
        elif char in "[{":
            depth += 1
            current += char
        elif char in "]}":
            depth -= 1
            current += char
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def parse_grid(specs: Iterable[str]) -> dict[str, list[Any]]:
    """``["finetune.lr=1e-4,3e-4", "finetune.r=4,8"]`` → ``{"finetune.lr": [...], ...}``."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip()
        if not sep or not name or not raw.strip():
            raise PipelineError(
                f"--grid {spec!r} is not NAME=V1,V2,...",
                hint='Write --grid "finetune.lr=1e-4,3e-4".',
            )
        if name in grid:
            raise PipelineError(
                f"--grid names {name!r} twice.", hint="Give all its values in one --grid."
            )
        values = [parse_value(v) for v in _split_values(raw)]
        grid[name] = values
    return grid


#: the most variants a grid may start unless its caller raises the cap (--max-variants)
MAX_VARIANTS = 1000


def grid_variants(
    grid: Mapping[str, list[Any]], *, max_variants: int = MAX_VARIANTS
) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order (the first name varies slowest).

    A grid of more than ``max_variants`` combinations is refused before any is made: each
    variant is a whole pipeline run, and 100 x 100 x 100 values are a million of them.
    """
    count = math.prod(len(v) for v in grid.values())
    if count > max_variants:
        sizes = " x ".join(str(len(v)) for v in grid.values())
        raise PipelineError(
            f"The grid has {count:,} variants ({sizes}), over the cap of {max_variants:,}.",
            hint="Give fewer values, or raise the cap explicitly with "
            f"--max-variants {count} (max_variants= in Python).",
        )
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


def default_value(source: str) -> Any:
    """The template's default as data (papermill gives it as source text); ``MISSING`` if it
    is an expression rather than a literal."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return MISSING


def coerce(value: Any, default_source: str | None, *, where: str) -> Any:
    """Check ``value`` is plain data and match it to the type of the template's default."""
    _check_data(value, where=where)
    if default_source is None:
        return value
    default = default_value(default_source)
    if default is MISSING or default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            # -p eda.name=123 : the template wants text
            return json.dumps(value) if isinstance(value, bool) else str(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip(), 10)
            except ValueError:
                pass
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
    elif isinstance(default, list | tuple | dict):
        if isinstance(value, type(default)) or (
            isinstance(default, tuple) and isinstance(value, list)
        ):
            return value
    else:
        return value
    kind = _KINDS.get(type(default), type(default).__name__)
    raise PipelineError(
        f"{where}: {value!r} is not {kind} (the template's default is {default_source}).",
        hint=f"Give {kind}.",
    )


_KINDS = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "text",
    list: "a list",
    tuple: "a list",
    dict: "a mapping",
}


def _check_data(value: Any, *, where: str) -> None:
    """Only JSON-like data crosses into a notebook: str, int, float, bool, None, list, dict."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PipelineError(f"{where}: {value!r} is not a finite number.")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_data(item, where=where)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PipelineError(f"{where}: dictionary keys must be strings, got {key!r}.")
            _check_data(item, where=where)
        return
    raise PipelineError(
        f"{where}: a {type(value).__name__} cannot be passed to a notebook.",
        hint="Parameters are plain data: text, numbers, true/false, null, lists, mappings.",
    )
