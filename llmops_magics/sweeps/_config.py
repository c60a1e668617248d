"""The validated settings of a sweep, stored as JSON with its Optuna study.

Every worker reads them back from the study (:func:`config_of`), so a worker on another machine
runs the same objective on the same data with the same fixed fine-tune settings. The fields with
a flag (``trials``, ``metric``, ``direction``, ``sampler``, ``pruner``, ``seed``, ``eval_split``,
``heartbeat``) make the options of ``%llmops sweep``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from llmops_magics.config import Config, option
from llmops_magics.executor import check_executor, executor_option
from llmops_magics.sweeps._errors import SpaceError, SweepConfigError, SweepError
from llmops_magics.sweeps._space import parse_space

__all__ = [
    "ATTR",
    "DIRECTIONS",
    "FINETUNE",
    "FIXED_ONLY",
    "PRUNERS",
    "SAMPLERS",
    "SweepConfig",
    "config_of",
    "finetune_fields",
    "fixed_fields",
    "tunable_fields",
]

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
DIRECTIONS = ("minimize", "maximize")

#: the objective name of a fine-tuning sweep
FINETUNE = "finetune"
#: the study's user attr that holds the sweep's config
ATTR = "llmops.sweep"

#: settings of a fine-tune that name data or a model: fixed, never tuned
FIXED_ONLY = ("model", "text_col", "prompt_col", "response_col", "target_modules")
#: FineTuneConfig fields that %llmops sweep does not offer as fixed settings: the sweep's own
#: --seed is the sampler's, and the trials are supervised (SFT) fine-tunes
_NOT_FIXED_BY_FLAG = ("seed", "method", "chosen_col", "rejected_col", "beta")


def finetune_fields() -> list[str]:
    """Every field of ``FineTuneConfig`` (the fine-tune settings a sweep may fix or tune)."""
    from llmops_magics.finetune import FineTuneConfig

    return [f.name for f in dataclasses.fields(FineTuneConfig)]


def tunable_fields() -> list[str]:
    """The fine-tune settings a search space may name."""
    return [f for f in finetune_fields() if f not in FIXED_ONLY]


def fixed_fields() -> list[str]:
    """The fine-tune settings that ``%llmops sweep`` takes as flags (``--lora-alpha 32``...)."""
    return [f for f in finetune_fields() if f not in _NOT_FIXED_BY_FLAG]


@dataclass
class SweepConfig(Config):
    """Everything a worker needs to run trials of a sweep; validated on creation, JSON round trip.

    Examples
    --------
    >>> cfg = SweepConfig(space={"x": "uniform(0,1)"}, objective="mod:f", trials=4)
    >>> SweepConfig.from_json(cfg.to_json()) == cfg
    True
    """

    trials: int = option(
        10,
        help="trials (complete or pruned) the study should have in all",
        minimum=1,
        metavar="N",
    )
    metric: str | None = option(
        None, help="value to optimise (default eval_loss; for a function: value)", metavar="NAME"
    )
    direction: str = option("minimize", help="minimize or maximize the metric", choices=DIRECTIONS)
    sampler: str = option(
        "tpe", help="tpe, random or grid (grid: choices and integer ranges)", choices=SAMPLERS
    )
    pruner: str = option("median", help="median, hyperband or none", choices=PRUNERS)
    seed: int = option(0, help="seed of the sampler and of the evaluation split", minimum=0)
    eval_split: float = option(
        0.2,
        help="without --eval-data, hold out this fraction of --data",
        minimum=0.0,
        exclusive_minimum=True,
        maximum=0.99,
        metavar="F",
        hint="Or give evaluation data with --eval-data DF.",
    )
    heartbeat: int = option(
        10,
        help="seconds between a trial's heartbeats; a trial silent for 3x that is re-queued",
        minimum=1,
        metavar="S",
    )
    executor: str = executor_option("the trials")
    objective: str = option(
        FINETUNE,
        help="what a trial runs: finetune, an importable 'module:qualname', or 'local'",
        cli=False,
    )
    space: dict[str, Any] = option(
        default_factory=dict, help="the search space, in its dict form", cli=False
    )
    fixed: dict[str, Any] = option(
        default_factory=dict, help="fine-tune settings kept the same in every trial", cli=False
    )
    data: str | None = option(None, help="the training data, encoded with the study", cli=False)
    eval_data: str | None = option(
        None, help="the evaluation data, encoded with the study", cli=False
    )
    data_hash: str | None = option(None, help="content hash of the encoded data", cli=False)
    parent_run_id: str | None = option(None, help="the sweep's MLflow run", cli=False)
    tracking_uri: str | None = option(None, help="the MLflow store of that run", cli=False)

    error_class = SweepConfigError

    @classmethod
    def from_study(cls, study: Any) -> SweepConfig:
        """The config stored with an Optuna study made by a sweep (see :func:`config_of`)."""
        return config_of(study)

    @property
    def finetunes(self) -> bool:
        """Whether each trial is a LoRA fine-tune (else a Python function)."""
        return self.objective == FINETUNE

    def canonicalize(self) -> None:
        """The metric's default follows the objective; the space takes its dict form."""
        if self.metric is None:
            self.metric = "eval_loss" if self.finetunes else "value"
        if self.space or not isinstance(self.space, dict):
            known = tunable_fields() if self.finetunes else None
            # by name, as stored (JSON with sorted keys): every worker suggests the parameters
            # in one order, so a seeded sampler draws the same values in each
            self.space = dict(sorted(parse_space(self.space, known=known).to_dict().items()))

    def check(self) -> None:
        """Rules between fields: a grid for the grid sampler, and (for a fine-tuning sweep)
        fixed settings and space bounds that make valid fine-tunes."""
        check_executor(self)
        if self.space and self.sampler == "grid":
            parse_space(self.space).grid()  # a SpaceError for a parameter without a grid
        if self.finetunes and (self.space or self.fixed):
            self._check_finetune()

    def _check_finetune(self) -> None:
        from llmops_magics.finetune import FineTuneConfig

        known = finetune_fields()
        unknown = sorted(set(self.fixed) - set(known))
        if unknown:
            self.fail(
                "fixed",
                f"Unknown fine-tune setting {unknown[0]!r}.",
                hint=f"Fine-tune settings: {', '.join(known)}.",
            )
        clash = sorted(set(self.space) & set(self.fixed))
        if clash:  # the error names the fine-tune setting (its flag, in the magic)
            self.fail(
                clash[0],
                f"{clash[0]!r} is both in the search space and fixed.",
                hint="Tune it or fix it, not both.",
            )
        # The fixed settings alone first: an error then names the fixed field at fault.
        FineTuneConfig(**self.fixed)
        for p in parse_space(self.space).params:
            for value in p.samples():
                try:
                    FineTuneConfig(**{**self.fixed, p.name: value})
                except (ValueError, TypeError) as exc:
                    raise SpaceError(
                        f"{p.name}={value!r} (from {p.name}={p}) is not a valid fine-tune "
                        f"setting: {exc}",
                        param=p.name,
                        token=p.name,
                    ) from None


def config_of(study: Any) -> SweepConfig:
    """The :class:`SweepConfig` stored with an Optuna study made by a sweep.

    Raises
    ------
    SweepError
        The study was not made by ``%llmops sweep``.
    """
    text = study.user_attrs.get(ATTR)
    if text is None:
        raise SweepError(
            f"The study {study.study_name!r} exists in that storage but was not made by "
            "%llmops sweep.",
            hint="Give another --study name.",
        )
    data = json.loads(text)
    if "target" in data:  # a study stored before SweepConfig named the count "trials"
        data["trials"] = data.pop("target")
    return SweepConfig.from_dict(data)
