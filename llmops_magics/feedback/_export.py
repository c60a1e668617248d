"""Training sets from ratings: DPO preference pairs and SFT demonstrations, as JSONL."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.feedback._errors import FeedbackError
from llmops_magics.feedback._options import ExportOptions, merge
from llmops_magics.files import atomic_file
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ExportResult", "dpo_pairs", "export", "sft_pairs"]

KINDS = ("dpo", "sft")

#: an export's run: ``tracking.KIND`` is ``export``; its format, file and the JSON artifact that
#: names the ratings and traces it came from (lineage reads them)
EXPORT_KIND = "export"
EXPORT_FORMAT = "llmops.export.format"
EXPORT_PATH = "llmops.export.path"
EXPORT_ARTIFACT = "export_lineage.json"


@dataclass
class ExportResult(Result):
    """What an export wrote: the file, its format and how many rows."""

    kind: str
    path: str
    rows: int
    columns: list[str]
    sources: dict[str, int]
    #: the ``feedback`` run that records the export in the store (lineage reads it)
    run_id: str = ""

    _title = "feedback export"

    def to_frame(self) -> pd.DataFrame:
        """The written file, read back."""
        import pandas as pd

        return pd.read_json(self.path, lines=True)

    def _summary(self) -> str:
        how = ", ".join(f"{n} from {k}" for k, n in self.sources.items())
        return f"{self.kind} export: {self.rows} rows ({how}) -> {self.path}"

    def __repr__(self) -> str:
        return self._summary()


def _lists(group: pd.DataFrame) -> dict[str, list[str]]:
    return {
        "trace_ids": sorted(set(group["trace_id"])),
        "assessment_ids": list(group["assessment_id"]),
        "raters": sorted(set(group["rater"])),
    }


def dpo_pairs(ratings: pd.DataFrame, *, min_margin: float = 1.0) -> pd.DataFrame:
    """Preference pairs ``prompt, chosen, rejected`` with lineage columns.

    Pairwise ratings give a pair per item by majority vote of the raters (``tie`` and
    ``both_bad`` are votes for neither; an even split gives no pair). Star ratings give a pair
    for every two outputs to the same prompt whose mean stars differ by ``min_margin`` or more.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    pair = ratings[ratings["mode"] == "pairwise"]
    for _, group in pair.groupby(["item_key", "trace_id"], sort=False):
        votes = Counter(group["value"])
        if votes["a"] == votes["b"]:
            continue
        first = group.iloc[0]
        win_a = votes["a"] > votes["b"]
        chosen, rejected = (
            (first["output_a"], first["output_b"])
            if win_a
            else (first["output_b"], first["output_a"])
        )
        rows.append(
            {
                "prompt": first["prompt"],
                "chosen": chosen,
                "rejected": rejected,
                "source": "pairwise",
                "margin": float(abs(votes["a"] - votes["b"])),
                **_lists(group),
            }
        )
    stars = ratings[ratings["mode"] == "stars"]
    for prompt, by_prompt in stars.groupby("prompt", sort=False):
        means = {out: g for out, g in by_prompt.groupby("output", sort=False)}
        scored = sorted(
            ((float(g["value"].astype(float).mean()), out, g) for out, g in means.items()),
            key=lambda t: -t[0],
        )
        for (hi, out_hi, g_hi), (lo, out_lo, g_lo) in combinations(scored, 2):
            if hi - lo >= min_margin and out_hi != out_lo:
                rows.append(
                    {
                        "prompt": prompt,
                        "chosen": out_hi,
                        "rejected": out_lo,
                        "source": "stars",
                        "margin": round(hi - lo, 4),
                        **_lists(pd.concat([g_hi, g_lo])),
                    }
                )
    cols = [
        "prompt",
        "chosen",
        "rejected",
        "source",
        "margin",
        "trace_ids",
        "assessment_ids",
        "raters",
    ]
    return pd.DataFrame(rows, columns=cols)


