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

    def _client(self) -> tuple[Any, Any]:
        from llmops_magics import workspace

        ws = workspace.current()
        workspace.experiment_id(workspace=ws)
        return workspace._mlflow().MlflowClient(ws.tracking_uri), ws

    def resolve(self, spec: str) -> ModelRef:
        run_id = spec.removeprefix("run:").strip()
        if not run_id:
            raise ModelNotFoundError(spec, "it names no run id (run:<id>).")
        client, ws = self._client()
        try:
            run = client.get_run(run_id)
        except Exception as exc:
            raise ModelNotFoundError(
                spec, f"there is no run {run_id!r} in the workspace {str(ws.root)!r}. {_HINT_LIST}"
            ) from exc
        status = run.info.status
        stage = run.data.tags.get("llmops.stage", "")
        if status in ("RUNNING", "SCHEDULED"):
            raise ModelNotFoundError(
                spec,
                f"the run {run_id!r} is still running; its adapter is logged when it ends. If "
                "its process died, resume it with %llmops finetune --resume " + run_id + ".",
            )
        if not client.list_artifacts(run_id, "adapter"):
            what = f"a {stage!r} run" if stage else "a run"
            raise ModelNotFoundError(
                spec,
                f"the run {run_id!r} ({what}, status {status}) logged no adapter. Only "
                f"fine-tuning runs give a model. {_HINT_LIST}",
            )
        path = self._adapter_dir(run_id, ws, client)
        meta = {"run_id": run_id, "status": run.data.tags.get("llmops.status", status.lower())}
        return adapter_ref(spec, path, kind="run", **meta)

    def _adapter_dir(self, run_id: str, ws: Any, client: Any) -> Path:
        import mlflow

        uri = client.get_run(run_id).info.artifact_uri
        if uri.startswith("file:"):
            # a local artifact store: use the stored folder itself, nothing is copied
            from urllib.parse import unquote, urlparse

            return Path(unquote(urlparse(uri).path)) / "adapter"
        dest = cache_root() / "runs" / run_id
        if not (dest / "adapter" / "adapter_config.json").is_file():
            dest.mkdir(parents=True, exist_ok=True)
            mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path="adapter",
                dst_path=str(dest),
                tracking_uri=ws.tracking_uri,
            )
        return dest / "adapter"

    def entries(self) -> list[dict[str, str]]:
        """Recent fine-tuning runs of the workspace (none if its store does not exist yet)."""
        from llmops_magics import workspace

        ws = workspace.current()
        if ws.is_local and not (ws.root / "mlflow.db").exists():
            return []
        try:
            frame = workspace.runs(
                limit=20, filter_string="tags.`llmops.stage` = 'finetune'", workspace=ws
            )
        except Exception:
            return []
        rows = []
        for _, r in frame.iterrows():
            rows.append(
                {
                    "name": f"run:{r['run_id']}",
                    "kind": "run",
                    "location": str(r.get("tags.llmops.checkpoint_dir") or ""),
                    "status": str(r.get("tags.llmops.status") or r["status"]).lower(),
                    "description": f"LoRA adapter on {r.get('tags.llmops.base_model') or '?'}",
                }
            )
        return rows
