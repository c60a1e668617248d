"""What runs inside the ``Trainer`` loop: the stop button, and the callback that turns the
Trainer's logs into the run's history, batched MLflow metrics and progress updates."""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmops_magics.progress import Progress
    from llmops_magics.tracking import StageRun

__all__ = ["FLUSH_EVERY_S", "Interrupt", "StepLog", "tracking_callback"]

#: write the buffered metrics at least this often (seconds), and at every evaluation
FLUSH_EVERY_S = 10.0
#: the metrics logged per step, besides the Trainer's own grad_norm and epoch
STEP_METRICS = ("train_loss", "eval_loss", "learning_rate", "tokens_per_s")


class Interrupt:
    """Turns the first SIGINT (the kernel's stop button) into a stop at the next step end, so
    the checkpoint is exactly the state of a completed step; a second SIGINT stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "llmops: stopping after this step and saving a checkpoint (interrupt again to "
            "stop at once)",
            flush=True,
        )

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class StepLog:
    """The run's history as the Trainer logs it: one row per log call, each also written to
    the run's metrics (batched: flushed at every evaluation and every ``FLUSH_EVERY_S``) and
    shown by the progress view."""

    def __init__(self, run: StageRun, view: Progress, history: list[dict[str, Any]]) -> None:
        self.run = run
        self.view = view
        self.history = history
        self.started = self.last_time = self.last_flush = time.perf_counter()
        self.start_step = 0
        self.last_tokens = 0
        self.last_eval_step = -1

    def begin(self, step: int, tokens: int) -> None:
        """Training (re)starts at ``step`` with ``tokens`` seen so far."""
        self.started = self.last_time = time.perf_counter()
        self.start_step, self.last_tokens = step, tokens

    def row(
        self, logs: Mapping[str, Any], step: int, max_steps: int, tokens: int
    ) -> dict[str, Any] | None:
        """The history row of one log call (None when it holds neither loss)."""
        now = time.perf_counter()
        row: dict[str, Any] = {"step": step}
        if "loss" in logs:
            row["train_loss"] = float(logs["loss"])
            row["learning_rate"] = float(logs.get("learning_rate", float("nan")))
            dt = now - self.last_time
            row["tokens_per_s"] = (tokens - self.last_tokens) / dt if dt > 0 else 0.0
            self.last_tokens, self.last_time = tokens, now
        if "eval_loss" in logs:
            row["eval_loss"] = float(logs["eval_loss"])
            self.last_eval_step = step
        if len(row) == 1:
            return None
        row["elapsed_s"] = now - self.started
        done = step - self.start_step
        row["eta_s"] = (max_steps - step) * (now - self.started) / done if done > 0 else None
        return row

    def log(self, logs: Mapping[str, Any], step: int, max_steps: int, tokens: int) -> None:
        """Record one log call of the Trainer."""
        row = self.row(logs, step, max_steps, tokens)
        if row is None:
            return
        self.history.append(row)
        values = {k: row.get(k) for k in STEP_METRICS}
        values |= {k: logs[k] for k in ("grad_norm", "epoch") if k in logs}
        finite = {
            k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))
        }
        self.run.log_metrics(finite, step=step)
        if "eval_loss" in row or time.perf_counter() - self.last_flush > FLUSH_EVERY_S:
            self.flush()
        self.view.update(row)

    def flush(self) -> None:
        """Write the buffered metrics to the run."""
        self.run.flush()
        self.last_flush = time.perf_counter()


def tracking_callback(steps: StepLog, interrupt: Interrupt) -> Any:
    """A ``TrainerCallback`` that feeds ``steps`` and stops at a step end on the stop button."""
    from transformers import TrainerCallback

    class Tracking(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            steps.begin(state.global_step, state.num_input_tokens_seen)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            # the stop button: end after this step (logged like any other), then checkpoint
            if interrupt.requested:
                control.should_training_stop = True

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            steps.log(logs or {}, state.global_step, state.max_steps, state.num_input_tokens_seen)

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            steps.flush()

    return Tracking()
