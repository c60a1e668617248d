"""LoRA fine-tuning with the Hugging Face ``Trainer``, tracked in the workspace's MLflow store.

One call = one MLflow run. Its checkpoints live in ``<workspace>/checkpoints/<run_id>/`` (with
the config and the data, so ``resume(run_id)`` needs nothing else); the final adapter, the
tokenizer, the config and the loss history are logged as artifacts, and ``run:<id>`` loads the
adapter on its base model.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmops_magics.errors import DataError, ModelNotFoundError
from llmops_magics.finetune._config import FineTuneConfig
from llmops_magics.finetune._data import (
    Collator,
    check_frame,
    data_hash,
    tokenize_frame,
)
from llmops_magics.finetune._errors import FineTuneConfigError, FineTuneError
from llmops_magics.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FineTuneResult",
    "checkpoint_root",
    "cpu_has_bf16",
    "linear_layer_names",
    "resolve_precision",
    "resume",
    "train",
]

STAGE_TAG = "llmops.stage"
STATUS_TAG = "llmops.status"
HISTORY_COLUMNS = ["step", "train_loss", "eval_loss", "learning_rate", "tokens_per_s", "elapsed_s"]


# --- hardware ------------------------------------------------------------------------------


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), so autocast pays off."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


#: below this hidden size, CPU bf16 autocast costs more in casts than it saves in matmuls
BF16_MIN_HIDDEN = 256


def resolve_precision(precision: str, *, hidden_size: int | None = None) -> str:
    """The precision a run uses.

    ``auto`` gives bf16 on a CUDA GPU that supports it (else fp16), and on a CPU with native
    bf16 (AVX512-BF16 or AMX) for models with ``hidden_size`` of at least 256 — on toy models
    the casts cost more than the faster matmuls save; fp32 everywhere else.
    """
    import torch

    cuda = torch.cuda.is_available()
    if precision == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        big_enough = hidden_size is None or hidden_size >= BF16_MIN_HIDDEN
        return "bf16" if cpu_has_bf16() and big_enough else "fp32"
    if precision == "fp16" and not cuda:
        raise FineTuneConfigError(
            "precision",
            "precision='fp16' needs a CUDA GPU; this machine has none.",
            hint="Use precision='auto' (bf16 where the CPU supports it) or 'fp32'.",
        )
    return precision


# --- workspace paths -----------------------------------------------------------------------


def checkpoint_root(run_id: str) -> Path:
    """Where a run's checkpoints, config and data copy live in the workspace."""
    from llmops_magics import workspace

    return workspace.current().root / "checkpoints" / run_id


def _last_checkpoint(root: Path) -> Path | None:
    found = [
        p
        for p in root.glob("checkpoint-*")
        if p.is_dir() and p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").exists()
    ]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


# --- base model ----------------------------------------------------------------------------

_HASHES: dict[tuple[str, int, int], str] = {}


def base_model_hash(path: Path) -> str:
    """SHA-256 over the base model's config and weight files (cached per file state)."""
    import hashlib

    files = sorted(
        f
        for f in path.iterdir()
        if f.is_file() and (f.suffix in (".safetensors", ".bin") or f.name == "config.json")
    )
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        key = (str(f), stat.st_size, stat.st_mtime_ns)
        if key not in _HASHES:
            h = hashlib.sha256()
            with open(f, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 22), b""):
                    h.update(chunk)
            _HASHES[key] = h.hexdigest()
        digest.update(f"{f.name}:{_HASHES[key]}\n".encode())
    return digest.hexdigest()


def linear_layer_names(model: Any) -> list[str]:
    """The names (last path part) of the model's linear layers, the valid LoRA targets."""
    import torch

    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name
    }
    names.discard("lm_head")
    return sorted(names)


