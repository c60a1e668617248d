"""``run:<id>``: the LoRA adapter that a fine-tuning run logged, loaded on its base model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmops_magics.errors import ModelNotFoundError
from llmops_magics.models._sources import ModelRef, ModelSource, adapter_ref, cache_root

__all__ = ["RunSource"]

_HINT_LIST = (
    "List fine-tuning runs with %llmops runs --filter \"tags.`llmops.stage` = 'finetune'\"."
)


class RunSource(ModelSource):
    """Adapters logged by fine-tuning runs in the workspace's MLflow store (artifact
    ``adapter/``); a local store is read in place, a server's artifacts are downloaded once."""

    syntax = "run:<id>"

    def handles(self, spec: str) -> bool:
        return spec.startswith("run:")

    def resolve(self, spec: str) -> ModelRef:
        from llmops_magics import tracking

        run_id = spec.removeprefix("run:").strip()
        if not run_id:
            raise ModelNotFoundError(spec, "it names no run id (run:<id>).")
        tracker = tracking.tracker()
        try:
            run = tracker.get_run(run_id)
        except tracking.RunNotFoundError as exc:
            raise ModelNotFoundError(
                spec,
                f"there is no run {run_id!r} in the workspace {str(tracker.workspace.root)!r}. "
                f"{_HINT_LIST}",
            ) from exc
        status = run.info.status
        stage = run.data.tags.get(tracking.STAGE, "")
        if tracking.interrupted(run):  # RUNNING in the store, but its process died
            raise ModelNotFoundError(
                spec,
                f"the run {run_id!r} was interrupted (its process died) before it logged an "
                f"adapter. Resume it with %llmops finetune --resume {run_id}.",
            )
        if status in ("RUNNING", "SCHEDULED"):
            raise ModelNotFoundError(
                spec,
                f"the run {run_id!r} is still running; its adapter is logged when it ends.",
            )
        if not tracker.list_artifacts(run_id, "adapter"):
            what = f"a {stage!r} run" if stage else "a run"
            raise ModelNotFoundError(
                spec,
                f"the run {run_id!r} ({what}, status {status}) logged no adapter. Only "
                f"fine-tuning runs give a model. {_HINT_LIST}",
            )
        path = self._adapter_dir(run_id, tracker)
        meta = {"run_id": run_id, "status": run.data.tags.get(tracking.STATUS, status.lower())}
        return adapter_ref(spec, path, kind="run", **meta)

    def _adapter_dir(self, run_id: str, tracker: Any) -> Path:
        local = tracker.artifact_dir(run_id)
        if local is not None:
            return Path(local) / "adapter"  # a local artifact store: the stored folder itself
        dest = cache_root() / "runs" / run_id
        if not (dest / "adapter" / "adapter_config.json").is_file():
            dest.mkdir(parents=True, exist_ok=True)
            tracker.download(run_id, "adapter", dest)
        return dest / "adapter"

    def entries(self) -> list[dict[str, str]]:
        """Recent fine-tuning runs of the workspace (none if its store does not exist yet)."""
        from llmops_magics import tracking, workspace

        ws = workspace.current()
        if ws.is_local and not (ws.root / "mlflow.db").exists():
            return []
        try:
            found = tracking.tracker(ws).find_runs(stage="finetune", limit=20)
        except Exception:  # an unreachable store is a status here, not a failure
            return []
        rows = []
        for run in found:
            tags = run.data.tags
            rows.append(
                {
                    "name": f"run:{run.info.run_id}",
                    "kind": "run",
                    "location": tags.get(tracking.CHECKPOINT_DIR, ""),
                    "status": (tags.get(tracking.STATUS) or run.info.status).lower(),
                    "description": f"LoRA adapter on {tags.get(tracking.BASE_MODEL) or '?'}",
                }
            )
        return rows
