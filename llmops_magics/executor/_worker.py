"""What a Dask worker process sets up once, before its first task of ours.

- **One thread per task slot.** Two workers of one thread on two cores must not each run torch
  (or NumPy's BLAS) with a thread per core: they would oversubscribe the cores. Dask's nanny
  sets ``OMP_NUM_THREADS=1`` and friends before it starts a worker (``distributed.nanny.
  pre-spawn-environ``); a worker started without a nanny gets them here, sized to its threads.
  The Jupyter kernels papermill starts on the worker inherit the same environment.
- **No 2-3 s grammar build at import.** ``jsonschema`` (imported by ``nbformat``, so by
  papermill and nbconvert) imports ``rfc3987_syntax`` where it is installed, which builds a Lark
  parser at import time: about 2 s of CPU in every worker's first pipeline variant, for an
  ``iri`` format check nbformat never makes. It is imported on its first use instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import types
from typing import Any

__all__ = ["THREAD_ENV", "defer_module", "prepare_worker"]

#: the variables that size the thread pools of OpenMP, MKL, OpenBLAS and NumExpr
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")

_DONE: list[bool] = []
_LOCK = threading.Lock()


def prepare_worker(nthreads: int) -> None:
    """Set up this worker process once (thread pools sized to ``nthreads``, slow imports
    deferred); later calls do nothing."""
    with _LOCK:
        if _DONE:
            return
        _DONE.append(True)
    for name in THREAD_ENV:
        os.environ.setdefault(name, str(max(1, nthreads)))
    torch = sys.modules.get("torch")
    if torch is not None:  # imported before the variables were set
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    defer_module("rfc3987_syntax", "is_valid_syntax")


class _Deferred(types.ModuleType):
    """Stands for a module until one of its names is used; then the real module replaces it."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_load_real(self.__name__, self), name)


def _load_real(name: str, stand_in: types.ModuleType) -> types.ModuleType:
    with _LOCK:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return importlib.import_module(name)


def defer_module(name: str, *functions: str) -> bool:
    """Make ``import name`` (and ``from name import f`` for each of ``functions``) cheap: the
    module is imported when a name of it is first used. False when it is imported already or
    not installed."""
    if name in sys.modules or importlib.util.find_spec(name) is None:
        return False
    stand_in = _Deferred(name, f"{name}, imported on its first use")

    def forward(function: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(_load_real(name, stand_in), function)(*args, **kwargs)

        call.__name__ = call.__qualname__ = function
        return call

    for function in functions:
        setattr(stand_in, function, forward(function))
    sys.modules[name] = stand_in
    return True