def _base_spec(config: FineTuneConfig) -> tuple[Any, str]:
    """Resolve the base model; the spec written into the adapter config (a name or abs path)."""
    from llmops_magics import models

    try:
        ref = models.resolve(config.model)
    except ModelNotFoundError:
        raise
    if ref.is_adapter:
        raise FineTuneError(
            f"The model {config.model!r} is a LoRA adapter; fine-tuning starts from a full model.",
            hint=f"Merge it first (%llmops merge {config.model} --out DIR) and train on DIR, or "
            f"train on its base {ref.base!r}.",
        )
    spec = config.model if ref.kind == "embedded" else str(ref.path)
    return ref, spec


def _load_model(config: FineTuneConfig, ref: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    tokenizer = AutoTokenizer.from_pretrained(ref.path, **kwargs)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.quantize == "4bit":
        model = _load_4bit(ref, kwargs)
    else:
        precision = resolve_precision(config.precision, hidden_size=_hidden_size(ref.path))
        model = AutoModelForCausalLM.from_pretrained(
            ref.path, **_model_kwargs(precision, config.max_length), **kwargs
        )
    return model, tokenizer


#: longest sequences for which CPU bf16 training uses eager attention (its score matrices
#: grow with the square of the length)
EAGER_MAX_LENGTH = 1024


def _model_kwargs(precision: str, max_length: int) -> dict[str, Any]:
    """How the base model is loaded for a run in ``precision``.

    Under bf16 the frozen base weights are stored in bf16: they are never updated, so they need
    no float32 master copy, and autocast does not re-cast them at every matrix product. The LoRA
    weights, their optimizer state and the saved adapter stay float32 (peft's
    ``autocast_adapter_dtype``). On a CPU, bf16 training also uses eager attention: PyTorch's
    fused CPU attention is slow to differentiate in bf16, and on SmolLM2 at 128-256 tokens a
    LoRA step with eager attention is about 1.2x faster (``benchmarks/finetune.md``). GPUs keep
    the default fused attention.
    """
    import torch

    if precision != "bf16":
        return {"dtype": torch.float32}
    out: dict[str, Any] = {"dtype": torch.bfloat16}
    if not torch.cuda.is_available() and max_length <= EAGER_MAX_LENGTH:
        out["attn_implementation"] = "eager"
    return out


def _load_4bit(ref: Any, kwargs: dict[str, Any]) -> Any:
    import importlib.util

    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
        missing = "a CUDA GPU" if not torch.cuda.is_available() else "the bitsandbytes package"
        raise FineTuneError(
            f"QLoRA (4-bit) needs a CUDA GPU and bitsandbytes; this machine lacks {missing}.",
            hint="Train plain LoRA instead (leave out --qlora / quantize='4bit'): on CPU it "
            "runs in bf16 where supported, else fp32"
            + ("" if torch.cuda.is_available() else ".")
            + (" Install it: pip install bitsandbytes." if torch.cuda.is_available() else ""),
        )
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    model = AutoModelForCausalLM.from_pretrained(ref.path, quantization_config=quant, **kwargs)
    return prepare_model_for_kbit_training(model)


def target_modules_for(model: Any, config: FineTuneConfig) -> list[str]:
    """The LoRA target layers: the config's (checked against the model) or the default."""
    linear = linear_layer_names(model)
    if config.target_modules is None:
        default: list[str] = [m for m in ("q_proj", "v_proj") if m in linear]
        return default or linear
    unknown = [m for m in config.target_modules if m not in linear]
    if unknown:
        raise FineTuneConfigError(
            "target_modules",
            f"Unknown target module(s) {', '.join(unknown)} for {config.model!r}.",
            hint=f"Its linear layers are: {', '.join(linear)}.",
        )
    return list(config.target_modules)


def _peft_model(model: Any, config: FineTuneConfig) -> Any:
    from peft import LoraConfig, get_peft_model
    from transformers import set_seed

    targets = target_modules_for(model, config)
    set_seed(config.seed)  # the LoRA A matrices are drawn from this seed
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


# --- result --------------------------------------------------------------------------------


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


# --- tracking callback ---------------------------------------------------------------------


class _Interrupt:
    """Turns the first SIGINT (the kernel's stop button) into a stop at the next step end, so
    the checkpoint is exactly the state of a completed step; a second SIGINT stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _Interrupt:
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


def _tracking_callback(
    client: Any, run_id: str, monitor: Any, interrupt: _Interrupt, history: list[dict[str, Any]]
) -> Any:
    from transformers import TrainerCallback

    class Tracking(TrainerCallback):
        """Collects the history, logs metrics to MLflow in batches, feeds the monitor."""

        def __init__(self) -> None:
            self.pending: list[Any] = []
            self.ops: list[Any] = []
            self.last_flush = time.perf_counter()
            self.started = time.perf_counter()
            self.start_step = 0
            self.last_tokens = 0
            self.last_time = self.started
            self.last_eval_step = -1

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started = self.last_time = time.perf_counter()
            self.start_step = state.global_step
            self.last_tokens = state.num_input_tokens_seen

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            # the stop button: end after this step (logged like any other), then checkpoint
            if interrupt.requested:
                control.should_training_stop = True

        def flush(self, wait: bool = False) -> None:
            # MLflow writes the batch on its own thread: a SQLite commit costs 10-100 ms,
            # which would otherwise show in the step time
            if self.pending:
                op = client.log_batch(run_id, metrics=self.pending, synchronous=False)
                self.ops.append(op)
                self.pending = []
            self.last_flush = time.perf_counter()
            if wait:
                for op in self.ops:
                    op.wait()
                self.ops = []

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            from mlflow.entities import Metric

            logs = logs or {}
            now = time.perf_counter()
            step = state.global_step
            row: dict[str, Any] = {"step": step}
            if "loss" in logs:
                row["train_loss"] = float(logs["loss"])
                row["learning_rate"] = float(logs.get("learning_rate", float("nan")))
                tokens = state.num_input_tokens_seen - self.last_tokens
                dt = now - self.last_time
                row["tokens_per_s"] = tokens / dt if dt > 0 else 0.0
                self.last_tokens, self.last_time = state.num_input_tokens_seen, now
            if "eval_loss" in logs:
                row["eval_loss"] = float(logs["eval_loss"])
                self.last_eval_step = step
            if len(row) == 1:
                return
            row["elapsed_s"] = now - self.started
            done = step - self.start_step
            row["eta_s"] = (
                (state.max_steps - step) * (now - self.started) / done if done > 0 else None
            )
            history.append(row)
            ms = int(time.time() * 1000)
            keys = ("train_loss", "eval_loss", "learning_rate", "tokens_per_s")
            extra = {k: logs[k] for k in ("grad_norm", "epoch") if k in logs}
            for key, value in [(k, row.get(k)) for k in keys] + list(extra.items()):
                if value is not None and math.isfinite(float(value)):
                    self.pending.append(Metric(key, float(value), ms, step))
            if "eval_loss" in row or now - self.last_flush > 10.0:
                self.flush()
            monitor.update(row)

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.flush()

    return Tracking()


# --- the run -------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """Everything a run needs before its MLflow run exists; ``make_trainer(args, callbacks)``
    builds the method's trainer (``Trainer`` for SFT, TRL's ``DPOTrainer`` for DPO)."""

    config: FineTuneConfig
    ref: Any
    base_spec: str
    tokenizer: Any
    train_frame: pd.DataFrame
    eval_frame: pd.DataFrame | None
    n_train: int
    has_eval: bool
    make_trainer: Callable[[Any, list[Any]], Any]
    args_class: Any = None
    args_extra: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: JSON artifacts logged with the run (e.g. which ratings a DPO run learned from)
    artifacts: dict[str, Any] = field(default_factory=dict)
    truncated: int = 0


def _prepare(config: FineTuneConfig, data: Any, eval_data: Any) -> _Prepared:
    if not isinstance(config, FineTuneConfig):
        raise FineTuneConfigError(
            "config", f"config must be a FineTuneConfig, got {type(config).__name__}."
        )
    config.validate()
    if config.method == "dpo":
        from llmops_magics.finetune._dpo import prepare_dpo

        return prepare_dpo(config, data, eval_data)
    train_frame = check_frame(data, config, name="data")
    eval_frame = None if eval_data is None else check_frame(eval_data, config, name="eval_data")
    ref, base_spec = _base_spec(config)
    model, tokenizer = _load_model(config, ref)
    train_rows = tokenize_frame(train_frame, tokenizer, config, name="data")
    eval_rows = (
        None
        if eval_frame is None
        else tokenize_frame(eval_frame, tokenizer, config, name="eval_data")
    )
    model = _peft_model(model, config)

    def make_trainer(args: Any, callbacks: list[Any]) -> Any:
        from transformers import Trainer

        return Trainer(
            model=model,
            args=args,
            train_dataset=train_rows,
            eval_dataset=eval_rows,
            data_collator=Collator(tokenizer.pad_token_id),
            callbacks=callbacks,
        )

    return _Prepared(
        config,
        ref,
        base_spec,
        tokenizer,
        train_frame,
        eval_frame,
        n_train=len(train_rows),
        has_eval=eval_rows is not None,
        make_trainer=make_trainer,
        params={
            "n_train_rows": str(len(train_rows)),
            "n_eval_rows": str(len(eval_rows) if eval_rows else 0),
            "train_tokens": str(train_rows.tokens),
            "truncated_rows": str(train_rows.truncated),
            "attn_implementation": str(getattr(model.config, "_attn_implementation", "")),
            "base_dtype": str(model.dtype).removeprefix("torch."),
        },
        truncated=train_rows.truncated,
    )


def _training_args(
    config: FineTuneConfig,
    out: Path,
    precision: str,
    has_eval: bool,
    cls: Any = None,
    **extra: Any,
) -> Any:
    import torch
    from transformers import TrainingArguments

    return (cls or TrainingArguments)(
        output_dir=str(out),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        lr_scheduler_type=config.scheduler,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=config.eval_steps if has_eval else None,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
        prediction_loss_only=True,
        **extra,
    )


def _mlflow_client() -> tuple[Any, str, Any]:
    from llmops_magics import workspace

    ws = workspace.current()
    exp_id = workspace.experiment_id(workspace=ws)
    mlflow = workspace._mlflow()
    return mlflow.MlflowClient(ws.tracking_uri), exp_id, ws


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def _save_frames(root: Path, train: pd.DataFrame, evals: pd.DataFrame | None) -> None:
    train.to_json(root / "train.jsonl", orient="records", lines=True, force_ascii=False)
    if evals is not None:
        evals.to_json(root / "eval.jsonl", orient="records", lines=True, force_ascii=False)


def _log_inputs(client: Any, run_id: str, prepared: _Prepared, hashes: dict[str, str]) -> None:
    """Link the data sets to the run as MLflow dataset inputs (lineage in the MLflow UI)."""
    import mlflow.data.pandas_dataset
    from mlflow.entities import DatasetInput, InputTag

    inputs = []
    for context, frame in (("training", prepared.train_frame), ("evaluation", prepared.eval_frame)):
        if frame is None:
            continue
        ds = mlflow.data.pandas_dataset.from_pandas(
            frame, name=f"finetune-{context}", digest=hashes[context][:16]
        )
        inputs.append(
            DatasetInput(ds._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)])
        )
    client.log_inputs(run_id, datasets=inputs)


def _save_adapter(trainer: Any, dest: Path, base_spec: str) -> Path:
    """Write the adapter (safetensors + PEFT config naming the base SPEC) to ``dest``."""
    import shutil

    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    trainer.model.save_pretrained(str(tmp), safe_serialization=True)
    cfg_file = tmp / "adapter_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["base_model_name_or_path"] = base_spec
    cfg_file.write_text(json.dumps(cfg, indent=2, sort_keys=True))
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def _history_frame(history: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(history, columns=[*HISTORY_COLUMNS])
    if frame.empty:
        return frame
    # one row per step: a training log and an eval log of the same step merge
    frame = frame.groupby("step", as_index=False, sort=True).first()
    return frame[HISTORY_COLUMNS].reset_index(drop=True)


def train(
    config: FineTuneConfig,
    data: Any,
    eval_data: Any = None,
    *,
    callbacks: Sequence[Any] | None = None,
    parent_run_id: str | None = None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    progress: bool | str | None = None,
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
    prepared = _prepare(config, data, eval_data)
    return _execute(
        prepared,
        callbacks=callbacks,
        parent_run_id=parent_run_id,
        run_name=run_name,
        tags=tags,
        progress=progress,
        resume_run=None,
    )


def resume(
    run: str,
    *,
    data: Any = None,
    eval_data: Any = None,
    callbacks: Sequence[Any] | None = None,
    progress: bool | str | None = None,
) -> FineTuneResult:
    """Continue an interrupted or stopped run from its last checkpoint.

    The optimizer, scheduler and random states come back from the checkpoint, so the run ends
    with the weights an uninterrupted run with the same seed would have. The config and data
    are those the run saved; ``data``/``eval_data``, when given, must be the same content.

    Parameters
    ----------
    run
        The run id (or ``run:<id>``).
    """
    run_id = run.removeprefix("run:").strip()
    client, _, _ = _mlflow_client()
    root = checkpoint_root(run_id)
    try:
        info = client.get_run(run_id)
    except Exception as exc:
        raise FineTuneError(
            f"There is no run {run_id!r} in this workspace.",
            hint="List runs with %llmops runs --filter \"tags.`llmops.stage` = 'finetune'\".",
        ) from exc
    if info.data.tags.get(STAGE_TAG) != "finetune" or not (root / "finetune_config.json").exists():
        raise FineTuneError(
            f"The run {run_id!r} is not a fine-tuning run with checkpoints in this workspace.",
            hint=f"Checkpoints are kept under {root.parent}.",
        )
    if info.info.status == "RUNNING":
        raise FineTuneError(
            f"The run {run_id!r} is still running.",
            hint="Wait for it to end (or interrupt it) before resuming.",
        )
    if info.data.tags.get(STATUS_TAG) == "finished":
        raise FineTuneError(
            f"The run {run_id!r} already finished; there is nothing to resume.",
            hint="Start a new run with more steps instead.",
        )
    checkpoint = _last_checkpoint(root)
    if checkpoint is None:
        raise FineTuneError(
            f"The run {run_id!r} has no checkpoint to resume from.",
            hint="Start it again with the same config.",
        )
    import pandas as pd

    config = FineTuneConfig.from_json((root / "finetune_config.json").read_text())
    saved_train = pd.read_json(root / "train.jsonl", lines=True, dtype=False)
    saved_eval = (
        pd.read_json(root / "eval.jsonl", lines=True, dtype=False)
        if (root / "eval.jsonl").exists()
        else None
    )
    for given, saved, name in ((data, saved_train, "data"), (eval_data, saved_eval, "eval_data")):
        if given is None:
            continue
        frame = check_frame(given, config, name=name)
        if saved is None or data_hash(frame) != data_hash(saved):
            raise DataError(
                f"{name} differs from the data the run {run_id!r} was trained on.",
                hint="Resume without --data (the run kept a copy), or start a new run.",
            )
    prepared = _prepare(config, saved_train, saved_eval)
    return _execute(
        prepared,
        callbacks=callbacks,
        parent_run_id=None,
        run_name=None,
        tags=None,
        progress=progress,
        resume_run=(run_id, checkpoint),
    )


def _execute(
    prepared: _Prepared,
    *,
    callbacks: Sequence[Any] | None,
    parent_run_id: str | None,
    run_name: str | None,
    tags: dict[str, str] | None,
    progress: bool | str | None,
    resume_run: tuple[str, Path] | None,
) -> FineTuneResult:
    from llmops_magics.widgets.training import monitor_for

    config = prepared.config
    precision = resolve_precision(config.precision, hidden_size=_hidden_size(prepared.ref.path))
    client, exp_id, ws = _mlflow_client()
    hashes = {"training": data_hash(prepared.train_frame)}
    if prepared.eval_frame is not None:
        hashes["evaluation"] = data_hash(prepared.eval_frame)

    if resume_run is None:
        run_tags = {
            STAGE_TAG: "finetune",
            STATUS_TAG: "running",
            "llmops.method": config.method,
            "llmops.base_model": prepared.base_spec,
            "llmops.base_model_hash": base_model_hash(prepared.ref.path),
            "llmops.data_hash": hashes["training"],
            "llmops.seed": str(config.seed),
            **({"llmops.eval_data_hash": hashes["evaluation"]} if "evaluation" in hashes else {}),
            **({"llmops.prompt_version": config.prompt_version} if config.prompt_version else {}),
            **({"mlflow.parentRunId": parent_run_id} if parent_run_id else {}),
            **prepared.tags,
            **(tags or {}),
        }
        name = run_name or f"finetune {config.model}"
        run = client.create_run(exp_id, tags=run_tags, run_name=name)
        run_id = run.info.run_id
        root = checkpoint_root(run_id)
        root.mkdir(parents=True, exist_ok=True)
        (root / "finetune_config.json").write_text(config.to_json())
        _save_frames(root, prepared.train_frame, prepared.eval_frame)
        for name, content in prepared.artifacts.items():
            client.log_dict(run_id, content, name)
        # lineage tags carry the hashes; the dataset view in the MLflow UI is a bonus
        with contextlib.suppress(Exception):
            _log_inputs(client, run_id, prepared, hashes)
        checkpoint: Path | None = None
    else:
        run_id, checkpoint = resume_run
        root = checkpoint_root(run_id)
        client.update_run(run_id, status="RUNNING")
        client.set_tag(run_id, STATUS_TAG, "running")
        client.set_tag(run_id, "llmops.resumed_from_step", checkpoint.name.split("-")[-1])

    history: list[dict[str, Any]] = []
    monitor = monitor_for(progress)
    interrupt = _Interrupt()
    tracking = _tracking_callback(client, run_id, monitor, interrupt, history)
    args = _training_args(
        config, root, precision, prepared.has_eval, prepared.args_class, **prepared.args_extra
    )
    trainer = prepared.make_trainer(args, [tracking, *(callbacks or [])])
    if resume_run is None:
        n_trainable, n_total = trainer.model.get_nb_trainable_parameters()
        params = (
            config.params()
            | prepared.params
            | {
                "base_model_path": str(prepared.ref.path),
                "precision_used": precision,
                "trainable_params": str(n_trainable),
                "total_params": str(n_total),
                "target_modules_used": ",".join(
                    sorted(trainer.model.peft_config["default"].target_modules)
                ),
            }
        )
        from mlflow.entities import Param

        client.log_batch(run_id, params=[Param(k, v[:6000]) for k, v in params.items()])
    # our tracking callback and monitor replace the Trainer's printed dicts and tqdm bar
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    total_steps = _planned_steps(config, prepared.n_train)
    monitor.start(total_steps, f"{config.method} {config.model} · run {run_id[:8]}")
    status = "finished"
    started = time.perf_counter()
    try:
        with interrupt:
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        if interrupt.requested:
            raise KeyboardInterrupt
        if trainer.state.global_step < trainer.state.max_steps:
            status = "stopped"
        if (
            prepared.has_eval
            and status == "finished"
            and tracking.last_eval_step != trainer.state.global_step
        ):
            trainer.evaluate()
    except KeyboardInterrupt:
        status = "interrupted"
        trainer._save_checkpoint(trainer.model, trial=None)
    except BaseException as exc:
        tracking.flush(wait=True)
        client.set_tag(run_id, STATUS_TAG, "failed")
        client.set_terminated(run_id, status="FAILED")
        monitor.finish("failed", str(exc)[:200])
        if isinstance(exc, RuntimeError) and not isinstance(exc, FineTuneError):
            raise FineTuneError(
                f"Training failed at step {trainer.state.global_step}: {exc}",
                hint="Try a smaller --batch-size or --max-length.",
            ) from exc
        raise
    train_s = time.perf_counter() - started
    tracking.flush(wait=True)
    return _finish(
        prepared, trainer, client, ws, run_id, root, history, status, precision, train_s, monitor
    )


def _hidden_size(path: Path) -> int | None:
    try:
        value = json.loads((Path(path) / "config.json").read_text()).get("hidden_size")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int) else None


def _planned_steps(config: FineTuneConfig, n_rows: int) -> int:
    if config.max_steps is not None:
        return config.max_steps
    per_epoch = math.ceil(math.ceil(n_rows / config.batch_size) / config.grad_accum)
    return max(1, math.ceil(per_epoch * config.epochs))


def _finish(
    prepared: _Prepared,
    trainer: Any,
    client: Any,
    ws: Any,
    run_id: str,
    root: Path,
    history: list[dict[str, Any]],
    status: str,
    precision: str,
    train_s: float,
    monitor: Any,
) -> FineTuneResult:
    config = prepared.config
    adapter = _save_adapter(trainer, root / "adapter", prepared.base_spec)
    client.log_artifacts(run_id, str(adapter), "adapter")
    tok_dir = root / "tokenizer"
    prepared.tokenizer.save_pretrained(str(tok_dir))
    client.log_artifacts(run_id, str(tok_dir), "tokenizer")
    client.log_text(run_id, config.to_json(), "finetune_config.json")
    # the whole history so far (a resumed run includes the steps before the interrupt)
    frame = _full_history(client, run_id, history)
    client.log_text(run_id, frame.to_csv(index=False), "history.csv")
    state = trainer.state
    train_loss = _last(frame, "train_loss")
    eval_loss = _last(frame, "eval_loss")
    tokens = state.num_input_tokens_seen
    logged_speed = [r["tokens_per_s"] for r in history if r.get("tokens_per_s")]
    speed = sum(logged_speed) / len(logged_speed) if logged_speed else 0.0
    summary = {"final_step": float(state.global_step), "train_s": train_s, "tokens_seen": tokens}
    if train_loss is not None:
        summary["final_train_loss"] = train_loss
    if eval_loss is not None:
        summary["final_eval_loss"] = eval_loss
    from mlflow.entities import Metric

    ms = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), ms, state.global_step) for k, v in summary.items()],
    )
    client.set_tag(run_id, STATUS_TAG, status)
    client.set_tag(run_id, "llmops.checkpoint_dir", str(root))
    client.set_terminated(run_id, status="KILLED" if status == "interrupted" else "FINISHED")
    result = FineTuneResult(
        run_id=run_id,
        spec=f"run:{run_id}",
        status=status,
        global_step=state.global_step,
        max_steps=state.max_steps,
        train_loss=train_loss,
        eval_loss=eval_loss,
        history=frame,
        adapter_dir=str(adapter),
        checkpoint_dir=str(root),
        base_model=prepared.base_spec,
        method=config.method,
        precision=precision,
        train_s=train_s,
        tokens_per_s=speed,
        config=config.to_dict(),
        tracking_uri=ws.tracking_uri,
        truncated_rows=prepared.truncated,
    )
    message = f"step {state.global_step}/{state.max_steps} · model spec {result.spec}"
    if status == "interrupted":
        message += f" · resume with %llmops finetune --resume {run_id}"
    monitor.finish(status, message)
    return result


def _full_history(client: Any, run_id: str, history: list[dict[str, Any]]) -> pd.DataFrame:
    """This session's history, preceded by the rows an earlier (interrupted) session logged."""
    import pandas as pd

    frame = _history_frame(history)
    first = int(frame["step"].min()) if len(frame) else 10**12
    earlier: dict[int, dict[str, Any]] = {}
    for key in ("train_loss", "eval_loss", "learning_rate", "tokens_per_s"):
        for m in client.get_metric_history(run_id, key):
            if m.step < first:
                earlier.setdefault(m.step, {"step": m.step})[key] = m.value
    if not earlier:
        return frame
    before = pd.DataFrame([earlier[k] for k in sorted(earlier)])
    before = before.reindex(columns=HISTORY_COLUMNS)
    return pd.concat([before, frame], ignore_index=True) if len(frame) else before


def _last(frame: pd.DataFrame, column: str) -> float | None:
    if column not in frame or frame[column].dropna().empty:
        return None
    return float(frame[column].dropna().iloc[-1])
