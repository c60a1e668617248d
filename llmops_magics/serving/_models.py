"""The models a server holds: each spec under the name clients send as ``model``, its loaded
version, and the moves of that version when the spec resolves elsewhere.

A spec is resolved again from time to time (:meth:`ServedModel.refresh`): a re-saved folder, and
later a ``models:/NAME@ALIAS`` whose alias moved, give a new version; new requests go to it at
once, and the old version is unloaded when its last in-flight request has finished.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmops_magics.serving._errors import ApiError, ServingError

__all__ = ["Guard", "Holds", "ModelSet", "ServedModel", "Version", "parse_specs"]

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
    #: the generation engine of the seam that runs it (None: torch, with PEFT batching)
    seam: Any = None

    @property
    def engine_label(self) -> str:
        """``name (compute type)`` of what generates."""
        return (
            "torch (float32)"
            if self.seam is None
            else f"{self.seam.name} ({self.seam.compute_type})"
        )

    @property
    def base(self) -> Any:
        """The base model's LoadedModel (the one an engine runs)."""
        return self.loaded.base if self.loaded.base is not None else self.loaded


class Holds:
    """Who uses each loaded model: every served model's current version holds its weights once,
    and every in-flight request once more. Weights nobody holds are unloaded under the guard
    (the lock an engine holds for a whole batch), so no batch that names them is running; on a
    thread of its own, so the request that let go does not wait for the running batch.

    Counting the loaded weights, not the versions, matters: two versions can share one loaded
    adapter (a folder re-resolved while it was being written loads the same weights again), and
    unloading the old version must not take them from the new one.
    """

    def __init__(self, guard: Any) -> None:
        self.guard = guard
        self._lock = threading.Lock()
        self._counts: dict[int, int] = {}
        self._threads: list[threading.Thread] = []
        #: called with weights once they are unloaded (under the lock, nobody holding them):
        #: each returns what to call once the guard is free (stopping a thread), or None
        self.on_unload: list[Callable[[Any], Callable[[], None] | None]] = []

    def count(self, loaded: Any) -> int:
        """How many holds ``loaded`` has."""
        with self._lock:
            return self._counts.get(id(loaded), 0)

    def hold(self, loaded: Any) -> None:
        """One more user of ``loaded``."""
        with self._lock:
            self._counts[id(loaded)] = self._counts.get(id(loaded), 0) + 1

    def drop(self, loaded: Any) -> None:
        """One user fewer; the last one unloads the weights (in the background)."""
        with self._lock:
            left = self._counts[id(loaded)] - 1
            if left:
                self._counts[id(loaded)] = left
                return
            del self._counts[id(loaded)]
            thread = threading.Thread(
                target=self._unload, args=(loaded,), name="llmops-serve-unload", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _unload(self, loaded: Any) -> None:
        from llmops_magics import models

        after: list[Callable[[], None]] = []
        with self.guard:
            with self._lock:
                if id(loaded) in self._counts:  # held again meanwhile (loaded from the cache)
                    return
                for hook in self.on_unload:  # before anyone can hold it again
                    if (then := hook(loaded)) is not None:
                        after.append(then)
            models.unload(loaded)
        for then in after:  # a thread may wait for the guard to end its batch: not under it
            then()
        gc.collect()  # the weights (and an engine's compute threads) go now, not at some later
        # collection: a next version computing meanwhile would need threads of its own

    def join(self, timeout: float | None = None) -> None:
        """Wait for the unloads under way."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


class ServedModel:
    """A spec served under ``name``; :meth:`lease` hands out its current version."""

    def __init__(self, name: str, spec: str, version: Version, holds: Holds) -> None:
        self.name = name
        self.spec = spec
        self.holds = holds
        self.current = version
        self._lock = threading.Lock()
        holds.hold(version.loaded)

    @property
    def parent(self) -> str | None:
        """The base model's spec, for an adapter."""
        base = self.current.ref.base
        return None if base is None else str(base)

    def acquire(self) -> Version:
        """The current version, held (its weights stay loaded) until :meth:`release`."""
        with self._lock:
            version = self.current
            self.holds.hold(version.loaded)
            return version

    def release(self, version: Version) -> None:
        """End one in-flight use of ``version``; weights nobody holds any more are unloaded."""
        self.holds.drop(version.loaded)

    @contextlib.contextmanager
    def lease(self) -> Iterator[Version]:
        """:meth:`acquire` for the length of a block."""
        version = self.acquire()
        try:
            yield version
        finally:
            self.release(version)

    def swap(self, new: Version) -> Version:
        """Make ``new`` the current version; the old one's weights are unloaded once its
        in-flight requests have finished (and unless ``new`` shares them)."""
        with self._lock:
            old, self.current = self.current, new
            self.holds.hold(new.loaded)
        log.info("%s: version %s -> %s", self.name, old.version, new.version)
        self.holds.drop(old.loaded)
        return old


def load_version(spec: str, guard: Any, engine: str = "auto") -> Version:
    """Resolve and load ``spec`` for the generation ``engine`` (``auto``: the fast engine where
    it passed the quality guard, see ``models.choose_engine``). torch loads under ``guard``, the
    lock the engines hold while they compute, since loading an adapter changes the shared base;
    another engine loads its own copy (an adapter merged into its base per version)."""
    from llmops_magics import models

    ref = models.resolve(spec)
    identity = ref.identity
    if ref.is_remote:
        raise ServingError(
            f"The spec {spec!r} is a remote endpoint; the server serves local models only.",
            hint="Serve a local model (smollm2, run:<id>, a folder).",
        )
    choice = models.choose_engine(engine, ref)
    seam = None if choice.engine.name == "torch" else choice.engine
    if seam is not None:
        loaded = seam.load(spec)
    else:
        with guard:
            loaded = models.load(spec)
    version = ref.content_hash[:12]
    return Version(ref=ref, loaded=loaded, version=version, identity=identity, seam=seam)


class ModelSet:
    """The served models by name, loaded once each (adapters of one base share it)."""

    def __init__(self, pairs: Sequence[tuple[str, str]], guard: Any, engine: str = "auto") -> None:
        self.pairs = list(pairs)
        self.guard = guard
        self.engine = engine
        self.holds = Holds(guard)
        self.models: dict[str, ServedModel] = {}
        #: the seam engine that loaded each loaded model (by id): it forgets them when unloaded
        self._seams: dict[int, Any] = {}
        self.holds.on_unload.append(self._release)

    def _load_version(self, spec: str) -> Version:
        version = load_version(spec, self.guard, self.engine)
        if version.seam is not None:
            self._seams[id(version.loaded)] = version.seam
        return version

    def _release(self, loaded: Any) -> None:
        """Unloaded weights leave their engine's cache too (its threads end with them)."""
        seam = self._seams.pop(id(loaded), None)
        if seam is not None:
            seam.release(loaded)

    def load(self) -> None:
        """Load every spec (a spec that fails stops the start with its own error)."""
        for name, spec in self.pairs:
            self.models[name] = ServedModel(name, spec, self._load_version(spec), self.holds)

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
                if self._move(served):
                    moved.append(served.name)
            except Exception as exc:  # keep serving what works; say why in the log
                log.warning("%s: cannot refresh %s: %s", served.name, served.spec, exc)
        return moved

    def _move(self, served: ServedModel) -> bool:
        """Load the spec again and swap it in, unless its files changed while they loaded
        (a folder being saved: the next round loads it whole)."""
        from llmops_magics import models

        new = self._load_version(served.spec)
        if models.resolve(served.spec).identity != new.identity:
            self.holds.hold(new.loaded)  # nobody else holds it: this unloads it again
            self.holds.drop(new.loaded)
            return False
        if new.loaded is served.current.loaded:  # the same weights (loaded at this stamp)
            served.current.identity = new.identity
            return False
        served.swap(new)
        return True

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
                "engine": m.current.engine_label,
            }
            for m in self.models.values()
        ]
