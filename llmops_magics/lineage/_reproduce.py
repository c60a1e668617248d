"""``reproduce(run)``: redo a fine-tune or eval run from its lineage alone (the data kept by its
hash, the stored config, the seed, the prompt version) and report what differs.

fp32 on a CPU must give bit-identical adapter weights and metrics; bf16 (or a GPU) must stay
within :attr:`ReproduceConfig.tolerance`. An input that is gone is named, never guessed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.lineage._config import ReproduceConfig
from llmops_magics.lineage._errors import ReproduceError, WrongKindError
from llmops_magics.progress import ProgressOption
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ReproduceResult", "reproduce"]

#: what a fine-tune run stores (its module is private to the fine-tune stage)
FINETUNE_CONFIG = "finetune_config.json"
ADAPTER_WEIGHTS = "adapter/adapter_model.safetensors"
_EVAL_CONFIG_PARAMS = ("prompt_col", "reference_col", "prediction_col", "precision")


@dataclass
class ReproduceResult(Result):
    """A redone run next to its original: the inputs used and every compared figure."""

    run_id: str
    new_run_id: str
    stage: str
    precision: str
    exact: bool
    tolerance: float
    inputs: list[dict[str, str]]
    differences: list[dict[str, Any]] = field(default_factory=list)

    _title = "Reproduction"

    @property
    def max_difference(self) -> float:
        """The largest absolute difference over every compared figure (0.0 when identical)."""
        return max((float(d["abs_diff"]) for d in self.differences), default=0.0)

    @property
    def identical(self) -> bool:
        """Every compared figure and weight is bit for bit the same."""
        return all(d["identical"] for d in self.differences)

    @property
    def reproduced(self) -> bool:
        """Identical where exactness is required (fp32 on a CPU), else within the tolerance."""
        if self.exact:
            return self.identical
        return self.max_difference <= self.tolerance

    def to_frame(self) -> pd.DataFrame:
        """One row per compared figure: what, original, reproduced, abs_diff, identical."""
        import pandas as pd

        cols = ["what", "original", "reproduced", "abs_diff", "identical"]
        return pd.DataFrame(self.differences, columns=cols)

    def inputs_frame(self) -> pd.DataFrame:
        """The inputs the run was redone from: input, reference, status."""
        import pandas as pd

        return pd.DataFrame(self.inputs, columns=["input", "reference", "status"])

    def _summary(self) -> str:
        verdict = "reproduced" if self.reproduced else "NOT reproduced"
        rule = "bit-identical required" if self.exact else f"tolerance {self.tolerance:g}"
        return (
            f"{self.stage} run {self.run_id} redone as {self.new_run_id}: {verdict} "
            f"({self.precision}, {rule}; max difference {self.max_difference:.3g})"
        )

    def __repr__(self) -> str:
        return f"<ReproduceResult {self._summary()}>"


def _diff(what: str, original: float, redone: float) -> dict[str, Any]:
    same = original == redone or (math.isnan(original) and math.isnan(redone))
    return {
        "what": what,
        "original": original,
        "reproduced": redone,
        "abs_diff": 0.0 if same else abs(original - redone),
        "identical": same,
    }


def _timing(name: str) -> bool:
    """Metrics of speed or time, which no rerun repeats."""
    return name.endswith("_s") or any(w in name for w in ("per_s", "per_second", "runtime"))


def _metric_diffs(t: tracking.Tracker, original: Any, new_run_id: str) -> list[dict[str, Any]]:
    mine = original.data.metrics
    theirs = t.client.get_run(new_run_id).data.metrics
    return [
        _diff(f"metric {k}", float(mine[k]), float(theirs[k]))
        for k in sorted(set(mine) & set(theirs))
        if not _timing(k)
    ]


def _kept(hash_: str, what: str, run_id: str) -> Any:
    from llmops_magics import data

    try:
        return data.kept(hash_, what=what)
    except data.DataGoneError as exc:
        raise ReproduceError(
            f"Cannot redo run {run_id}: its {what} {hash_} is gone from the workspace.",
            missing=f"{what} {hash_}",
            hint=exc.hint,
        ) from exc


def _cpu_only() -> bool:
    import torch

    return not torch.cuda.is_available()


# --- fine-tune runs ------------------------------------------------------------------------------


def _finetune_inputs(t: tracking.Tracker, run: Any) -> tuple[Any, Any, Any, list[dict[str, str]]]:
    """The stored config and the kept frames of a fine-tune run; errors name what is gone."""
    from llmops_magics import finetune, models

    rid, tags = run.info.run_id, run.data.tags
    try:
        text = t.download(rid, FINETUNE_CONFIG).read_text(encoding="utf-8")
    except Exception as exc:
        raise ReproduceError(
            f"Cannot redo run {rid}: its config ({FINETUNE_CONFIG}) is gone from its artifacts.",
            missing="config",
        ) from exc
    config = finetune.FineTuneConfig.from_json(text)
    train_hash = tags.get(tracking.DATA_CONTENT_HASH)
    if not train_hash:
        raise ReproduceError(
            f"Cannot redo run {rid}: it did not keep its training data (data hash "
            f"{tags.get(tracking.DATA_HASH, '?')[:16]}; runs before kept data name no frame).",
            missing="training data",
            hint="Train it again: new runs keep their data by content hash.",
        )
    inputs = [{"input": "config", "reference": FINETUNE_CONFIG, "status": "found"}]
    train = _kept(train_hash, "training data", rid)
    inputs.append({"input": "training data", "reference": f"data:{train_hash}", "status": "kept"})
    evaluation = None
    if eval_hash := tags.get(tracking.EVAL_DATA_CONTENT_HASH):
        evaluation = _kept(eval_hash, "evaluation data", rid)
        inputs.append(
            {"input": "evaluation data", "reference": f"data:{eval_hash}", "status": "kept"}
        )
    base = tags.get(tracking.BASE_MODEL, config.model)
    try:
        now = models.resolve(config.model).content_hash
    except Exception as exc:
        raise ReproduceError(
            f"Cannot redo run {rid}: its base model {base} is gone ({exc}).",
            missing=f"base model {base}",
        ) from exc
    if tags.get(tracking.BASE_MODEL_HASH) and now != tags[tracking.BASE_MODEL_HASH]:
        raise ReproduceError(
            f"Cannot redo run {rid}: its base model {base} changed (weights hash "
            f"{now[:12]}, the run used {tags[tracking.BASE_MODEL_HASH][:12]}).",
            missing=f"base model {base} (as it was)",
        )
    inputs.append({"input": "base model", "reference": base, "status": "same weights"})
    inputs.append({"input": "seed", "reference": str(config.seed), "status": "from config"})
    if config.prompt_version:
        inputs.append(
            {"input": "prompt version", "reference": config.prompt_version, "status": "tag"}
        )
    return config, train, evaluation, inputs


def _weights(path: Any) -> dict[str, Any]:
    from safetensors.torch import load_file

    return dict(load_file(str(path)))


def _weight_diffs(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    import torch

    if set(before) != set(after):
        return [_diff("adapter tensors (names differ)", float(len(before)), float(len(after)))]
    worst, differing = 0.0, 0
    for name, a in before.items():
        b = after[name]
        if a.shape != b.shape or not torch.equal(a, b):
            differing += 1
            if a.shape == b.shape:
                worst = max(worst, float((a.float() - b.float()).abs().max()))
            else:
                worst = math.inf
    row = _diff("adapter weights (max |diff|)", 0.0, worst)
    row["identical"] = differing == 0
    return [row, _diff("adapter tensors that differ", 0.0, float(differing))]


def _redo_finetune(
    t: tracking.Tracker, run: Any, cfg: ReproduceConfig, progress: ProgressOption
) -> ReproduceResult:
    from llmops_magics import finetune

    rid = run.info.run_id
    config, train, evaluation, inputs = _finetune_inputs(t, run)
    try:
        original = _weights(t.download(rid, ADAPTER_WEIGHTS))
    except Exception as exc:
        raise ReproduceError(
            f"Cannot compare with run {rid}: its adapter ({ADAPTER_WEIGHTS}) is gone.",
            missing="adapter",
        ) from exc
    options: dict[str, Any] = {
        "run_name": f"reproduce {run.info.run_name or rid[:8]}",
        "tags": {tracking.REPRODUCES: rid},
        "progress": progress,
    }
    if config.method == "dpo":
        result = finetune.train_dpo(config, train, evaluation, **options)
    else:
        result = finetune.train(config, train, evaluation, **options)
    precision = run.data.params.get("precision_used", "fp32")
    diffs = _weight_diffs(original, _weights(f"{result.adapter_dir}/adapter_model.safetensors"))
    return ReproduceResult(
        rid,
        result.run_id,
        "finetune",
        precision,
        exact=precision == "fp32" and _cpu_only(),
        tolerance=cfg.tolerance,
        inputs=inputs,
        differences=diffs + _metric_diffs(t, run, result.run_id),
    )


# --- eval runs -----------------------------------------------------------------------------------


def _typed(cls: Any, values: dict[str, str]) -> dict[str, Any]:
    """String parameters back to the types of ``cls``'s fields ('' is None)."""
    import ast

    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        raw, kind = values[f.name], str(f.type)
        if raw == "" and "None" in kind:
            out[f.name] = None
        elif kind.startswith("str"):
            out[f.name] = raw
        elif kind.startswith("float"):
            out[f.name] = float(raw)
        else:
            try:  # ints, booleans, lists: what str() of the value wrote
                out[f.name] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                out[f.name] = raw
    return out


