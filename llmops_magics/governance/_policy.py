"""Policy as code: what an alias of a registered model requires, written in YAML.

A policy names, for each alias, the gates a version must pass to hold it::

    aliases:
      champion:
        gates:
          - metric: bleu            # a threshold on an eval run's score
            min: 10
            on: lower_bound         # score (default), lower_bound or upper_bound
          - no_regression: {metric: bleu, p: 0.05}
          - ratings: {min_count: 20, min_mean_stars: 3.5}
          - agreement: {min: 0.4}
          - bias: {max_gap: 0.1}
          - signoffs: {min: 1}
        allow_override: true      # a recorded break-glass: promote --override --reason TEXT
        auto_promote: false       # a pipeline promotes by itself when every gate passes

The policy is versioned with the model: :func:`set_policy` appends it to the model's audit
trail, and gates read the latest one. Every error names the line of the YAML it is about.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmops_magics.governance._errors import PolicyError

__all__ = [
    "GATE_KINDS",
    "POLICY_KIND",
    "AliasPolicy",
    "Gate",
    "Policy",
    "allows_override",
    "load_policy",
    "model_policy",
    "parse_policy",
    "set_policy",
]

#: the audit record kind that stores a model's policy
POLICY_KIND = "policy"

#: each gate kind and the keys it takes (required keys first)
GATE_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "metric": (("metric",), ("min", "max", "on")),
    "no_regression": (("metric",), ("p",)),
    "ratings": ((), ("min_count", "min_mean_stars", "min_thumbs_up")),
    "agreement": (("min",), ("statistic", "mode")),
    "bias": (("max_gap",), ("metric",)),
    "signoffs": (("min",), ()),
}
_ON = ("score", "lower_bound", "upper_bound")
_STATISTICS = ("alpha", "kappa")
_EVAL_HINT = "%llmops eval --model MODEL --data EVAL_SET --metrics {metric}"


@dataclass(frozen=True)
class Gate:
    """One requirement of an alias: its kind, its settings and the policy line it came from."""

    kind: str
    settings: dict[str, Any]
    line: int = 0

    @property
    def label(self) -> str:
        """A short human description, e.g. ``bleu >= 10 (lower_bound)``."""
        s = self.settings
        if self.kind == "metric":
            bound = f">= {s['min']}" if "min" in s else f"<= {s['max']}"
            return f"{s['metric']} {bound} ({s.get('on', 'score')})"
        if self.kind == "no_regression":
            return f"no regression in {s['metric']} (p < {s.get('p', 0.05)})"
        if self.kind == "ratings":
            parts = [f"{k.removeprefix('min_')} >= {v}" for k, v in s.items()]
            return "ratings: " + ", ".join(parts)
        if self.kind == "agreement":
            return f"rater agreement ({s.get('statistic', 'alpha')}) >= {s['min']}"
        if self.kind == "bias":
            what = s.get("metric", "any metric")
            return f"bias probe gap <= {s['max_gap']} ({what})"
        return f"{s['min']} sign-off(s) by others than the author"


@dataclass(frozen=True)
class AliasPolicy:
    """The gates of one alias and whether a recorded break-glass override is allowed."""

    alias: str
    gates: tuple[Gate, ...] = ()
    allow_override: bool = False
    #: a pipeline may promote by itself when every gate passes (otherwise a human promotes)
    auto_promote: bool = False


@dataclass(frozen=True)
class Policy:
    """A parsed policy: one :class:`AliasPolicy` per alias, with its YAML text and hash."""

    aliases: dict[str, AliasPolicy] = field(default_factory=dict)
    text: str = ""
    source: str = "<policy>"

    @property
    def hash(self) -> str:
        """The SHA-256 of the policy's text (16 hex digits)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def for_alias(self, alias: str | None) -> AliasPolicy:
        """The gates of ``alias`` (``None``: the only alias, or an error naming them)."""
        if alias is None:
            if len(self.aliases) == 1:
                return next(iter(self.aliases.values()))
            raise PolicyError(
                f"The policy ({self.source}) has several aliases: say which one.",
                hint=f"Pass alias= one of {', '.join(sorted(self.aliases))}.",
            )
        if alias not in self.aliases:
            raise PolicyError(
                f"The policy ({self.source}) says nothing about the alias {alias!r}.",
                hint=f"Its aliases: {', '.join(sorted(self.aliases)) or '(none)'}; add a section "
                f"aliases: {{{alias}: {{gates: [...]}}}}.",
            )
        return self.aliases[alias]


