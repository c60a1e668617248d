"""Optuna storages and studies: where a sweep lives, how it is resumed, how lost trials return.

The default storage is an SQLite file in the workspace (``optuna.db``); a team shares one study
through a PostgreSQL URL. Every storage is an ``RDBStorage`` with a heartbeat: a trial whose
process died (a killed kernel, a lost machine) stops beating, is marked failed after the grace
period and re-queued once with the same parameters, so it is neither lost nor counted twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmops_magics.sweeps._errors import StorageError

__all__ = [
    "Heartbeat",
    "default_storage_url",
    "display_url",
    "open_storage",
    "queue_lock",
    "quiet",
    "retry_callback",
]


@dataclass(frozen=True)
class Heartbeat:
    """How often a running trial says it is alive, and how long silence means it died.

    A trial silent for ``grace`` seconds is failed and re-queued (at most ``max_retry`` times).
    """

    interval: int = 10
    grace: int = 30
    max_retry: int = 3

    def __post_init__(self) -> None:
        if self.interval < 1 or self.grace < self.interval:
            raise ValueError("heartbeat: interval >= 1 s and grace >= interval are needed")


def default_storage_url() -> str:
    """The workspace's own Optuna database: ``sqlite:///<workspace>/optuna.db``."""
    from llmops_magics import workspace

    ws = workspace.current().ensure()
    return f"sqlite:///{ws.root / 'optuna.db'}"


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages and tables."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hide Optuna's "experimental" and deprecation warnings (heartbeats, retry callbacks)."""
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only it is here."""
    import importlib.util

    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return url
    if (
        parsed.drivername == "postgresql"
        and importlib.util.find_spec("psycopg") is None
        and importlib.util.find_spec("psycopg2") is not None
    ):
        return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


def _check_reachable(url: str) -> dict[str, Any]:
    """Raise StorageError unless ``url`` can be used; create nothing. Returns engine kwargs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    shown = display_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(
            f"{url!r} is not a storage URL.",
            url=url,
            hint="Give e.g. sqlite:///path/to/optuna.db or "
            "postgresql://user:password@host:5432/dbname.",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise StorageError(
                f"The storage {shown!r} is in memory: other processes cannot see it and it is "
                "gone when this one ends.",
                url=url,
                hint="Give a file: sqlite:///path/to/optuna.db (or leave --storage out).",
            )
        folder = Path(database).expanduser().parent
        if not folder.is_dir():
            raise StorageError(
                f"Cannot use the storage {shown!r}: the folder {str(folder)!r} does not exist.",
                url=url,
                hint="Create the folder first, or leave --storage out to use the workspace's.",
            )
        # Several threads (--n-jobs) and processes write one file: wait instead of failing.
        return {"connect_args": {"timeout": 60}}
    if backend not in ("postgresql", "mysql"):
        raise StorageError(
            f"Unsupported storage {shown!r} (backend {backend!r}).",
            url=url,
            hint="Use sqlite:///FILE or postgresql://user:password@host:port/dbname.",
        )
    import sqlalchemy

    connect_args: dict[str, Any] = {"connect_timeout": 5}
    try:
        engine = sqlalchemy.create_engine(url, connect_args=connect_args)
    except ImportError as exc:
        from llmops_magics.errors import MissingDependencyError

        driver = "psycopg2-binary" if backend == "postgresql" else "PyMySQL"
        raise MissingDependencyError(
            driver, f"pip install {driver}", purpose=f"{backend} storage"
        ) from exc
    try:
        with engine.connect():
            pass
    except Exception as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
        raise StorageError(
            f"Cannot reach the storage {shown!r}: {reason[0] if reason else type(exc).__name__}",
            url=url,
            hint="Check the host, port, database name and password, and that the server runs; "
            "nothing was created.",
        ) from None
    finally:
        engine.dispose()
    return {"connect_args": connect_args, "pool_pre_ping": True}


def retry_callback(max_retry: int | None) -> Any:
    """Optuna's callback that queues a failed trial again (same parameters, ``failed_trial``
    system attr naming the original), at most ``max_retry`` times.

    Optuna 4.9 renamed ``RetryFailedTrialCallback`` to ``RetryHeartbeatStaleTrialCallback`` (the
    old name goes in 6.0); both are public.
    """
    try:
        from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry
    except ImportError:  # pragma: no cover - Optuna < 4.9
        from optuna.storages import RetryFailedTrialCallback as Retry
    with quiet():  # "experimental" in Optuna (since 2.8)
        return Retry(max_retry=max_retry)


def open_storage(url: str | None = None, *, heartbeat: Heartbeat | None = None) -> Any:
    """An Optuna ``RDBStorage`` for ``url`` (default: the workspace's), with a heartbeat.

    A trial that stops beating for ``heartbeat.grace`` seconds is failed by the next worker that
    starts a trial (``study.optimize`` checks) and queued again by the storage's
    heartbeat-stale callback.

    Raises
    ------
    StorageError
        The URL is malformed, its folder is missing or its server cannot be reached; in that
        case nothing is created.
    """
    import inspect

    import optuna
    from optuna.storages import RDBStorage

    url = _with_driver(url or default_storage_url())
    engine_kwargs = _check_reachable(url)
    beat = heartbeat or Heartbeat()
    names = inspect.signature(RDBStorage).parameters
    callback_arg = (  # the argument's name since Optuna 4.9; failed_trial_callback before
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in names
        else "failed_trial_callback"
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with quiet():
            return RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=beat.interval,
                grace_period=beat.grace,
                **{callback_arg: retry_callback(beat.max_retry)},
            )
    except Exception as exc:
        raise StorageError(
            f"Cannot open the storage {display_url(url)!r}: {exc}",
            url=url,
            hint="Check that it is an Optuna database (or an empty one).",
        ) from exc


# --- one worker at a time takes a trial from a study's queue ---------------------------------


@contextlib.contextmanager
def queue_lock(url: str, study: str) -> Iterator[None]:
    """Hold the lock under which a worker takes a trial from ``study``'s queue.

    Across processes and machines, checking that a queued trial is left and taking it must be
    one step, or two workers could both see the last one and the slower would start a trial
    that was never queued. SQLite: a file lock next to the database (one machine, as SQLite
    itself). PostgreSQL and MySQL: a lock of the server (an advisory lock, ``GET_LOCK``), held
    by a connection of its own.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        from llmops_magics.files import file_lock

        with file_lock(f"{parsed.database}.lock"):
            yield
        return
    if backend not in ("postgresql", "mysql"):  # pragma: no cover - open_storage refuses them
        yield
        return
    import sqlalchemy

    key = int.from_bytes(hashlib.sha256(f"llmops.sweep:{study}".encode()).digest()[:8], "big")
    key -= 1 << 63  # a signed 64-bit integer, as pg_advisory_lock takes
    with _lock_engine(url).connect() as conn:
        if backend == "postgresql":
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            release = sqlalchemy.text("SELECT pg_advisory_unlock(:k)")
            args: dict[str, Any] = {"k": key}
        else:
            name = f"llmops.sweep.{key & 0xFFFFFFFF:08x}"
            conn.execute(sqlalchemy.text("SELECT GET_LOCK(:n, 600)"), {"n": name})
            release = sqlalchemy.text("SELECT RELEASE_LOCK(:n)")
            args = {"n": name}
        try:
            yield
        finally:
            conn.execute(release, args)
            conn.commit()


_ENGINES: dict[str, Any] = {}
_ENGINES_LOCK = threading.Lock()


def _lock_engine(url: str) -> Any:
    """One small engine per server URL for the queue locks (never the storage's own)."""
    import sqlalchemy

    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = sqlalchemy.create_engine(
                url, pool_size=2, pool_pre_ping=True, connect_args={"connect_timeout": 5}
            )
        return _ENGINES[url]
