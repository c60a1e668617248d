"""Validated config dataclasses whose fields generate the magic's and the CLI's flags.

Each option of a stage is declared once, as a field of the stage's config, with its help text in
``option(..., help=...)``. :func:`add_arguments` turns the fields into argparse flags (as
transformers' ``HfArgumentParser`` does) and :func:`given` reads back the flags that were given,
so a flag can never drift from the field it fills. Every field is checked on creation; an error
names the field and the fix, and configs round-trip through JSON (as peft's ``LoraConfig``).

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass
... class Demo(Config):
...     steps: int = option(10, help="training steps", minimum=1)
>>> Demo.from_json(Demo(steps=3).to_json())
Demo(steps=3)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from llmops_magics.errors import LlmopsError

__all__ = [
    "CONFIGS",
    "Config",
    "ConfigError",
    "add_arguments",
    "field_type",
    "flag_name",
    "given",
    "option",
]

C = TypeVar("C", bound="Config")

#: every Config subclass of the package, by name (the contract test walks them)
CONFIGS: dict[str, type[Config]] = {}


class ConfigError(LlmopsError, ValueError):
    """A config field is out of range, of the wrong type or inconsistent with another field."""

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        self.field = field
        super().__init__(message, hint=hint)


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    flag: str | None = None,
    short: str | None = None,
    metavar: str | None = None,
    choices: Iterable[Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    shortcuts: Mapping[str, Any] | None = None,
    cli: bool = True,
    parse: Callable[[str], Any] | None = None,
    hint: str | None = None,
    example: tuple[str, Any] | None = None,
    repeat: bool = False,
) -> Any:
    """A config field with the metadata that validates it and makes its flag.

    Parameters
    ----------
    default, default_factory
        As for :func:`dataclasses.field`.
    help
        One line for ``-h`` and the docs.
    flag, short
        The flag (default ``--field-name``) and a short alias such as ``-m``.
    metavar
        The placeholder in usage lines (default from the type: N, X, TEXT...).
    choices
        The allowed values.
    minimum, maximum, exclusive_minimum
        The range of a number (``None``: open).
    shortcuts
        Extra flags that set a fixed value, e.g. ``{"--qlora": "4bit"}``.
    cli
        False for a field that has no flag (set from Python only).
    parse
        Converts the flag's text into the value (for types argparse cannot build).
    hint
        What to do when the value is out of range (added to the error).
    example
        For a ``parse`` flag: a command-line text and the value it gives (the contract test
        parses it).
    repeat
        For a list field: the flag takes one value and may be repeated (``-m a -m b``) instead
        of taking several words.
    """
    metadata = {
        "help": help,
        "flag": flag,
        "short": short,
        "metavar": metavar,
        "choices": tuple(choices) if choices is not None else None,
        "minimum": minimum,
        "maximum": maximum,
        "exclusive_minimum": exclusive_minimum,
        "shortcuts": dict(shortcuts or {}),
        "cli": cli,
        "parse": parse,
        "hint": hint,
        "example": example,
        "repeat": repeat,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# --- types -------------------------------------------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # evaluating string annotations is slow (a compile per name): once per class
    return typing.get_type_hints(cls)


def field_type(cls: type, name: str) -> tuple[Any, bool]:
    """The type of field ``name`` without ``None``, and whether ``None`` is allowed."""
    hint = _hints(cls)[name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True  # noqa: UP007
    return hint, False


def _literal(tp: Any) -> tuple[Any, ...] | None:
    return typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else None


def _element(tp: Any) -> Any | None:
    """The element type of ``list[X]`` (None for other types)."""
    if typing.get_origin(tp) in (list, tuple):
        args = typing.get_args(tp)
        return args[0] if args else str
    return None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_type(tp: Any, value: Any) -> bool:
    literal = _literal(tp)
    if literal is not None:
        return value in literal
    element = _element(tp)
    if element is not None:
        return isinstance(value, list | tuple) and all(_check_type(element, v) for v in value)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return _is_number(value)
    if tp is str:
        return isinstance(value, str)
    if typing.get_origin(tp) is dict or tp is dict:
        return isinstance(value, dict)
    if tp is Any:
        return True
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_check_type(a, value) for a in typing.get_args(tp))
    return isinstance(value, tp) if isinstance(tp, type) else True


# --- the config base ---------------------------------------------------------------------------


class Config:
    """Base of the stage configs: checks on creation, JSON round trip, run parameters.

    A subclass is a dataclass whose fields are made with :func:`option`. Creation calls
    :meth:`canonicalize`, checks each field's type, choices and range from that metadata, then
    calls :meth:`check` for rules between fields. Errors are
    ``error_class(field, message, hint=...)``.
    """

    error_class: ClassVar[type[ConfigError]] = ConfigError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("llmops_magics."):  # the stages' configs, not user ones
            CONFIGS[cls.__name__] = cls

    def __post_init__(self) -> None:
        self.canonicalize()
        self.validate()

    # -- hooks for subclasses ----------------------------------------------------------------

    def canonicalize(self) -> None:
        """Bring values into their canonical form before they are checked (e.g. split lists)."""

    def check(self) -> None:
        """Rules that tie several fields together; raise with :meth:`fail`."""

    # -- validation --------------------------------------------------------------------------

    def fail(self, name: str, message: str, hint: str | None = None) -> typing.NoReturn:
        """Raise this config's error for field ``name``."""
        raise self.error_class(name, message, hint=hint)

    def need(self, name: str, ok: bool, expected: str, hint: str | None = None) -> None:
        """Fail on field ``name`` unless ``ok``: "name=value is out of range: it must be ..."."""
        if not ok:
            value = getattr(self, name)
            self.fail(name, f"{name}={value!r} is out of range: it must be {expected}.", hint)

    def validate(self: C) -> C:
        """Check every field (type, choices, range), then :meth:`check`; return self."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            self._validate_field(f)
        self.check()
        return self

    def _validate_field(self, f: dataclasses.Field[Any]) -> None:
        name, value, meta = f.name, getattr(self, f.name), f.metadata
        tp, optional = field_type(type(self), name)
        if value is None:
            if not optional:
                self.fail(name, f"{name} must be given (it cannot be None).")
            return
        choices = meta.get("choices") or _literal(tp)
        if choices is not None and value not in choices:
            self.need(name, False, "one of " + ", ".join(map(str, choices)), meta.get("hint"))
        if not _check_type(tp, value):
            kind = "a number" if tp is float else f"of type {_type_name(tp)}"
            if tp is int:
                kind = "an integer"
            self.fail(name, f"{name} must be {kind}, got {type(value).__name__} {value!r}.")
        if _is_number(value):
            self._check_range(name, float(value), meta)

    def _check_range(self, name: str, number: float, meta: Mapping[str, Any]) -> None:
        low, high = meta.get("minimum"), meta.get("maximum")
        if low is None and high is None:
            return
        strict = meta.get("exclusive_minimum")
        ok = math.isfinite(number)
        if low is not None:
            ok = ok and (number > low if strict else number >= low)
        if high is not None:
            ok = ok and number <= high
        if not ok:
            left = "(" if strict else "["
            if low is not None and high is not None:
                expected = f"in {left}{low:g}, {high:g}]"
            elif low is not None:
                expected = f"more than {low:g}" if strict else f"at least {low:g}"
            else:
                expected = f"at most {high:g}"
            self.need(name, False, expected, meta.get("hint"))

    # -- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        """The config as a JSON string (:meth:`from_json` gives an equal config back)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """A config from a mapping; unknown keys are refused with the list of known ones."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise cls.error_class(
                unknown[0],
                f"Unknown {cls.__name__} field(s): {', '.join(unknown)}.",
                hint=f"Known fields: {', '.join(sorted(known))}.",
            )
        return cls(**data)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        """The config that :meth:`to_json` wrote."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise cls.error_class("json", f"Not a {cls.__name__} JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise cls.error_class("json", f"A {cls.__name__} JSON must be an object.")
        return cls.from_dict(data)

    def replace(self: C, **changes: Any) -> C:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def params(self) -> dict[str, str]:
        """The fields as MLflow run parameters (strings; lists comma-joined; None as '')."""
        out = {}
        for key, value in self.to_dict().items():
            if isinstance(value, list | tuple):
                value = ",".join(map(str, value))
            elif isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            out[key] = "" if value is None else str(value)
        return out