# -- reading YAML with line numbers ---------------------------------------------------------


class _Map(dict[Any, Any]):
    """A mapping from the YAML with the line of itself and of each key (1-based)."""

    line = 0
    key_lines: dict[Any, int]


class _List(list[Any]):
    line = 0
    item_lines: list[int]


def _load(text: str, source: str) -> Any:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyError(
            f"{source}, line {line}: the policy is not valid YAML ({problem}).",
            hint="Fix the YAML at that line (indentation, a missing ':' or an unclosed bracket).",
            line=line,
        ) from None
    if node is None:
        return None
    return _build(node)


def _build(node: Any) -> Any:
    import yaml

    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = _Map()
        out.line, out.key_lines = line, {}
        for key_node, value_node in node.value:
            # keys are names: read as written (YAML 1.1 would make ``on:`` the boolean True)
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            out[key] = _build(value_node)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = _List(_build(n) for n in node.value)
        seq.line, seq.item_lines = line, [n.start_mark.line + 1 for n in node.value]
        return seq
    return yaml.SafeLoader("").construct_object(node)


def _fail(source: str, line: int, message: str, hint: str) -> PolicyError:
    return PolicyError(f"{source}, line {line}: {message}", hint=hint, line=line)


def _line(value: Any, default: int) -> int:
    return int(getattr(value, "line", 0) or default)


def _key_line(mapping: Any, key: Any, default: int) -> int:
    return int(getattr(mapping, "key_lines", {}).get(key, default))


# -- checking -------------------------------------------------------------------------------


def _number(source: str, line: int, gate: str, key: str, value: Any, low: float, high: float):
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _fail(
            source,
            line,
            f"{gate}: {key} must be a number from {low:g} to {high:g}, got {value!r}.",
            f"Write e.g. {key}: {high if high < 10 else low + 1:g}.",
        )
    return value


def _check_metric(source: str, line: int, name: Any, gate: str) -> str:
    from llmops_magics.evaluation import metrics

    known = metrics.names()
    if not isinstance(name, str) or name not in known:
        raise _fail(
            source,
            line,
            f"{gate}: unknown metric {name!r}.",
            f"Known metrics: {', '.join(sorted(known))}; an eval logs them with "
            + _EVAL_HINT.format(metric=name if isinstance(name, str) else "NAME")
            + ".",
        )
    return name


def _gate(source: str, item: Any, line: int) -> Gate:
    if not isinstance(item, Mapping) or not item:
        raise _fail(
            source,
            line,
            f"a gate must be a mapping such as {{metric: bleu, min: 10}}, got {item!r}.",
            f"Gates: {', '.join(GATE_KINDS)}.",
        )
    keys = list(item)
    if "metric" in item and (len(item) > 1 or not isinstance(item["metric"], Mapping)):
        kind, settings, where = "metric", dict(item), item
    else:
        kind = keys[0]
        if kind not in GATE_KINDS or len(keys) != 1:
            raise _fail(
                source,
                line,
                f"unknown gate {kind!r}."
                if kind not in GATE_KINDS
                else f"one gate per item: {', '.join(map(str, keys))}.",
                f"Gates: {', '.join(GATE_KINDS)} (a metric gate reads "
                "{metric: bleu, min: 10, on: lower_bound}).",
            )
        where = item[kind]
        settings = dict(where) if isinstance(where, Mapping) else {}
        if not isinstance(where, Mapping):
            if kind == "signoffs" and isinstance(where, int):
                settings = {"min": where}
            else:
                raise _fail(
                    source,
                    line,
                    f"{kind}: give its settings as a mapping.",
                    f"e.g. {kind}: {{{', '.join(sum(GATE_KINDS[kind], ()))}: ...}}",
                )
    return _check_gate(source, kind, settings, _line(where, line))


