"""Search spaces: a small text language, a dict or a YAML file, all to one :class:`SearchSpace`.

The text form is what ``%llmops sweep --space`` takes::

    lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16); epochs=int(1,3)

Distributions: ``uniform(lo,hi)``, ``loguniform(lo,hi)``, ``float(lo,hi,log=true,step=x)``,
``int(lo,hi)``, ``int(lo,hi,step)``, ``logint(lo,hi)`` and ``choice(a,b,...)`` (numbers,
``true``/``false``/``none`` and strings, quoted or bare). Entries are separated by ``;`` or new
lines. The dict form maps a name to such a string, to a list (a choice), or to a mapping
``{"type": "float"|"int"|"choice", "low", "high", "log", "step", "choices"}``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmops_magics.sweeps._errors import SpaceError

__all__ = ["Param", "SearchSpace", "parse_space"]

_DISTRIBUTIONS = ("uniform", "loguniform", "float", "int", "logint", "choice")
_SYNTAX_HINT = (
    "Write NAME=DISTRIBUTION(ARGS) separated by ';', e.g. "
    '"lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16); epochs=int(1,3)". '
    f"Distributions: {', '.join(_DISTRIBUTIONS)}."
)


@dataclass(frozen=True)
class Param:
    """One dimension of a search space."""

    name: str
    kind: str  # "float", "int" or "categorical"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial for a value of this parameter."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.name,
                int(self.low or 0),
                int(self.high or 0),
                step=int(self.step or 1),
                log=self.log,
            )
        return trial.suggest_float(
            self.name, float(self.low or 0), float(self.high or 0), step=self.step, log=self.log
        )

    def samples(self) -> list[Any]:
        """Values that span the parameter (its bounds, or every choice), to check them early."""
        if self.kind == "categorical":
            return list(self.choices)
        return [self.low, self.high]

    def grid(self) -> list[Any]:
        """Every value, for the grid sampler; only choices and integer ranges have a grid."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int" and not self.log:
            return list(range(int(self.low or 0), int(self.high or 0) + 1, int(self.step or 1)))
        if self.kind == "float" and self.step is not None and not self.log:
            n = round((float(self.high or 0) - float(self.low or 0)) / float(self.step))
            return [float(self.low or 0) + i * float(self.step) for i in range(n + 1)]
        raise SpaceError(
            f"The grid sampler cannot enumerate {self.name}={self}.",
            param=self.name,
            hint="Use choice(...), int(lo,hi) or a float with step=, or --sampler tpe/random.",
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the dict form of the space)."""
        if self.kind == "categorical":
            return {"type": "choice", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out

    def __str__(self) -> str:
        if self.kind == "categorical":
            return "choice(" + ",".join(_fmt(c) for c in self.choices) + ")"
        if self.kind == "int":
            if self.log:
                return f"logint({self.low},{self.high})"
            step = f",{self.step}" if self.step not in (None, 1) else ""
            return f"int({self.low},{self.high}{step})"
        if self.log and self.step is None:
            return f"loguniform({_fmt(self.low)},{_fmt(self.high)})"
        if not self.log and self.step is None:
            return f"uniform({_fmt(self.low)},{_fmt(self.high)})"
        extra = (",log=true" if self.log else "") + (
            f",step={_fmt(self.step)}" if self.step is not None else ""
        )
        return f"float({_fmt(self.low)},{_fmt(self.high)}{extra})"


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "none"}[value]
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


@dataclass(frozen=True)
class SearchSpace:
    """An ordered set of :class:`Param`; parse one with :func:`parse_space`."""

    params: tuple[Param, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        """The parameter names, in the order given."""
        return [p.name for p in self.params]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Sample every parameter from an Optuna trial."""
        return {p.name: p.suggest(trial) for p in self.params}

    def grid(self) -> dict[str, list[Any]]:
        """The search space of Optuna's ``GridSampler``."""
        return {p.name: p.grid() for p in self.params}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The dict form, JSON-ready; ``parse_space(space.to_dict())`` gives the space back."""
        return {p.name: p.to_dict() for p in self.params}

    def to_json(self) -> str:
        """The dict form as JSON text (stored with the study)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def __str__(self) -> str:
        return "; ".join(f"{p.name}={p}" for p in self.params)

    def __repr__(self) -> str:
        return f"SearchSpace({str(self)!r})"

    def __len__(self) -> int:
        return len(self.params)


