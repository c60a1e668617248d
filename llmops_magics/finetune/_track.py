"""A fine-tuning run in the workspace's MLflow store, through :mod:`llmops_magics.tracking`:
started with its lineage tags, reopened to resume, and closed with the adapter, the history and
the final figures."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics import tracking
from llmops_magics.finetune._checkpoints import (
    CONFIG_FILE,
    SavedRun,
    checkpoint_root,
    last_checkpoint,
    save_adapter,
    save_tokenizer,
)
from llmops_magics.finetune._data import data_hash
from llmops_magics.finetune._errors import FineTuneError
from llmops_magics.finetune._result import HISTORY_COLUMNS, history_frame

if TYPE_CHECKING:
    import pandas as pd

    from llmops_magics.finetune._prepare import Prepared
    from llmops_magics.tracking import StageRun, Tracker

__all__ = [
    "MERGED_TO",
    "RESUMED_FROM",
    "full_history",
    "log_outcome",
    "log_setup",
    "reopen_run",
    "resumable",
    "source_tags",
    "start_run",
]

STAGE = "finetune"
#: the step a resumed run continued from (written by this stage only)
RESUMED_FROM = "llmops.resumed_from_step"
#: where ``merge`` wrote the full model of a run's adapter
MERGED_TO = "llmops.merged_to"
#: MLflow's longest parameter value
PARAM_MAX = 6000
_LIST_HINT = f'List fine-tuning runs with %llmops runs --filter "{tracking.filter_stage(STAGE)}".'


def _hashes(prepared: Prepared) -> dict[str, str]:
    """The content hash of each data set, by MLflow dataset context."""
    out = {"training": data_hash(prepared.train_frame)}
    if prepared.eval_frame is not None:
        out["evaluation"] = data_hash(prepared.eval_frame)
    return out


def _kept(prepared: Prepared) -> dict[str, str]:
    """Keep the frames in the workspace by content hash (``%llmops reproduce`` reads them)."""
    from llmops_magics.data import keep

    out = {tracking.DATA_CONTENT_HASH: keep(prepared.train_frame)}
    if prepared.eval_frame is not None:
        out[tracking.EVAL_DATA_CONTENT_HASH] = keep(prepared.eval_frame)
    return out


def source_tags(data: Any, eval_data: Any) -> dict[str, str]:
    """The content hashes of the frames as given (a prepared split, with columns the run does not
    read), so lineage links the rows the run read back to them."""
    import pandas as pd

    from llmops_magics.data import content_hash

    pairs = ((tracking.DATA_SOURCE_HASH, data), (tracking.EVAL_DATA_SOURCE_HASH, eval_data))
    return {tag: content_hash(f) for tag, f in pairs if isinstance(f, pd.DataFrame)}


def start_run(
    tracker: Tracker,
    prepared: Prepared,
    *,
    name: str | None = None,
    parent: str | None = None,
    tags: dict[str, str] | None = None,
) -> StageRun:
    """A new run of the stage, tagged with the lineage of its base model, data and seed."""
    config = prepared.config
    hashes = _hashes(prepared)
    lineage = {
        tracking.STATUS: "running",
        tracking.METHOD: config.method,
        tracking.BASE_MODEL: prepared.base_spec,
        tracking.BASE_MODEL_HASH: prepared.ref.content_hash,
        tracking.DATA_HASH: hashes["training"],
        tracking.SEED: str(config.seed),
    }
    if "evaluation" in hashes:
        lineage[tracking.EVAL_DATA_HASH] = hashes["evaluation"]
    lineage |= _kept(prepared)
    if config.prompt_version:
        lineage[tracking.PROMPT_VERSION] = config.prompt_version
    return tracker.start_run(
        STAGE,
        name=name or f"finetune {config.model}",
        tags=lineage | prepared.tags | (tags or {}),
        parent=parent,
        owned=True,
    )


def log_setup(run: StageRun, prepared: Prepared, model: Any, precision: str) -> None:
    """What a new run starts with: parameters, the method's artifacts and the data inputs."""
    n_trainable, n_total = model.get_nb_trainable_parameters()
    params = (
        prepared.config.params()
        | prepared.params
        | {
            "base_model_path": str(prepared.ref.path),
            "precision_used": precision,
            "trainable_params": str(n_trainable),
            "total_params": str(n_total),
            "target_modules_used": ",".join(sorted(model.peft_config["default"].target_modules)),
        }
    )
    run.log_params({k: v[:PARAM_MAX] for k, v in params.items()})
    for artifact, content in prepared.artifacts.items():
        run.log_dict(content, artifact)
    frames = {"training": prepared.train_frame, "evaluation": prepared.eval_frame}
    inputs = {
        context: (frames[context], f"finetune-{context}", digest)
        for context, digest in _hashes(prepared).items()
    }
    # the lineage tags carry the hashes; the dataset view in the MLflow UI is a bonus
    with contextlib.suppress(Exception):
        run.log_inputs(inputs)