# --- flags -------------------------------------------------------------------------------------


def flag_name(f: dataclasses.Field[Any]) -> str:
    """The flag of a config field: its ``flag`` metadata, else ``--field-name``."""
    return str(f.metadata.get("flag") or "--" + f.name.replace("_", "-"))


_METAVARS = {int: "N", float: "X", str: "TEXT"}


def _argument(cls: type, f: dataclasses.Field[Any]) -> dict[str, Any]:
    """The ``add_argument`` keywords of a field (every flag defaults to None: not given)."""
    meta = f.metadata
    tp, _ = field_type(cls, f.name)
    kwargs: dict[str, Any] = {"default": None, "help": _help(f)}
    choices = meta.get("choices") or _literal(tp)
    if tp is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
        return kwargs
    element = _element(tp)
    if meta.get("parse") is not None:
        kwargs["type"] = meta["parse"]
    elif element is not None:
        if meta.get("repeat"):
            kwargs["action"] = "append"
        else:
            kwargs["nargs"] = "+"
        kwargs["type"] = element if element in (int, float, str) else str
    elif tp in (int, float, str):
        kwargs["type"] = tp
    elif choices is not None:
        kwargs["type"] = type(choices[0])
    else:
        kwargs["type"] = json.loads  # dicts and other structures: JSON on the command line
    if choices is not None and meta.get("parse") is None:
        kwargs["choices"] = list(choices)
    else:
        kwargs["metavar"] = meta.get("metavar") or _METAVARS.get(element or tp, "VALUE")
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    return kwargs


