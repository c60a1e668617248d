"""LoRA fine-tuning with the Hugging Face ``Trainer``, tracked in the workspace's MLflow store.

One call = one MLflow run. Its checkpoints live in ``<workspace>/checkpoints/<run_id>/`` (with
the config and the data, so ``resume(run_id)`` needs nothing else); the final adapter, the
tokenizer, the config and the loss history are logged as artifacts, and ``run:<id>`` loads the
adapter on its base model.

The steps live in their own modules: ``_prepare`` (data, base model, trainer factory),
``_model`` (precision, loading, LoRA), ``_track`` (the MLflow run), ``_checkpoints`` (the run's
folder), ``_callbacks`` (inside the Trainer loop) and ``_result``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from llmops_magics import tracking
from llmops_magics.finetune._callbacks import Interrupt, StepLog, tracking_callback
from llmops_magics.finetune._checkpoints import SavedRun, checkpoint_root
from llmops_magics.finetune._config import FineTuneConfig
from llmops_magics.finetune._errors import FineTuneError
from llmops_magics.finetune._model import hidden_size, resolve_precision
from llmops_magics.finetune._prepare import Prepared, planned_steps, prepare, training_args
from llmops_magics.finetune._progress import TrainingLog
from llmops_magics.finetune._result import FineTuneResult, last_value
from llmops_magics.finetune._track import (
    full_history,
    log_outcome,
    log_setup,
    reopen_run,
    resumable,
    source_tags,
    start_run,
)
from llmops_magics.progress import ProgressOption, channel

if TYPE_CHECKING:
    from llmops_magics.progress import Progress
    from llmops_magics.tracking import StageRun

__all__ = ["RunOptions", "resume", "train"]


class RunOptions(TypedDict, total=False):
    """The keyword options of :func:`train` (also taken by :func:`train_dpo`)."""

    callbacks: Sequence[Any] | None
    parent_run_id: str | None
    run_name: str | None
    tags: dict[str, str] | None
    progress: ProgressOption


def train(
    config: FineTuneConfig,
    data: Any,
    eval_data: Any = None,
    *,
    callbacks: Sequence[Any] | None = None,
    parent_run_id: str | None = None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    progress: ProgressOption = None,
) -> FineTuneResult:
    """Fine-tune a LoRA adapter on ``data`` and log the run in the workspace's MLflow store.

    Parameters
    ----------
    config
        A :class:`FineTuneConfig` (``method="sft"``; DPO runs go through :func:`train_dpo`).
    data, eval_data
        DataFrames with the columns the config names; ``eval_data`` is evaluated every
        ``config.eval_steps`` steps and at the end.
    callbacks
        Extra ``transformers.TrainerCallback`` objects; one that sets
        ``control.should_training_stop`` ends the run early with status ``"stopped"``.
    parent_run_id
        Make the MLflow run a child of this run (a sweep's parent run).
    run_name, tags
        Name and extra tags of the MLflow run.
    progress
        None: a live panel in a notebook front end, log lines otherwise; False: nothing;
        ``"plain"``/``"panel"`` force one.

    Returns
    -------
    FineTuneResult
        Run id, ``run:<id>`` spec, status, losses, history and where the adapter is.
    """
    prepared = prepare(config, data, eval_data)
    view = channel("finetune", progress, plain=TrainingLog)
    tags = source_tags(data, eval_data) | (tags or {})
    run = start_run(tracking.tracker(), prepared, name=run_name, parent=parent_run_id, tags=tags)
    return _execute(prepared, run, view, callbacks=callbacks)


def resume(
    run: str,
    *,
    data: Any = None,
    eval_data: Any = None,
    callbacks: Sequence[Any] | None = None,
    progress: ProgressOption = None,
) -> FineTuneResult:
    """Continue an interrupted or stopped run from its last checkpoint.

    The optimizer, scheduler and random states come back from the checkpoint, so the run ends
    with the weights an uninterrupted run with the same seed would have. The config and data
    are those the run saved; ``data``/``eval_data``, when given, must be the same content. A
    run whose process died (it still shows as running) can be resumed too.

    Parameters
    ----------
    run
        The run id (or ``run:<id>``, or a registered version ``models:/NAME/V`` /
        ``models:/NAME@ALIAS``: the run it was registered from).
    """
    run_id = run.removeprefix("run:").strip()
    if run_id.startswith("models:/"):
        from llmops_magics import models

        run_id = models.resolve(run_id).meta.get("run_id") or run_id
    tracker = tracking.tracker()
    root, checkpoint = resumable(tracker, run_id)
    saved = SavedRun.load(root)
    saved.check_same(run_id, data, eval_data)
    prepared = prepare(saved.config, saved.train, saved.evals)
    view = channel("finetune", progress, plain=TrainingLog)
    handle = reopen_run(tracker, run_id, checkpoint)
    return _execute(prepared, handle, view, callbacks=callbacks, checkpoint=checkpoint)


def _execute(
    prepared: Prepared,
    run: StageRun,
    view: Progress,
    *,
    callbacks: Sequence[Any] | None = None,
    checkpoint: Path | None = None,
) -> FineTuneResult:
    """Train (from ``checkpoint`` when resuming) and close the run; any failure ends it FAILED."""
    config = prepared.config
    precision = resolve_precision(config.precision, hidden_size=hidden_size(prepared.ref.path))
    history: list[dict[str, Any]] = []
    root = checkpoint_root(run.id)
    with run:
        if checkpoint is None:
            SavedRun(config, prepared.train_frame, prepared.eval_frame).save(root)
        steps, interrupt = StepLog(run, view, history), Interrupt()
        args = training_args(prepared, root, precision)
        trainer = prepared.make_trainer(
            args, [tracking_callback(steps, interrupt), *(callbacks or [])]
        )
        if checkpoint is None:
            log_setup(run, prepared, trainer.model, precision)
        # our callback and view replace the Trainer's printed dicts and tqdm bar
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        view.start(
            planned_steps(config, prepared.n_train),
            f"{config.method} {config.model} · run {run.id[:8]}",
        )
        started = time.perf_counter()
        try:
            status = _run_trainer(trainer, steps, interrupt, checkpoint, prepared.has_eval)
        except BaseException as exc:
            run.set_tag(tracking.STATUS, "failed")
            view.finish("failed", str(exc)[:200])
            if isinstance(exc, RuntimeError) and not isinstance(exc, FineTuneError):
                raise FineTuneError(
                    f"Training failed at step {trainer.state.global_step}: {exc}",
                    hint="Try a smaller --batch-size or --max-length.",
                ) from exc
            raise
        train_s = time.perf_counter() - started
        steps.flush()
        return _finish(prepared, trainer, run, history, status, precision, train_s, view)


def _run_trainer(
    trainer: Any, steps: StepLog, interrupt: Interrupt, checkpoint: Path | None, has_eval: bool
) -> str:
    """Run the Trainer; the run's status: finished, stopped (by a callback) or interrupted."""
    status = "finished"
    try:
        with interrupt:
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        if interrupt.requested:
            raise KeyboardInterrupt
        state = trainer.state
        if state.global_step < state.max_steps:
            status = "stopped"
        if has_eval and status == "finished" and steps.last_eval_step != state.global_step:
            trainer.evaluate()
    except KeyboardInterrupt:
        status = "interrupted"
        # The Trainer has no public "checkpoint now": _save_checkpoint writes what its own
        # save_steps checkpoints hold (adapter, optimizer, scheduler, RNG states), which
        # resume() needs to continue bit for bit (tested with transformers 5.x).
        trainer._save_checkpoint(trainer.model, trial=None)
    return status


def _finish(
    prepared: Prepared,
    trainer: Any,
    run: StageRun,
    history: list[dict[str, Any]],
    status: str,
    precision: str,
    train_s: float,
    view: Progress,
) -> FineTuneResult:
    """Log the outcome, end the run and build the result."""
    config, state = prepared.config, trainer.state
    # the whole history so far (a resumed run includes the steps before the interrupt)
    frame = full_history(run.tracker, run.id, history)
    train_loss, eval_loss = last_value(frame, "train_loss"), last_value(frame, "eval_loss")
    summary = {
        "final_step": float(state.global_step),
        "train_s": train_s,
        "tokens_seen": float(state.num_input_tokens_seen),
    }
    if train_loss is not None:
        summary["final_train_loss"] = train_loss
    if eval_loss is not None:
        summary["final_eval_loss"] = eval_loss
    adapter = log_outcome(
        run, prepared, trainer.model, frame, summary, step=state.global_step, status=status
    )
    speeds = [r["tokens_per_s"] for r in history if r.get("tokens_per_s")]
    result = FineTuneResult(
        run_id=run.id,
        spec=f"run:{run.id}",
        status=status,
        global_step=state.global_step,
        max_steps=state.max_steps,
        train_loss=train_loss,
        eval_loss=eval_loss,
        history=frame,
        adapter_dir=str(adapter),
        checkpoint_dir=str(checkpoint_root(run.id)),
        base_model=prepared.base_spec,
        method=config.method,
        precision=precision,
        train_s=train_s,
        tokens_per_s=sum(speeds) / len(speeds) if speeds else 0.0,
        config=config.to_dict(),
        tracking_uri=run.tracker.uri,
        truncated_rows=prepared.truncated,
    )
    message = f"step {state.global_step}/{state.max_steps} · model spec {result.spec}"
    if status == "interrupted":
        message += f" · resume with %llmops finetune --resume {run.id}"
    view.finish(status, message)
    return result
