"""The only code that talks to MLflow: runs with lineage tags, batched metrics, traces,
assessments and the prompt registry of the workspace's store.

Stages never import mlflow. They ask for a :class:`Tracker` and use it::

    from llmops_magics import tracking

    t = tracking.tracker()
    with t.start_run("eval", name="eval smollm2", tags={tracking.MODEL: "smollm2"}) as run:
        run.log_params({"bootstrap": 1000})
        run.log_metrics({"bleu": 12.5})
    t.get_run(run.id, stage="eval")  # a clear error when missing or of another stage

Tag names are the constants below (``tracking.STAGE``, ``tracking.DATA_HASH``...): writers and
readers spell them once.
"""

from llmops_magics.tracking import _tags
from llmops_magics.tracking._registry import (
    AUDIT_EXPERIMENT,
    AUDIT_FOR,
    AUDIT_HEAD,
    AUTHOR,
    LOGGED_MODEL,
    SPEC,
    ModelRegistry,
    RegisteredSpec,
    model_registry,
    parse_model_uri,
    valid_name,
)
from llmops_magics.tracking._runs import (
    StageRun,
    Tracker,
    interrupted,
    owner_alive,
    owner_tags,
    tracker,
)
from llmops_magics.tracking._store import (
    RunNotFoundError,
    TrackingError,
    experiment_id,
    forget_store,
    mlflow_module,
    point_mlflow,
    runs,
)
from llmops_magics.tracking._tags import *  # noqa: F403  (the tag names: _tags.__all__)
from llmops_magics.tracking._traces import Prompts, Traces

__all__ = [
    "AUDIT_EXPERIMENT",
    "AUDIT_FOR",
    "AUDIT_HEAD",
    "AUTHOR",
    "LOGGED_MODEL",
    "SPEC",
    "ModelRegistry",
    "Prompts",
    "RegisteredSpec",
    "model_registry",
    "parse_model_uri",
    "valid_name",
    "RunNotFoundError",
    "StageRun",
    "Traces",
    "Tracker",
    "TrackingError",
    "experiment_id",
    "forget_store",
    "mlflow_module",
    "interrupted",
    "owner_alive",
    "owner_tags",
    "point_mlflow",
    "runs",
    "tracker",
    *_tags.__all__,
]
