"""The models a server holds: each spec under the name clients send as ``model``, its loaded
version, and the moves of that version when the spec resolves elsewhere.

A spec is resolved again from time to time (:meth:`ServedModel.refresh`): a re-saved folder, and
later a ``models:/NAME@ALIAS`` whose alias moved, give a new version; new requests go to it at
once, and the old version is unloaded when its last in-flight request has finished.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmops_magics.serving._errors import ApiError, ServingError

__all__ = ["Guard", "ModelSet", "ServedModel", "Version", "parse_specs"]

log = logging.getLogger("llmops_magics.serving")


def parse_specs(specs: Sequence[str]) -> list[tuple[str, str]]:
    """``(name, spec)`` pairs from ``SPEC`` or ``NAME=SPEC`` words (the name defaults to the
    spec); names must be unique."""
    pairs: list[tuple[str, str]] = []
    for word in specs:
        if not isinstance(word, str) or not word.strip():
            raise ServingError("A model spec is empty.", hint="Give specs such as smollm2.")
        name, sep, spec = word.strip().partition("=")
        if not sep or "/" in name or ":" in name:  # a path or a prefixed spec may hold '='
            name, spec = word.strip(), word.strip()
        if not name or not spec:
            raise ServingError(f"Cannot read the model {word!r}.", hint="Write SPEC or NAME=SPEC.")
        pairs.append((name, spec))
    if not pairs:
        raise ServingError("No model to serve.", hint="Give at least one spec, e.g. smollm2.")
    names = [n for n, _ in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ServingError(
            f"The model name(s) {', '.join(twice)} are given twice.",
            hint="Name each spec once; give two specs different names with NAME=SPEC.",
        )
    return pairs


class Guard:
    """The lock around the shared weights: engines hold it while they compute, loading takes it
    to change them. A load waiting for it goes before the engine's next batch (a plain lock
    would let a busy engine take it again and again, so a moved model would never load)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._turnstile = threading.Lock()

    def acquire(self, blocking: bool = True) -> bool:
        """Take it to change the weights (the next batch waits)."""
        if not self._turnstile.acquire(blocking):
            return False
        try:
            return self._lock.acquire(blocking)
        finally:
            self._turnstile.release()

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> Guard:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @contextlib.contextmanager
    def compute(self) -> Iterator[None]:
        """Hold it for one batch, after any load that is waiting."""
        with self._turnstile:
            pass
        with self._lock:
            yield


@dataclass(eq=False)
class Version:
    """One loaded version of a served model."""

    ref: Any  # models.ModelRef
    loaded: Any  # models.LoadedModel
    version: str
    #: ``ref.identity`` when it was loaded (the property reads the folder as it is now)
    identity: str = ""
    loaded_at: float = field(default_factory=time.time)
    inflight: int = 0
    retired: bool = False

    @property
    def base(self) -> Any:
        """The base model's LoadedModel (the one an engine runs)."""
        return self.loaded.base if self.loaded.base is not None else self.loaded


class ServedModel:
    """A spec served under ``name``; :meth:`lease` hands out its current version."""

    def __init__(self, name: str, spec: str, version: Version) -> None:
        self.name = name
        self.spec = spec
        self.current = version
        self._lock = threading.Lock()

    @property
    def parent(self) -> str | None:
        """The base model's spec, for an adapter."""
        base = self.current.ref.base
        return None if base is None else str(base)

    def acquire(self) -> Version:
        """The current version, counted as in flight until :meth:`release`."""
        with self._lock:
            version = self.current
            version.inflight += 1
            return version

    def release(self, version: Version) -> None:
        """End one in-flight use of ``version``; a retired version is unloaded when idle."""
        with self._lock:
            version.inflight -= 1
            done = version.retired and version.inflight == 0
        if done:
            _unload(version)

    @contextlib.contextmanager
    def lease(self) -> Iterator[Version]:
        """:meth:`acquire` for the length of a block."""
        version = self.acquire()
        try:
            yield version
        finally:
            self.release(version)

    def swap(self, new: Version) -> Version:
        """Make ``new`` the current version; the old one is unloaded once idle."""
        with self._lock:
            old, self.current = self.current, new
            old.retired = True
            idle = old.inflight == 0
        log.info("%s: version %s -> %s", self.name, old.version, new.version)
        if idle:
            _unload(old)
        return old


def _unload(version: Version) -> None:
    from llmops_magics import models

    # the same weights may serve another name or the new version (an unchanged base)
    if version.retired:
        models.unload(version.loaded)


def load_version(spec: str, guard: Any) -> Version:
    """Resolve and load ``spec`` (under ``guard``, the lock the engines hold while they
    compute, since loading an adapter changes the shared base)."""
    from llmops_magics import models

    ref = models.resolve(spec)
    identity = ref.identity
    if ref.is_remote:
        raise ServingError(
            f"The spec {spec!r} is a remote endpoint; the server serves local models only.",
            hint="Serve a local model (smollm2, run:<id>, a folder).",
        )
    with guard:
        loaded = models.load(spec)
    return Version(ref=ref, loaded=loaded, version=ref.content_hash[:12], identity=identity)


class ModelSet:
    """The served models by name, loaded once each (adapters of one base share it)."""

    def __init__(self, pairs: Sequence[tuple[str, str]], guard: Any) -> None:
        self.pairs = list(pairs)
        self.guard = guard
        self.models: dict[str, ServedModel] = {}

    def load(self) -> None:
        """Load every spec (a spec that fails stops the start with its own error)."""
        for name, spec in self.pairs:
            self.models[name] = ServedModel(name, spec, load_version(spec, self.guard))

    def get(self, name: Any) -> ServedModel:
        """The model clients call ``name``; 404 listing the known names otherwise."""
        if isinstance(name, str) and name in self.models:
            return self.models[name]
        known = ", ".join(sorted(self.models)) or "(none loaded yet)"
        raise ApiError(
            404,
            f"The model {name!r} does not exist on this server. Known models: {known}.",
            param="model",
            code="model_not_found",
        )

    def refresh(self) -> list[str]:
        """Resolve every spec again; load and swap in those whose weights changed. Returns the
        names that moved. A spec that fails to resolve keeps serving its current version."""
        from llmops_magics import models

        moved = []
        for served in list(self.models.values()):
            try:
                ref = models.resolve(served.spec)
                if ref.identity == served.current.identity:
                    continue
                served.swap(load_version(served.spec, self.guard))
                moved.append(served.name)
            except Exception as exc:  # keep serving what works; say why in the log
                log.warning("%s: cannot refresh %s: %s", served.name, served.spec, exc)
        return moved

    def rows(self) -> list[dict[str, Any]]:
        """``/v1/models``' data: each model with its base (``parent``) and version."""
        return [
            {
                "id": m.name,
                "object": "model",
                "created": int(m.current.loaded_at),
                "owned_by": "llmops-magics",
                "parent": m.parent,
                "root": m.spec,
                "version": m.current.version,
            }
            for m in self.models.values()
        ]
