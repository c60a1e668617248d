"""What every worker must have before a job's tasks are submitted: packages and models.

The probe runs on each worker through ``Client.run``. A worker that cannot even load this
module lacks llmops-magics itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from llmops_magics.executor._spec import WorkerLacksError

__all__ = ["check_workers", "lacks"]


def _module_of(package: str) -> str:
    return {"llmops-magics": "llmops_magics", "pyyaml": "yaml"}.get(package, package).replace(
        "-", "_"
    )


def lacks(requires: Sequence[str], models: Sequence[str]) -> list[str]:
    """What this process lacks of ``requires`` (distribution names) and ``models`` (specs)."""
    from llmops_magics._imports import install_command

    missing = []
    for package in requires:
        module = _module_of(package)
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"the package {package!r} ({exc}; run `{install_command(module)}`)")
    for spec in models:
        from llmops_magics import models as models_mod

        try:
            models_mod.resolve(spec)
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            missing.append(f"the model {spec!r} ({reason})")
    return missing


def _probe(requires: list[str], models: list[str]) -> list[str]:
    """On a worker: set its process up for our tasks, then what it lacks."""
    from llmops_magics.executor._executor import prepare_this_worker

    prepare_this_worker()
    return lacks(requires, models)


def check_workers(client: Any, requires: Sequence[str], models: Sequence[str]) -> None:
    """Raise :class:`WorkerLacksError` for the first worker that lacks a package or a model."""
    if not requires and not models:
        return
    found = client.run(_probe, list(requires), list(models), on_error="return")
    for worker, result in sorted(found.items()):
        if isinstance(result, BaseException):
            what = ["the package 'llmops-magics' (it cannot run our code: " + repr(result) + ")"]
            raise WorkerLacksError(worker, what, hint=_HINT)
        if result:
            raise WorkerLacksError(worker, list(result), hint=_HINT)


_HINT = (
    "Every worker needs the same packages and model files as this machine: install them there "
    "(pip install llmops-magics ...) and put models on a path every worker sees."
)