def _help(f: dataclasses.Field[Any]) -> str:
    text = str(f.metadata.get("help", ""))
    default = f.default
    if default is dataclasses.MISSING or default is None or "default" in text:
        return text
    if isinstance(default, bool):
        return f"{text} (default: {'on' if default else 'off'})"
    return f"{text} (default {default})"


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type[Config],
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    prefix: str = "",
    help_overrides: Mapping[str, str] | None = None,
) -> list[str]:
    """Add a flag for each field of ``cls`` to ``parser`` and return the field names.

    Parameters
    ----------
    parser
        A parser or an argument group.
    cls
        The config class.
    include, exclude
        Which fields get a flag (default: every field whose ``cli`` metadata is true), in the
        order of ``include`` when given.
    prefix
        Stored as ``prefix + name`` in the namespace (to keep two configs apart).
    help_overrides
        A different help text for some fields in this command.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    names = list(include) if include is not None else [n for n, f in fields.items()]
    skipped = set(exclude)
    added = []
    for name in names:
        f = fields[name]
        if name in skipped or (include is None and not f.metadata.get("cli", True)):
            continue
        kwargs = _argument(cls, f)
        if help_overrides and name in help_overrides:
            kwargs["help"] = help_overrides[name]
        flags = [flag_name(f)] + ([f.metadata["short"]] if f.metadata.get("short") else [])
        parser.add_argument(*flags, dest=prefix + name, **kwargs)
        for extra, value in (f.metadata.get("shortcuts") or {}).items():
            parser.add_argument(
                extra,
                dest=prefix + name,
                action="store_const",
                const=value,
                help=f"the same as {flag_name(f)} {value}",
            )
        added.append(name)
    return added


def given(namespace: argparse.Namespace, cls: type[Config], *, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` whose flags were given on the command line."""
    out = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.metadata.get("cli", True):
            continue  # no flag: an attribute of that name belongs to another option
        value = getattr(namespace, prefix + f.name, None)
        if value is not None:
            out[f.name] = value
    return out