def _check_gate(source: str, kind: str, s: dict[str, Any], line: int) -> Gate:
    required, optional = GATE_KINDS[kind]
    for key in s:
        if key not in required + optional:
            raise _fail(
                source,
                line,
                f"{kind}: unknown setting {key!r}.",
                f"{kind} takes {', '.join(required + optional)}.",
            )
    for key in required:
        if key not in s:
            raise _fail(source, line, f"{kind}: {key} is missing.", f"Add {key}: ... to the gate.")
    if "metric" in s:
        _check_metric(source, line, s["metric"], kind)
    if kind == "metric":
        if ("min" in s) == ("max" in s):
            raise _fail(source, line, "metric: give exactly one of min or max.", "e.g. min: 10.")
        for key in ("min", "max"):
            if key in s:
                _number(source, line, kind, key, s[key], -1e12, 1e12)
        on = s.setdefault("on", "score")
        if (
            on not in _ON
            or (on == "lower_bound" and "max" in s)
            or (on == "upper_bound" and "min" in s)
        ):
            raise _fail(
                source,
                line,
                f"metric: on must be one of {', '.join(_ON)} (lower_bound with min, upper_bound "
                f"with max), got {on!r}.",
                "on: lower_bound asks the bootstrap interval to clear the threshold.",
            )
    elif kind == "no_regression":
        s["p"] = _number(source, line, kind, "p", s.get("p", 0.05), 0.0, 1.0)
    elif kind == "ratings":
        if not s:
            raise _fail(
                source,
                line,
                "ratings: give at least one of min_count, min_mean_stars, min_thumbs_up.",
                "e.g. ratings: {min_count: 20}.",
            )
        for key, high in (("min_count", 1e9), ("min_mean_stars", 5.0), ("min_thumbs_up", 1.0)):
            if key in s:
                _number(source, line, kind, key, s[key], 0.0, high)
    elif kind == "agreement":
        _number(source, line, kind, "min", s["min"], -1.0, 1.0)
        stat = s.setdefault("statistic", "alpha")
        if stat not in _STATISTICS:
            raise _fail(
                source,
                line,
                f"agreement: statistic must be alpha or kappa, got {stat!r}.",
                "alpha is Krippendorff's; kappa is Cohen's (2 raters) or Fleiss'.",
            )
    elif kind == "bias":
        _number(source, line, kind, "max_gap", s["max_gap"], 0.0, 1e12)
    elif kind == "signoffs":
        n = s["min"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise _fail(
                source,
                line,
                f"signoffs: min must be a whole number >= 0, got {n!r}.",
                "e.g. signoffs: {min: 1}.",
            )
    return Gate(kind, {k: s[k] for k in s}, line)


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse and check a policy's YAML text; errors name the line (:class:`PolicyError`)."""
    if not isinstance(text, str):
        raise PolicyError(f"A policy is YAML text, got {type(text).__name__}.")
    data = _load(text, source)
    if not isinstance(data, Mapping) or "aliases" not in data:
        raise _fail(
            source,
            _line(data, 1),
            "a policy is a mapping with an 'aliases' key.",
            "Start it with aliases: {champion: {gates: [...]}}.",
        )
    for key in data:
        if key not in ("aliases", "model", "description"):
            raise _fail(
                source,
                _key_line(data, key, 1),
                f"unknown key {key!r}.",
                "The top level takes aliases (and model, description).",
            )
    aliases = data["aliases"]
    if not isinstance(aliases, Mapping) or not aliases:
        raise _fail(
            source,
            _key_line(data, "aliases", 1),
            "aliases must map alias names to gates.",
            "e.g. aliases: {champion: {gates: [{signoffs: {min: 1}}]}}.",
        )
    out: dict[str, AliasPolicy] = {}
    for alias, body in aliases.items():
        line = _key_line(aliases, alias, _line(aliases, 1))
        out[str(alias)] = _alias(source, str(alias), body, line)
    return Policy(out, text, source)


def _alias(source: str, alias: str, body: Any, line: int) -> AliasPolicy:
    if not isinstance(body, Mapping):
        raise _fail(
            source,
            line,
            f"alias {alias!r}: give a mapping with gates.",
            f"{alias}: {{gates: [...], allow_override: false}}.",
        )
    for key in body:
        if key not in ("gates", "allow_override", "auto_promote"):
            raise _fail(
                source,
                _key_line(body, key, line),
                f"alias {alias!r}: unknown key {key!r}.",
                "An alias takes gates, allow_override and auto_promote.",
            )
    gates = body.get("gates", [])
    if not isinstance(gates, list):
        raise _fail(
            source,
            _key_line(body, "gates", line),
            "gates must be a list.",
            "Write each gate on a line starting with '- '.",
        )
    lines = getattr(gates, "item_lines", [line] * len(gates))
    flags = {}
    for key, what in (
        ("allow_override", "true lets %llmops promote --override --reason TEXT break the glass."),
        ("auto_promote", "true lets a pipeline promote by itself when every gate passes."),
    ):
        flags[key] = body.get(key, False)
        if not isinstance(flags[key], bool):
            raise _fail(
                source,
                _key_line(body, key, line),
                f"{key} must be true or false, got {flags[key]!r}.",
                what,
            )
    gated = tuple(_gate(source, g, n) for g, n in zip(gates, lines, strict=True))
    return AliasPolicy(alias, gated, flags["allow_override"], flags["auto_promote"])


def load_policy(policy: Policy | str | Path) -> Policy:
    """A :class:`Policy` from a parsed policy, a YAML file's path or YAML text."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, Path) or (
        isinstance(policy, str) and "\n" not in policy and policy.endswith((".yaml", ".yml"))
    ):
        path = Path(policy)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(
                f"Cannot read the policy file {str(path)!r}: {exc.strerror or exc}.",
                hint="Give the path of a YAML policy file, or its text.",
            ) from None
        return parse_policy(text, source=str(path))
    return parse_policy(policy)


# -- the policy stored with a model ----------------------------------------------------------


def set_policy(name: str, policy: Policy | str | Path, *, user: str | None = None) -> Policy:
    """Store ``policy`` with registered model ``name``: one record of its audit trail, so every
    version of the policy stays, hash-chained, beside the model's versions.

    Returns the parsed policy (a bad policy is refused before anything is stored).
    """
    from llmops_magics.governance import _audit, _registry
    from llmops_magics.governance._signoff import current_user

    parsed = load_policy(policy)
    _registry.versions(name)  # an unknown model is an error before anything is written
    _audit.append(
        name,
        POLICY_KIND,
        {"text": parsed.text, "hash": parsed.hash, "source": parsed.source},
        current_user(user),
    )
    return parsed


def model_policy(name: str, *, records: list[Any] | None = None) -> Policy:
    """The policy stored with model ``name`` (the latest :func:`set_policy`); ``records``: the
    model's audit records when the caller has read them already."""
    from llmops_magics.governance import _audit

    trail = _audit.records(name) if records is None else records
    stored = [r for r in trail if r.kind == POLICY_KIND]
    if not stored:
        raise PolicyError(
            f"The model {name!r} has no policy yet.",
            hint=f"Store one with %llmops policy {name} POLICY.yaml (or governance.set_policy), "
            "or pass policy= a YAML file.",
        )
    payload = stored[-1].payload
    return parse_policy(payload["text"], source=f"policy of {name} ({payload['hash']})")


def allows_override(
    name: str, version: str | int, alias: str, policy: Policy | str | Path | None = None
) -> bool:
    """Whether the policy of ``name`` lets ``alias`` be moved past failing gates by a recorded
    break-glass override (``allow_override: true``). ``version`` is the candidate (the policy
    is the model's, so the answer is the same for every version)."""
    del version
    pol = model_policy(name) if policy is None else load_policy(policy)
    return pol.for_alias(alias).allow_override
