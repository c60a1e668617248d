"""Counterfactual term swaps for the bias probe ("he:she,his:her")."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from llmops_magics.evaluation._errors import EvaluationError

__all__ = ["Swapper", "parse_pairs"]


def parse_pairs(spec: Any) -> list[tuple[str, str]]:
    """Term pairs from ``"he:she,his:her"``, a file with one ``a:b`` (or ``a,b``/``a<TAB>b``)
    pair per line (``#`` starts a comment), a mapping or a list of pairs."""
    if isinstance(spec, Mapping):
        items = [(str(a), str(b)) for a, b in spec.items()]
    elif isinstance(spec, str):
        path = Path(spec).expanduser()
        if ":" not in spec and "," not in spec and not path.is_file():
            raise EvaluationError(
                f"--counterfactual {spec!r} is neither 'a:b,c:d' pairs nor an existing file.",
                hint='Give pairs like "he:she,his:her" or a file with one a:b pair per line.',
            )
        if path.is_file():
            lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
            items = [_split(ln, seps=(":", "\t", ",")) for ln in lines if ln]
        else:
            items = [_split(part, seps=(":",)) for part in spec.split(",") if part.strip()]
    elif isinstance(spec, Iterable):
        items = []
        for pair in spec:
            a, b = pair
            items.append((str(a), str(b)))
    else:
        raise EvaluationError(f"Cannot read counterfactual pairs from {type(spec).__name__}.")
    pairs = [(a.strip(), b.strip()) for a, b in items]
    bad = [f"{a}:{b}" for a, b in pairs if not a or not b or a.lower() == b.lower()]
    if bad or not pairs:
        raise EvaluationError(
            f"Bad counterfactual pairs: {', '.join(bad) or '(none given)'}.",
            hint="Each pair swaps two different, non-empty terms, e.g. he:she.",
        )
    return pairs


def _split(text: str, *, seps: tuple[str, ...]) -> tuple[str, str]:
    for sep in seps:
        if sep in text:
            a, _, b = text.partition(sep)
            return a, b
    raise EvaluationError(
        f"Cannot read the counterfactual pair {text!r}.", hint="Write pairs as a:b, e.g. he:she."
    )


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class Swapper:
    """Swaps each term with its partner, both ways at once, on word boundaries, keeping case
    (``He`` → ``She``, ``HIS`` → ``HER``)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs = list(pairs)
        self.mapping: dict[str, str] = {}
        for a, b in self.pairs:
            self.mapping[a.lower()] = b.lower()
            self.mapping[b.lower()] = a.lower()
        terms = sorted(self.mapping, key=len, reverse=True)
        self.pattern = re.compile(
            r"(?<!\w)(" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE
        )

    def __call__(self, text: str) -> str:
        """``text`` with every term swapped for its partner."""
        return self.pattern.sub(
            lambda m: _match_case(m.group(0), self.mapping[m.group(0).lower()]), text
        )
