"""What a fine-tuning run returns: :class:`FineTuneResult` and its loss history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HISTORY_COLUMNS", "FineTuneResult", "history_frame", "last_value"]

#: the columns of a run's loss history, one row per logged step
HISTORY_COLUMNS = ["step", "train_loss", "eval_loss", "learning_rate", "tokens_per_s", "elapsed_s"]


@dataclass
class FineTuneResult(Result):
    """The outcome of a fine-tuning run.

    ``spec`` (``run:<id>``) is a model spec for generate, prompts and eval; ``history`` has one
    row per logged step (``step``, ``train_loss``, ``eval_loss``, ``learning_rate``,
    ``tokens_per_s``, ``elapsed_s``).
    """

    run_id: str
    spec: str
    status: str
    global_step: int
    max_steps: int
    train_loss: float | None
    eval_loss: float | None
    history: pd.DataFrame
    adapter_dir: str
    checkpoint_dir: str
    base_model: str
    method: str
    precision: str
    train_s: float
    tokens_per_s: float
    config: dict[str, Any] = field(default_factory=dict)
    tracking_uri: str = ""
    truncated_rows: int = 0

    _title = "finetune"

    def to_frame(self) -> pd.DataFrame:
        """The loss history, one row per logged step."""
        return self.history.copy()

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data (history as a list of records)."""
        out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        out["history"] = self.history.to_dict(orient="records")
        return out

    def _summary(self) -> str:
        loss = f"train loss {self.train_loss:.4f}" if self.train_loss is not None else "no loss"
        if self.eval_loss is not None:
            loss += f", eval loss {self.eval_loss:.4f}"
        return (
            f"{self.method} on {self.base_model}: {self.status} at step {self.global_step}/"
            f"{self.max_steps}, {loss}, {self.tokens_per_s:.0f} tokens/s ({self.precision}) · "
            f"model spec {self.spec}"
        )

    def __repr__(self) -> str:
        lines = [self._summary(), f"  adapter: {self.adapter_dir}"]
        if self.status == "interrupted":
            lines.append(f"  resume: %llmops finetune --resume {self.run_id}")
        return "\n".join(lines)

    def plot(self) -> Any:
        """A matplotlib figure of the train and eval loss curves."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 3))
        ax = fig.subplots()
        h = self.history
        train = h.dropna(subset=["train_loss"]) if "train_loss" in h else h.iloc[0:0]
        evals = h.dropna(subset=["eval_loss"]) if "eval_loss" in h else h.iloc[0:0]
        if len(train):
            ax.plot(train["step"], train["train_loss"], label="train loss", lw=1)
        if len(evals):
            ax.plot(evals["step"], evals["eval_loss"], "o-", label="eval loss")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(f"{self.spec} ({self.status})")
        if len(train) or len(evals):
            ax.legend()
        fig.tight_layout()
        return fig


def history_frame(history: list[dict[str, Any]]) -> pd.DataFrame:
    """The logged rows as a frame with one row per step (a train and an eval log of the same
    step merge)."""
    import pandas as pd

    frame = pd.DataFrame(history, columns=[*HISTORY_COLUMNS])
    if frame.empty:
        return frame
    frame = frame.groupby("step", as_index=False, sort=True).first()
    return frame[HISTORY_COLUMNS].reset_index(drop=True)


def last_value(frame: pd.DataFrame, column: str) -> float | None:
    """The last non-missing value of ``column`` (None when there is none)."""
    if column not in frame or frame[column].dropna().empty:
        return None
    return float(frame[column].dropna().iloc[-1])
