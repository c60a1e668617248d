"""The names of the tags that llmops-magics writes on runs, traces and assessments.

They are MLflow's only lineage links between stages: spell them through these constants so a
reader (the lineage graph, ``%llmops runs --filter``) and a writer can never disagree.
"""

from __future__ import annotations

__all__ = [
    "ALIAS",
    "BASE_MODEL",
    "BASE_MODEL_HASH",
    "CHECKPOINT_DIR",
    "DATA_CONTENT_HASH",
    "DATA_HASH",
    "DATA_SOURCE_HASH",
    "ERROR",
    "EVAL_DATA_CONTENT_HASH",
    "EVAL_DATA_HASH",
    "EVAL_DATA_SOURCE_HASH",
    "INPUT_HASH",
    "KIND",
    "METHOD",
    "MODEL",
    "MODEL_KIND",
    "MODEL_VERSION",
    "OWNER_HOST",
    "OWNER_PID",
    "OWNER_START",
    "PARENT_RUN",
    "PIPELINE",
    "PIPELINE_FAILED_STAGE",
    "PIPELINE_RUN",
    "PIPELINE_STAGE",
    "PIPELINE_STATUS",
    "PREFIX",
    "PROMPT",
    "PROMPT_VERSION",
    "REPRODUCES",
    "RUN_ID",
    "RUN_NAME",
    "SEED",
    "SERVED",
    "SPLIT_HASH",
    "STAGE",
    "STATUS",
    "STUDY",
    "WORKER",
    "WORKER_HOST",
    "filter_stage",
]

PREFIX = "llmops."

#: the stage that made a run: data, eda, prep, generate, prompt, chain, finetune, sweep, trial,
#: eval, feedback, pipeline...
STAGE = "llmops.stage"
#: the stage's own view of how a run ended (running, finished, stopped, interrupted, failed)
STATUS = "llmops.status"
#: the model spec a run or trace used
MODEL = "llmops.model"
#: the kind of that spec (embedded, local, run, adapter...)
MODEL_KIND = "llmops.model_kind"
#: the version a served request ran on (the weights' content hash, 12 digits) and the registry
#: alias it was served under, if any
MODEL_VERSION = "llmops.model_version"
ALIAS = "llmops.alias"
#: "true" on the trace of a request that ``llmops serve`` answered (notebook traces lack it)
SERVED = "llmops.served"
#: the content hash of a run's input data (see ``data.content_hash``)
DATA_HASH = "llmops.data_hash"
#: the content hash of a run's evaluation data
EVAL_DATA_HASH = "llmops.eval_data_hash"
#: the content hash of the data before a preparation recipe
INPUT_HASH = "llmops.input_hash"
#: a prep run's split hashes: ``SPLIT_HASH + ".train"`` (``.validation``, ``.test``), each split
#: kept in the workspace by that hash (``data.keep``)
SPLIT_HASH = "llmops.split_hash"
#: the ``data.content_hash`` of the frames a fine-tune read (its ``DATA_HASH`` hashes the rows in
#: its own scheme), kept in the workspace by that hash so the run can be redone
DATA_CONTENT_HASH = "llmops.data_content_hash"
EVAL_DATA_CONTENT_HASH = "llmops.eval_data_content_hash"
#: the ``data.content_hash`` of the frames a fine-tune was given, before it chose the columns it
#: reads (a prepared split with its ``source_row``): lineage links them to the rows it read
DATA_SOURCE_HASH = "llmops.data_source_hash"
EVAL_DATA_SOURCE_HASH = "llmops.eval_data_source_hash"
#: the run that a reproduction run redid (``%llmops reproduce``)
REPRODUCES = "llmops.reproduces"
#: the spec and the weight hash of a fine-tune's base model
BASE_MODEL = "llmops.base_model"
BASE_MODEL_HASH = "llmops.base_model_hash"
#: the name of the prompt a run or a trace used (prompt runs, their traces, rated items)
PROMPT = "llmops.prompt"
#: the prompt version (``NAME/V``) the data or the outputs came from
PROMPT_VERSION = "llmops.prompt_version"
#: the random seed of a run
SEED = "llmops.seed"
#: sft or dpo
METHOD = "llmops.method"
#: where a fine-tune keeps its checkpoints
CHECKPOINT_DIR = "llmops.checkpoint_dir"
#: a short error text of a failed run
ERROR = "llmops.error"
#: the Optuna study a sweep or trial belongs to
STUDY = "llmops.study"
#: a trace's run id (traces tag the run that made them)
RUN_ID = "llmops.run_id"
#: what kind of item a trace or run holds (feedback items, chains...)
KIND = "llmops.kind"
#: the pipeline a run belongs to, its pipeline run and its stage name there
PIPELINE = "llmops.pipeline"
PIPELINE_RUN = "llmops.pipeline.run_id"
PIPELINE_STAGE = "llmops.pipeline.stage"
#: how a pipeline run ended (FINISHED, FAILED) and the stage that failed, on the pipeline run
PIPELINE_STATUS = "llmops.pipeline.status"
PIPELINE_FAILED_STAGE = "llmops.pipeline.failed_stage"
#: the process that owns a running run: host name, process id and the process's start time
#: (a pid can be reused; with its start time it cannot)
OWNER_HOST = "llmops.owner.host"
OWNER_PID = "llmops.owner.pid"
OWNER_START = "llmops.owner.start"
#: where a task of a scaled-out job ran: the worker's host name and its Dask address ("local"
#: when it ran in the calling process)
WORKER_HOST = "llmops.worker.host"
WORKER = "llmops.worker"

#: MLflow's own tags
PARENT_RUN = "mlflow.parentRunId"
RUN_NAME = "mlflow.runName"


def filter_stage(stage: str) -> str:
    """An MLflow search filter that selects the runs of ``stage``."""
    return f"tags.`{STAGE}` = '{stage}'"
