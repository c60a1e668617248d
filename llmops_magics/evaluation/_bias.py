"""The bias probe: counterfactual term swaps ("he:she,his:her") and the gap they make."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.evaluation._errors import EvaluationError

if TYPE_CHECKING:
    from llmops_magics.evaluation._bootstrap import Resampler
    from llmops_magics.evaluation._systems import System, Task

__all__ = ["Swapper", "parse_pairs", "probe"]


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


def probe(system: System, swapper: Swapper, task: Task, resampler: Resampler | None) -> list[dict]:
    """Each metric of ``system`` on the rows that the swaps change, before and after: the gap
    (swapped - original) with a paired bootstrap interval and p-value.

    The model generates again for the swapped prompts; the swapped references score it.
    """
    from llmops_magics.evaluation import metrics
    from llmops_magics.evaluation._bootstrap import Resampler, paired, replicate_sums

    prompts, refs = task.prompts or [], task.references
    new_prompts = [swapper(p) for p in prompts]
    new_refs = [swapper(r) if isinstance(r, str) else r for r in refs]
    changed = [
        i for i in range(len(prompts)) if (new_prompts[i], new_refs[i]) != (prompts[i], refs[i])
    ]
    if not changed:
        return [_gap_row(system.name, n, 0) for n in task.names]
    swapped = task.generate(
        system.name, "probe", [new_prompts[i] for i in changed], [new_refs[i] for i in changed]
    ).stats
    original = {n: system.stats[n][changed] for n in task.names}
    reps: dict[str, Any] = {}
    if resampler is not None and len(changed) > 1:
        local = Resampler(len(changed), resampler.samples, resampler.seed)
        both = {f"s|{n}": swapped[n] for n in task.names} | {
            f"o|{n}": original[n] for n in task.names
        }
        reps = replicate_sums(both, local)
    rows = []
    for n in task.names:
        score = metrics.get(n).score
        row = _gap_row(
            system.name,
            n,
            len(changed),
            original=score(original[n].sum(axis=0)),
            swapped=score(swapped[n].sum(axis=0)),
        )
        if reps:
            test = paired(swapped[n], original[n], score, reps[f"s|{n}"], reps[f"o|{n}"])
            row.update(gap_low=test.low, gap_high=test.high, p_value=test.p_value)
        rows.append(row)
    return rows


def _gap_row(
    model: str, metric: str, n_rows: int, *, original: float = math.nan, swapped: float = math.nan
) -> dict[str, Any]:
    return {
        "model": model,
        "metric": metric,
        "original": original,
        "swapped": swapped,
        "gap": swapped - original,
        "gap_low": math.nan,
        "gap_high": math.nan,
        "p_value": math.nan,
        "n_rows": n_rows,
    }