def resumable(tracker: Tracker, run_id: str) -> tuple[Path, Path]:
    """The folder and the last checkpoint of a run that can be resumed; a clear error when it
    is missing, of another stage, still running, finished or without a checkpoint."""
    run = tracker.get_run(run_id, stage=STAGE, error=FineTuneError, hint=_LIST_HINT)
    root = checkpoint_root(run_id)
    if not SavedRun.exists(root):
        raise FineTuneError(
            f"The run {run_id!r} is not a fine-tuning run with checkpoints in this workspace.",
            hint=f"Checkpoints are kept under {root.parent}.",
        )
    # a run whose owning process died (a killed kernel) stays RUNNING in the store: resumable
    if run.info.status == "RUNNING" and tracking.owner_alive(run.data.tags) is not False:
        raise FineTuneError(
            f"The run {run_id!r} is still running.",
            hint="Wait for it to end (or interrupt it) before resuming.",
        )
    if run.data.tags.get(tracking.STATUS) == "finished":
        raise FineTuneError(
            f"The run {run_id!r} already finished; there is nothing to resume.",
            hint="Start a new run with more steps instead.",
        )
    checkpoint = last_checkpoint(root)
    if checkpoint is None:
        raise FineTuneError(
            f"The run {run_id!r} has no checkpoint to resume from.",
            hint="Start it again with the same config.",
        )
    return root, checkpoint


def reopen_run(tracker: Tracker, run_id: str, checkpoint: Path) -> StageRun:
    """Reopen a run to continue it from ``checkpoint``; this process becomes its owner."""
    run = tracker.resume_run(run_id)
    step = checkpoint.name.split("-")[-1]
    run.set_tags({tracking.STATUS: "running", RESUMED_FROM: step} | tracking.owner_tags())
    return run


def full_history(tracker: Tracker, run_id: str, history: list[dict[str, Any]]) -> pd.DataFrame:
    """This session's history, preceded by the rows an earlier (interrupted) session logged."""
    import pandas as pd

    frame = history_frame(history)
    first = int(frame["step"].min()) if len(frame) else 10**12
    earlier: dict[int, dict[str, Any]] = {}
    for key in ("train_loss", "eval_loss", "learning_rate", "tokens_per_s"):
        for m in tracker.metric_history(run_id, key):
            if m.step < first:
                earlier.setdefault(m.step, {"step": m.step})[key] = m.value
    if not earlier:
        return frame
    before = pd.DataFrame([earlier[k] for k in sorted(earlier)])
    before = before.reindex(columns=HISTORY_COLUMNS)
    return pd.concat([before, frame], ignore_index=True) if len(frame) else before


def log_outcome(
    run: StageRun,
    prepared: Prepared,
    model: Any,
    history: pd.DataFrame,
    summary: dict[str, float],
    *,
    step: int,
    status: str,
) -> Path:
    """Save and log the adapter, the tokenizer, the config and the history; log the final
    figures and end the run (KILLED when interrupted). Returns the adapter folder."""
    root = checkpoint_root(run.id)
    adapter = save_adapter(model, root / "adapter", prepared.base_spec)
    run.log_artifacts(adapter, "adapter")
    run.log_artifacts(save_tokenizer(prepared.tokenizer, root / "tokenizer"), "tokenizer")
    run.log_text(prepared.config.to_json(), CONFIG_FILE)
    run.log_text(history.to_csv(index=False), "history.csv")
    run.log_metrics(summary, step=step)
    run.set_tags({tracking.STATUS: status, tracking.CHECKPOINT_DIR: str(root)})
    run.end("KILLED" if status == "interrupted" else "FINISHED")
    return adapter