def _redo_eval(
    t: tracking.Tracker, run: Any, cfg: ReproduceConfig, progress: ProgressOption
) -> ReproduceResult:
    from llmops_magics import evaluation, models

    rid, tags, params = run.info.run_id, run.data.tags, dict(run.data.params)
    data_hash = tags.get(tracking.DATA_HASH, "")
    frame = _kept(data_hash, "eval data", rid)
    inputs = [{"input": "eval data", "reference": f"data:{data_hash}", "status": "kept"}]
    model = tags.get(tracking.MODEL, "")
    by_column = bool(params.get("prediction_col"))
    if not by_column:
        try:
            models.resolve(model)
        except Exception as exc:
            raise ReproduceError(
                f"Cannot redo run {rid}: its model {model} is gone ({exc}).",
                missing=f"model {model}",
            ) from exc
        inputs.append({"input": "model", "reference": model, "status": "found"})
    settings = {k: params[k] for k in _EVAL_CONFIG_PARAMS if k in params}
    config = evaluation.EvalConfig(
        models=[] if by_column else [model],
        metrics=params.get("metrics") or None,
        bootstrap=int(params.get("bootstrap", "0")),
        seed=int(params.get("seed", "0")),
        prompt_version=tags.get(tracking.PROMPT_VERSION),
        **_typed(evaluation.EvalConfig, settings),
    )
    generation = models.GenerationParams(**_typed(models.GenerationParams, params))
    inputs.append({"input": "seed", "reference": str(config.seed), "status": "param"})
    result = evaluation.evaluate(frame, config=config, params=generation, progress=progress)
    new_id = next(iter(result.run_ids.values()))
    t.set_tags(new_id, {tracking.REPRODUCES: rid})
    # generation and text metrics run in fp32; perplexity in the precision it logged
    precision = params.get("perplexity_precision") or "fp32"
    return ReproduceResult(
        rid,
        new_id,
        "eval",
        precision,
        exact=precision == "fp32" and _cpu_only(),
        tolerance=cfg.tolerance,
        inputs=inputs,
        differences=_metric_diffs(t, run, new_id),
    )


def reproduce(
    run: str, config: ReproduceConfig | None = None, *, progress: ProgressOption = None
) -> ReproduceResult:
    """Redo fine-tune or eval run ``run`` from its lineage and compare it with the original.

    Parameters
    ----------
    run
        The run id (or ``run:<id>``) of a fine-tune (SFT or DPO) or eval run.
    config
        A :class:`ReproduceConfig` (the tolerance for bf16 and GPU runs).

    Raises
    ------
    ReproduceError
        When an input is gone or changed: ``missing`` names it (training data by hash, config,
        base model, adapter, model).
    WrongKindError
        When the run is of another stage.
    """
    cfg = config or ReproduceConfig()
    run_id = run.removeprefix("run:").strip()
    t = tracking.tracker()
    found = t.get_run(run_id)
    stage = found.data.tags.get(tracking.STAGE, "")
    if stage == "finetune":
        return _redo_finetune(t, found, cfg, progress)
    if stage == "eval":
        return _redo_eval(t, found, cfg, progress)
    raise WrongKindError(
        f"Run {run_id} is a {stage or 'untagged'} run; reproduce redoes fine-tune and eval runs.",
        hint="Give the id of a fine-tune or eval run (%llmops runs lists them).",
    )
