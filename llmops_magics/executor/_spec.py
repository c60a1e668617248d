"""Where batch-shaped work runs: ``local``, ``dask-local[:N]`` or a Dask scheduler address.

This module is light (the configs import it to declare their ``--executor`` flag); Dask is
imported only when an executor is opened.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from llmops_magics.config import option
from llmops_magics.errors import LlmopsError

__all__ = [
    "ExecutorError",
    "ExecutorSpec",
    "WorkerLacksError",
    "check_executor",
    "executor_option",
    "parse_spec",
]

#: how the flag reads in usage lines and errors
METAVAR = "local|dask-local[:N]|tcp://HOST:PORT"
#: the most worker processes ``dask-local:N`` starts on one machine (each loads its own model)
MAX_LOCAL_WORKERS = 64
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://[^\s/:]+(:\d{1,5})?/?$")


class ExecutorError(LlmopsError):
    """An executor that cannot be used: a bad spec, an unreachable scheduler, a lost task."""


class WorkerLacksError(ExecutorError):
    """A worker lacks a package or a model the tasks need (``.worker`` and ``.lacks`` say
    which)."""

    def __init__(self, worker: str, lacks: list[str], *, hint: str | None = None) -> None:
        self.worker = worker
        self.lacks = list(lacks)
        super().__init__(f"The Dask worker {worker} lacks {'; '.join(lacks)}.", hint=hint)


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed ``--executor`` value.

    ``kind`` is ``"local"`` (this process, one task after another), ``"dask-local"`` (a
    ``LocalCluster`` of ``workers`` process workers, started for the job) or ``"dask"`` (the
    running scheduler at ``address``).
    """

    text: str
    kind: str
    workers: int = 1
    address: str = ""

    @property
    def distributed(self) -> bool:
        """True for the Dask kinds."""
        return self.kind != "local"


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def parse_spec(text: Any) -> ExecutorSpec:
    """Read an ``--executor`` value.

    >>> parse_spec("dask-local:2")
    ExecutorSpec(text='dask-local:2', kind='dask-local', workers=2, address='')

    Raises
    ------
    ExecutorError
        The value is none of ``local``, ``dask-local``, ``dask-local:N`` (N ≥ 1) or a scheduler
        address such as ``tcp://10.0.0.5:8786``.
    """
    if isinstance(text, ExecutorSpec):
        return text
    value = str(text).strip() if text is not None else "local"
    hint = (
        f"Give {METAVAR}: local (this process), dask-local:2 (a local Dask cluster of 2 "
        "worker processes) or the address of a running `dask scheduler`."
    )
    if value in ("", "local"):
        return ExecutorSpec("local", "local")
    if value == "dask-local":
        return ExecutorSpec(value, "dask-local", _default_workers())
    if value.startswith("dask-local:"):
        count = value.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ExecutorError(f"executor {value!r}: N must be a whole number ≥ 1.", hint=hint)
        if int(count) > MAX_LOCAL_WORKERS:
            raise ExecutorError(
                f"executor {value!r}: {int(count):,} local worker processes is more than "
                f"{MAX_LOCAL_WORKERS} (this machine has {_default_workers()} cores).",
                hint="Give dask-local:N with N up to the cores you want to use, or start a "
                "Dask scheduler with workers on several machines and give its tcp:// address.",
            )
        return ExecutorSpec(value, "dask-local", int(count))
    if _ADDRESS.match(value):
        return ExecutorSpec(value, "dask", 0, value.rstrip("/"))
    raise ExecutorError(f"executor {value!r} is not known.", hint=hint)


def executor_option(what: str) -> Any:
    """The ``executor`` field of a stage config (one declaration for every stage): ``what``
    says what runs on it, e.g. ``"the grid's variants"``."""
    return option(
        "local",
        metavar="SPEC",
        help=f"where {what} run: local, dask-local[:N] (N local worker processes) or a Dask "
        "scheduler address tcp://HOST:PORT",
    )


def check_executor(config: Any, name: str = "executor") -> None:
    """In a config's ``check()``: fail on field ``name`` unless it is a valid executor."""
    try:
        parse_spec(getattr(config, name))
    except ExecutorError as exc:
        config.fail(name, exc.message, hint=exc.hint)
