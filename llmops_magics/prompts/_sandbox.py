"""The template sandbox: templates see data only, and rendering is bounded in time and size.

Jinja2's ``SandboxedEnvironment`` blocks private attributes and known escapes, but it still lets
a template call any public method of the objects it is given. So a template is only ever given
*data* (:func:`as_data`: strings, numbers, booleans, None, dates, and lists and dicts of them),
and every loop, call, operator and joined string is checked against a deadline and a size cap
(:class:`BoundedSandbox`), so that ``{% for %}`` nests and ``'a' * 10**10`` fail fast with a
:class:`~llmops_magics.prompts.TemplateError` instead of hanging or exhausting memory.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import wraps
from typing import Any

from llmops_magics.prompts._errors import TemplateError

__all__ = ["MAX_CHARS", "MAX_INT_BITS", "RENDER_SECONDS", "as_data", "environment", "render"]

#: the longest text a render (or any string inside it) may produce
MAX_CHARS = 2_000_000
#: the longest a single render may take, in seconds
RENDER_SECONDS = 5.0
#: the largest integer a template may compute, in bits
MAX_INT_BITS = 4096
#: how deeply lists and dicts may nest in a value given to a template
_MAX_DEPTH = 32

_SCALARS = (str, int, float, bool, type(None), _dt.date, _dt.datetime, _dt.time, _dt.timedelta)
_HUGE_WIDTH = re.compile(r"%[-#0 +]*(\d{7,}|\*)|%[-#0 +]*\d*\.\d{7,}|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")
_state = threading.local()


class _Refused(TemplateError):
    """A value or an operation the sandbox refuses (raised inside a render)."""


def _data_error(what: str, value: Any) -> TemplateError:
    kind = type(value).__name__
    if callable(value) or type(value).__name__ == "module":
        kind = f"{kind} (code, not data)"
    return TemplateError(
        f"{what} is a {kind}; templates see data only",
        hint="Give the template strings, numbers, booleans, None, dates, or lists and dicts of "
        "them: compute the value in Python first (for example x = str(obj) or "
        "df['col'].tolist()).",
    )


def as_data(value: Any, what: str, _depth: int = 0) -> Any:
    """A copy of ``value`` made of plain data only, or :class:`TemplateError` naming ``what``.

    Strings, numbers, booleans, None and dates pass (subclasses become their plain type; numpy
    scalars become Python numbers; pandas' missing values become None); lists, tuples and dicts
    are copied recursively. Modules, functions, methods, frames and every other object are
    refused, since a template could call their methods.
    """
    if _depth > _MAX_DEPTH:
        raise TemplateError(f"{what} nests lists or dicts more than {_MAX_DEPTH} levels deep")
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a str subclass's own methods are not data
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    name = kind.__name__
    if name in ("NAType", "NaTType"):  # pandas' missing values
        return None
    if kind.__module__ == "numpy" and getattr(value, "ndim", None) == 0:  # a numpy scalar
        return as_data(value.item(), what, _depth + 1)
    if isinstance(value, _dt.datetime):  # pandas.Timestamp and other datetime subclasses
        return _dt.datetime.fromtimestamp(value.timestamp(), value.tzinfo)
    if isinstance(value, _dt.date):
        return _dt.date(value.year, value.month, value.day)
    if isinstance(value, (list, tuple)):
        return [as_data(v, f"{what}[{i}]", _depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Mapping) and kind.__module__ in ("builtins", "collections"):
        out = {}
        for k, v in value.items():
            key = as_data(k, f"a key of {what}", _depth + 1)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise _data_error(f"a key of {what}", k)
            out[key] = as_data(v, f"{what}[{k!r}]", _depth + 1)
        return out
    raise _data_error(what, value)


# -- bounds ---------------------------------------------------------------------------------


def _tick() -> None:
    deadline = getattr(_state, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise _Refused(
            f"Rendering took longer than {RENDER_SECONDS:g} s",
            hint="The template loops or recurses too much; a prompt template should only "
            "format its variables.",
        )


def _too_long(n: int) -> _Refused:
    return _Refused(
        f"The template would produce more than {MAX_CHARS:,} characters ({n:,})",
        hint="A prompt must fit a model's context: render less text.",
    )


def _sized(value: Any) -> Any:
    """``value``, checked: a string, list or integer within the bounds."""
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > MAX_CHARS:
        raise _too_long(len(value))
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _Refused(f"The template computes an integer over {MAX_INT_BITS} bits")
    return value


def _check_args(args: Iterable[Any]) -> None:
    """Refuse numbers that would size an output beyond the cap (``'a'.center(10**10)``)."""
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_CHARS:
            raise _Refused(
                f"The template passes {a:,} to a function; numbers above {MAX_CHARS:,} are "
                "refused there, since they could size a huge output"
            )
        if isinstance(a, str) and _HUGE_WIDTH.search(a):
            raise _Refused("The template formats with a huge field width")


def _check_joined(items: Any) -> None:
    """Refuse joining or summing sequences whose total length is over the cap, before the
    result is allocated (``['a' * 10**6] * 10**4 | join``)."""
    if isinstance(items, (list, tuple)):
        total = sum(len(x) for x in items if isinstance(x, (str, list, tuple)))
        _sized_len(total)


def _bounded_filter(fn: Callable[..., Any], name: str = "") -> Callable[..., Any]:
    @wraps(fn)  # keeps jinja's pass_context / pass_environment marks
    def filtered(*args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_args([*args, *kwargs.values()])
        if name in ("join", "sum"):
            _check_joined(next((a for a in args if isinstance(a, (list, tuple))), None))
        return _sized(fn(*args, **kwargs))

    return filtered


def _ticking(iterable: Any) -> Iterator[Any]:
    """A loop's items, each one checked against the deadline."""
    for item in iterable:
        _tick()
        yield item


def _bounded_concat(parts: Iterable[str]) -> str:
    pieces, total = [], 0
    for p in parts:
        total += len(p)
        if total > MAX_CHARS:
            raise _too_long(total)
        pieces.append(p)
    return "".join(pieces)


def environment() -> Any:
    """A fresh :class:`BoundedSandbox` (StrictUndefined: a missing value is an error)."""
    from jinja2 import StrictUndefined, nodes
    from jinja2.sandbox import SandboxedEnvironment
    from jinja2.visitor import NodeTransformer

    class _Loops(NodeTransformer):
        """Wraps every loop's iterable and every ``~`` join in a checking filter."""

        def visit_For(self, node: Any) -> Any:
            node = self.generic_visit(node)
            node.iter = nodes.Filter(node.iter, "_llmops_loop", [], [], None, None)
            return node

        def visit_Concat(self, node: Any) -> Any:
            node = self.generic_visit(node)
            return nodes.Filter(node, "_llmops_size", [], [], None, None)

    class BoundedSandbox(SandboxedEnvironment):
        """Jinja2's sandbox with a deadline and size caps on loops, calls and operators."""

        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _tick()
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                        _sized_len(len(seq) * max(n, 0))
            if isinstance(left, int) and isinstance(right, int):
                bits = left.bit_length() + right.bit_length()  # of a product, at most
                if operator == "**":
                    bits = right * left.bit_length() if abs(left) > 1 else 0
                if operator in ("*", "**") and bits > MAX_INT_BITS + 1:
                    raise _Refused(f"The template computes an integer over {MAX_INT_BITS} bits")
            if operator == "%" and isinstance(left, str):
                _check_args([left])
            return _sized(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _tick()
            _check_args([*args, *kwargs.values()])
            if getattr(__obj, "__name__", "") == "join" and args:  # 'sep'.join(items)
                _check_joined(args[0])
            return _sized(super().call(__context, __obj, *args, **kwargs))

        def getattr(self, obj: Any, attribute: str) -> Any:
            if isinstance(obj, str) and attribute in ("format", "format_map"):
                _check_args([obj])
            return super().getattr(obj, attribute)

        def _parse(self, source: str, name: str | None, filename: str | None) -> Any:
            return _Loops().visit(super()._parse(source, name, filename))

    env = BoundedSandbox(undefined=StrictUndefined, keep_trailing_newline=False)
    env.filters = {k: _bounded_filter(f, k) for k, f in env.filters.items()}
    env.globals.pop("lipsum", None)  # lipsum(n=10**6) loops inside the library, unchecked
    env.filters["_llmops_loop"] = _ticking
    env.filters["_llmops_size"] = _sized
    env.concat = _bounded_concat  # type: ignore[method-assign]  # macros and {% set %} blocks
    return env


def _sized_len(n: int) -> None:
    if n > MAX_CHARS:
        raise _too_long(n)


def render(compiled: Any, values: Mapping[str, Any]) -> str:
    """``compiled`` rendered with ``values`` within :data:`RENDER_SECONDS` and
    :data:`MAX_CHARS` (a :class:`TemplateError` otherwise)."""
    previous = getattr(_state, "deadline", None)
    _state.deadline = time.monotonic() + RENDER_SECONDS
    try:
        parts: list[str] = []
        total = 0
        for chunk in compiled.generate(values):
            total += len(chunk)
            if total > MAX_CHARS:
                raise _too_long(total)
            parts.append(chunk)
            _tick()
        return "".join(parts)
    finally:
        _state.deadline = previous