# --- the text form -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r]+)
      |(?P<sep>[;\n])
      |(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
      |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      |(?P<name>[A-Za-z_][A-Za-z0-9_.\-/]*)
      |(?P<punct>[=(),])""",
    re.X,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "#":  # a comment runs to the end of the line
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SpaceError(
                f"Cannot read the search space at {text[pos]!r}.",
                text=text,
                position=pos,
                token=text[pos],
                hint=_SYNTAX_HINT,
            )
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, tok: _Tok, *, param: str | None = None, hint: str = "") -> Any:
        shown = tok.text or "end of text"
        raise SpaceError(
            message.format(tok=repr(shown) if tok.text else shown),
            text=self.text,
            position=tok.pos,
            token=tok.text,
            param=param,
            hint=hint or _SYNTAX_HINT,
        )

    def expect(self, text: str, what: str, param: str | None = None) -> _Tok:
        tok = self.take()
        if tok.text != text:
            self.fail(f"Expected {what} but found {{tok}}.", tok, param=param)
        return tok

    def entries(self) -> list[tuple[_Tok, str, list[tuple[str | None, Any, _Tok]]]]:
        out: list[tuple[_Tok, str, list[tuple[str | None, Any, _Tok]]]] = []
        while True:
            while self.peek().kind == "sep":
                self.take()
            tok = self.peek()
            if tok.kind == "end":
                return out
            if tok.kind != "name":
                self.fail("Expected a parameter name but found {tok}.", tok)
            self.take()
            self.expect("=", f"'=' after the parameter name {tok.text!r}", tok.text)
            dist = self.take()
            if dist.kind != "name" or dist.text not in _DISTRIBUTIONS:
                self.fail(
                    "Unknown distribution {tok}" + f" for {tok.text!r}.",
                    dist,
                    param=tok.text,
                    hint=f"Use one of: {', '.join(_DISTRIBUTIONS)}.",
                )
            self.expect("(", f"'(' after {dist.text}", tok.text)
            args: list[tuple[str | None, Any, _Tok]] = []
            if self.peek().text == ")":
                self.take()
            else:
                while True:
                    args.append(self.arg(tok.text))
                    close = self.take()
                    if close.text == ")":
                        break
                    if close.text != ",":
                        self.fail("Expected ',' or ')' but found {tok}.", close, param=tok.text)
            out.append((tok, dist.text, args))
            nxt = self.peek()
            if nxt.kind not in ("sep", "end"):
                self.fail("Expected ';' or a new line before {tok}.", nxt, param=tok.text)

    def arg(self, param: str) -> tuple[str | None, Any, _Tok]:
        tok = self.take()
        key = None
        if tok.kind == "name" and self.peek().text == "=":
            self.take()
            key = tok.text
            tok = self.take()
        if tok.kind == "num":
            number = float(tok.text)
            is_int = re.fullmatch(r"[-+]?\d+", tok.text) is not None
            return key, int(tok.text) if is_int else number, tok
        if tok.kind == "str":
            return key, json.loads('"' + tok.text[1:-1].replace('"', '\\"') + '"'), tok
        if tok.kind == "name":
            lowered = tok.text.lower()
            literal = {"true": True, "false": False, "none": None, "null": None}
            return key, literal.get(lowered, tok.text), tok
        return self.fail("Expected a value but found {tok}.", tok, param=param)


def _build(name: str, dist: str, args: list[tuple[str | None, Any, Any]], where: Any) -> Param:
    """Build a Param; ``where(message, index)`` raises an error that points at argument index."""
    positional = [(v, i) for i, (k, v, _) in enumerate(args) if k is None]
    keywords = {k: (v, i) for i, (k, v, _) in enumerate(args) if k is not None}
    if dist == "choice":
        if keywords:
            where(
                f"choice() takes values only, not {next(iter(keywords))}=",
                next(iter(keywords.values()))[1],
            )
        values = [v for v, _ in positional]
        if not values:
            where(f"choice() for {name!r} needs at least one value", -1)
        for j, v in enumerate(values):
            if values.index(v) != j or (isinstance(v, bool) and any(x is v for x in values[:j])):
                where(f"the value {v!r} appears twice in choice() for {name!r}", positional[j][1])
            if isinstance(v, (list, dict)):
                where(
                    "choice() values must be numbers, strings, booleans or none", positional[j][1]
                )
        return Param(name, "categorical", choices=tuple(values))
    allowed = {
        "uniform": set(),
        "loguniform": set(),
        "logint": set(),
        "int": {"step", "log"},
        "float": {"step", "log"},
    }[dist]
    for k, (_, i) in keywords.items():
        if k not in allowed:
            where(f"{dist}() takes no {k}= (it takes: {', '.join(sorted(allowed)) or 'lo, hi'})", i)
    max_pos = 3 if dist == "int" else 2
    if len(positional) < 2:
        where(f"{dist}() for {name!r} needs two bounds: {dist}(lo,hi)", -1)
    if len(positional) > max_pos:
        where(f"{dist}() takes at most {max_pos} values", positional[max_pos][1])
    (low, i_low), (high, i_high) = positional[0], positional[1]
    for value, i in ((low, i_low), (high, i_high)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            where(f"the bounds of {dist}() must be numbers, not {value!r}", i)
    step = keywords.get("step", (positional[2] if len(positional) > 2 else (None, -1)))
    log_v, i_log = keywords.get("log", (dist in ("loguniform", "logint"), -1))
    if not isinstance(log_v, bool):
        where(f"log= takes true or false, not {log_v!r}", i_log)
    kind = "int" if dist in ("int", "logint") else "float"
    if kind == "int":
        for value, i in ((low, i_low), (high, i_high), step):
            if value is not None and (isinstance(value, (float, bool))):
                where(f"{dist}() takes whole numbers, not {value!r} (use uniform() for reals)", i)
    if not math.isfinite(float(low)) or not math.isfinite(float(high)):
        where("the bounds must be finite", i_low)
    if low > high:
        where(f"the lower bound {low!r} is above the upper bound {high!r}", i_low)
    if log_v and low <= 0:
        where(f"a log scale needs a lower bound above 0, not {low!r}", i_low)
    step_v, i_step = step
    if step_v is not None:
        if isinstance(step_v, bool) or not isinstance(step_v, (int, float)) or step_v <= 0:
            where(f"step must be a positive number, not {step_v!r}", i_step)
        if log_v:
            where("step and a log scale do not go together", i_step)
    return Param(name, kind, low=low, high=high, log=bool(log_v), step=step_v)


def _parse_text(text: str) -> list[Param]:
    parser = _Parser(text)
    out: list[Param] = []
    seen: dict[str, Any] = {}
    for name_tok, dist, args in parser.entries():
        if name_tok.text in seen:
            parser.fail("The parameter {tok} is given twice.", name_tok, param=name_tok.text)
        seen[name_tok.text] = name_tok

        def where(message: str, index: int, _n: Any = name_tok, _a: Any = args) -> None:
            tok = _a[index][2] if 0 <= index < len(_a) else _n
            raise SpaceError(
                f"{_n.text}: {message}.",
                text=text,
                position=tok.pos,
                token=tok.text,
                param=_n.text,
            )

        out.append(_build(name_tok.text, dist, args, where))
    return out


# --- the dict form -------------------------------------------------------------------------


def _param_from_value(name: str, value: Any) -> Param:
    def where(message: str, index: int) -> None:
        raise SpaceError(f"In the search space, {name}: {message}.", token=name, param=name)

    if isinstance(value, str):
        try:
            params = _parse_text(f"{name}={value}")
        except SpaceError as exc:
            raise SpaceError(
                exc.message,
                text=f"{name}={value}",
                position=exc.position,
                token=exc.token,
                param=name,
                hint=exc.hint,
            ) from None
        return params[0]
    if isinstance(value, (list, tuple)):
        return _build(name, "choice", [(None, v, None) for v in value], where)
    if isinstance(value, Mapping):
        kind = str(value.get("type", "choice" if "choices" in value else "float")).lower()
        unknown = set(value) - {"type", "low", "high", "log", "step", "choices"}
        if unknown:
            where(
                f"unknown key {sorted(unknown)[0]!r} (keys: type, low, high, log, step, choices)",
                -1,
            )
        if kind in ("choice", "categorical"):
            return _build(
                name, "choice", [(None, v, None) for v in value.get("choices") or []], where
            )
        if kind not in ("float", "int", "uniform", "loguniform", "logint"):
            where(f"unknown type {kind!r} (use float, int or choice)", -1)
        dist = {"uniform": "float", "loguniform": "float", "logint": "int"}.get(kind, kind)
        args: list[tuple[str | None, Any, Any]] = [
            (None, value.get("low"), None),
            (None, value.get("high"), None),
        ]
        log = value.get("log", kind in ("loguniform", "logint"))
        args.append(("log", log, None))
        if value.get("step") is not None:
            args.append(("step", value["step"], None))
        if value.get("low") is None or value.get("high") is None:
            where(f"type {kind} needs 'low' and 'high'", -1)
        return _build(name, dist, args, where)
    raise SpaceError(
        f"In the search space, {name}: cannot use {type(value).__name__} {value!r} (give a "
        "string such as 'int(1,3)', a list of choices or a mapping with type/low/high).",
        token=name,
        param=name,
    )


def parse_space(
    space: str | Mapping[str, Any] | SearchSpace | Path, *, known: Iterable[str] | None = None
) -> SearchSpace:
    """Parse a search space from text, a dict, a YAML/JSON file or an existing space.

    Parameters
    ----------
    space
        ``"lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16)"``, ``{"lr": "loguniform(1e-5,1e-3)",
        "lora_r": [4, 8, 16]}``, or the path of a ``.yaml``/``.yml``/``.json`` file holding that
        mapping.
    known
        The parameter names allowed (e.g. the fields of ``FineTuneConfig``); ``None`` allows any.

    Raises
    ------
    SpaceError
        The space does not parse (the message points at the token), is empty, or names a
        parameter outside ``known``.
    """
    if isinstance(space, SearchSpace):
        params = list(space.params)
        text = None
    elif isinstance(space, Path) or (
        isinstance(space, str) and re.search(r"\.(ya?ml|json)$", space.strip(), re.I)
    ):
        path = Path(str(space).strip()).expanduser()
        if not path.is_file():
            raise SpaceError(
                f"The search space file {str(path)!r} does not exist.",
                hint="Give the path of a YAML or JSON file that maps names to distributions.",
            )
        try:
            import yaml

            loaded = yaml.safe_load(path.read_text())
        except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError
            raise SpaceError(
                f"Cannot read the search space file {str(path)!r}: {exc}",
                hint="It must be a YAML mapping such as 'lr: loguniform(1e-5,1e-3)'.",
            ) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, Mapping):
            raise SpaceError(
                f"The search space file {str(path)!r} holds a {type(loaded).__name__}, not a "
                "mapping of names to distributions.",
                hint="Write one 'name: distribution' per line, e.g. 'lora_r: choice(4,8,16)'.",
            )
        return parse_space(dict(loaded), known=known)
    elif isinstance(space, str):
        text = space
        params = _parse_text(space)
    elif isinstance(space, Mapping):
        text = None
        params = []
        for name, value in space.items():
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-/]*", name):
                raise SpaceError(
                    f"{name!r} is not a valid parameter name.",
                    token=str(name),
                    hint="Use a name such as lr or lora_r.",
                )
            params.append(_param_from_value(name, value))
    else:
        raise SpaceError(
            f"Cannot use a {type(space).__name__} as a search space.", hint=_SYNTAX_HINT
        )
    if not params:
        raise SpaceError("The search space is empty: there is nothing to tune.", hint=_SYNTAX_HINT)
    if known is not None:
        allowed = sorted(set(known))
        for p in params:
            if p.name not in allowed:
                pos = None
                if text is not None:
                    m = re.search(rf"(?:^|[;\n])\s*({re.escape(p.name)})\s*=", text)
                    pos = m.start(1) if m else None
                close = _close_matches(p.name, allowed)
                raise SpaceError(
                    f"Unknown parameter {p.name!r}: it cannot be tuned."
                    + (f" Did you mean {close}?" if close else ""),
                    text=text,
                    position=pos,
                    token=p.name,
                    param=p.name,
                    hint=f"Tunable parameters: {', '.join(allowed)}.",
                )
    return SearchSpace(tuple(params))


def _close_matches(name: str, names: list[str]) -> str:
    import difflib

    found = difflib.get_close_matches(name, names, n=1)
    return repr(found[0]) if found else ""
