"""What a pipeline run returns: one :class:`StageResult` per stage, in a :class:`PipelineResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PipelineResult", "StageResult"]


@dataclass(frozen=True)
class StageResult:
    """One stage of a pipeline run: executed now, or served from the cache."""

    name: str
    template: str
    state: str  # "executed" | "cached"
    duration_s: float
    key: str
    notebook: str
    html: str
    params: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineResult(Result):
    """A finished pipeline run: its stages, their outputs and metrics, where everything is."""

    name: str
    run_id: str | None
    stages: list[StageResult]
    seed: int
    folder: str
    duration_s: float
    tracking_uri: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    _title = "pipeline"

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """Each stage's recorded outputs."""
        return {s.name: s.outputs for s in self.stages}

    @property
    def metrics(self) -> dict[str, float]:
        """Every stage's metrics as ``{"stage.metric": value}``."""
        return {f"{s.name}.{k}": v for s in self.stages for k, v in s.metrics.items()}

    @property
    def executed(self) -> list[str]:
        """Stages that ran in this call."""
        return [s.name for s in self.stages if s.state == "executed"]

    @property
    def cached(self) -> list[str]:
        """Stages served from the cache."""
        return [s.name for s in self.stages if s.state == "cached"]

    def stage(self, name: str) -> StageResult:
        """The result of stage ``name``."""
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        """One row per stage: state, time, outputs, metrics, executed notebook."""
        import pandas as pd

        rows = [
            {
                "stage": s.name,
                "template": Path(s.template).stem if s.template.endswith(".ipynb") else s.template,
                "state": s.state,
                "seconds": round(s.duration_s, 2),
                "outputs": ", ".join(f"{k}={v}" for k, v in s.outputs.items()),
                "metrics": _metrics_text(s),
                "notebook": s.notebook,
            }
            for s in self.stages
        ]
        columns = ["stage", "template", "state", "seconds", "outputs", "metrics", "notebook"]
        return pd.DataFrame(rows, columns=columns)

    def _summary(self) -> str:
        counts = f"{len(self.executed)} executed, {len(self.cached)} cached"
        parts = [f"pipeline {self.name}: {len(self.stages)} stages ({counts})"]
        parts.append(f" in {self.duration_s:.1f} s")
        if self.run_id:
            parts.append(f", MLflow run {self.run_id}")
        return "".join(parts) + f"; notebooks in {self.folder}"

    def __repr__(self) -> str:
        lines = [self._summary()]
        for s in self.stages:
            metrics = _metrics_text(s)
            lines.append(
                f"  {s.name:<16} {s.state:<8} {s.duration_s:7.1f} s  {s.html or s.notebook}"
                + (f"  [{metrics}]" if metrics else "")
            )
        for s in self.stages:
            for key, value in s.outputs.items():
                if key.endswith("_path") and value:
                    lines.append(f"  {s.name}.{key}: {value}")
        if self.tracking_uri and self.run_id:
            lines.append(f"  MLflow: {self.tracking_uri} (run {self.run_id})")
        return "\n".join(lines)


def _metrics_text(stage: StageResult) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in stage.metrics.items())