def sft_pairs(ratings: pd.DataFrame, *, min_stars: float = 4.0) -> pd.DataFrame:
    """Highly rated ``prompt, response`` pairs with lineage columns.

    ``completion`` repeats ``response``: TRL's ``SFTTrainer`` reads prompt/completion,
    ``%llmops finetune --prompt-col prompt --response-col response`` reads the other.

    An output qualifies when every kind of rating it has is positive: its mean stars reach
    ``min_stars`` and most of its thumbs are up.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    single = ratings[ratings["mode"].isin(["stars", "thumbs"])]
    for (prompt, output), group in single.groupby(["prompt", "output"], sort=False):
        stars = group[group["mode"] == "stars"]["value"].astype(float)
        thumbs = Counter(group[group["mode"] == "thumbs"]["value"])
        # Every signal present must be positive: a thumbs-up does not redeem a one-star output.
        good = (stars.empty or stars.mean() >= min_stars) and (
            sum(thumbs.values()) == 0 or thumbs["up"] > thumbs["down"]
        )
        if good and str(output).strip():
            rows.append(
                {
                    "prompt": prompt,
                    "response": output,
                    "completion": output,
                    "mean_stars": round(float(stars.mean()), 4) if not stars.empty else None,
                    "thumbs_up": thumbs["up"],
                    "thumbs_down": thumbs["down"],
                    **_lists(group),
                }
            )
    cols = ["prompt", "response", "completion", "mean_stars", "thumbs_up", "thumbs_down"]
    return pd.DataFrame(rows, columns=[*cols, "trace_ids", "assessment_ids", "raters"])


def _target(path: str | os.PathLike[str]) -> Path:
    target = Path(path).expanduser()
    if target.is_dir():
        raise FeedbackError(
            f"{str(target)!r} is a folder.", hint="Give a file name, e.g. pairs.jsonl."
        )
    if not target.parent.exists():
        raise FeedbackError(
            f"The folder {str(target.parent)!r} does not exist.", hint="Create it first."
        )
    return target


def _examples(kind: str, ratings: pd.DataFrame, opts: ExportOptions) -> pd.DataFrame:
    frame = (
        dpo_pairs(ratings, min_margin=opts.min_margin)
        if kind == "dpo"
        else sft_pairs(ratings, min_stars=opts.min_stars)
    )
    if frame.empty:
        need = (
            "pairwise ratings with a winner, or star ratings of two outputs to one prompt"
            if kind == "dpo"
            else f"outputs rated {opts.min_stars:g}+ stars or thumbs up"
        )
        raise FeedbackError(
            f"Nothing to export as {kind}: the ratings hold no {need}.",
            hint="Rate more items with %llmops rate, then export again. No file was written.",
        )
    return frame


def export(
    kind: str,
    path: str | os.PathLike[str],
    ratings: pd.DataFrame | None = None,
    *,
    model: str | None = None,
    since: str | None = None,
    options: ExportOptions | None = None,
    min_stars: float | None = None,
    min_margin: float | None = None,
) -> ExportResult:
    """Write ratings as a training set (JSONL) that TRL's trainers and ``%llmops finetune`` load.

    Parameters
    ----------
    kind
        ``dpo`` (``prompt, chosen, rejected``) or ``sft`` (``prompt, response``).
    path
        The JSONL file to write; it is replaced whole or not at all.
    ratings
        A feedback frame (default: :func:`load_feedback` with ``model`` and ``since``).
    options
        An :class:`ExportOptions`; ``min_stars`` and ``min_margin`` override its fields.
    """
    if kind not in KINDS:
        raise FeedbackError(f"Unknown export format {kind!r}.", hint="Use dpo or sft.")
    opts = merge(ExportOptions, options, {"min_stars": min_stars, "min_margin": min_margin})
    target = _target(path)
    if ratings is None:
        from llmops_magics.feedback._store import load_feedback

        ratings = load_feedback(model=model, since=since)
    frame = _examples(kind, ratings, opts)
    with atomic_file(target) as handle:  # a crash leaves the old file or the new one
        for record in frame.to_dict(orient="records"):
            handle.write(json.dumps(_plain(record), ensure_ascii=False) + "\n")
    sources = (
        {str(k): int(v) for k, v in frame["source"].value_counts().items()}
        if kind == "dpo"
        else {"stars/thumbs": len(frame)}
    )
    result = ExportResult(kind, str(target), len(frame), list(frame.columns), sources)
    result.run_id = _record(result, frame, opts)
    return result


def _record(result: ExportResult, frame: pd.DataFrame, opts: ExportOptions) -> str:
    """Record the export in the store (a ``feedback`` run): the content hash of the file as a
    reader loads it, and the ratings and traces it came from, so lineage links ratings →
    export → data → the fine-tunes trained on it."""
    import pandas as pd

    from llmops_magics import tracking
    from llmops_magics.data import content_hash

    written = pd.read_json(result.path, lines=True, dtype=False)  # what a fine-tune reads
    ids: dict[str, set[str]] = {"assessment_ids": set(), "trace_ids": set()}
    for column, found in ids.items():
        for value in frame[column]:
            found.update(value)
    tags = {
        tracking.KIND: EXPORT_KIND,
        EXPORT_FORMAT: result.kind,
        EXPORT_PATH: result.path,
        tracking.DATA_HASH: content_hash(written),
    }
    params = {"rows": result.rows, "min_stars": opts.min_stars, "min_margin": opts.min_margin}
    t = tracking.tracker()
    with t.start_run("feedback", name=f"feedback export {result.kind}", tags=tags) as run:
        run.log_params(params)
        run.log_dict({k: sorted(v) for k, v in ids.items()}, EXPORT_ARTIFACT)
    return run.id


def _plain(record: dict[Any, Any]) -> dict[str, Any]:
    out = {}
    for k, v in record.items():
        if hasattr(v, "item") and not isinstance(v, list | str):
            v = v.item()
        if isinstance(v, float) and v != v:
            v = None
        out[str(k)] = v
    return out
