"""``serve(specs)``: start an OpenAI-compatible server in the background and get its handle."""

from __future__ import annotations

import html
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from llmops_magics.serving._app import App
from llmops_magics.serving._config import ServeConfig, is_loopback
from llmops_magics.serving._errors import ServingError
from llmops_magics.serving._http import HttpServer
from llmops_magics.serving._models import Guard, ModelSet, parse_specs
from llmops_magics.serving._stats import ServeStats

__all__ = ["Server", "running", "serve", "stop_all"]

log = logging.getLogger("llmops_magics.serving")

_RUNNING: list[Server] = []


def _api_key(config: ServeConfig) -> str | None:
    if config.api_key_env is None:
        if not is_loopback(config.host):
            raise ServingError(
                f"Refusing to listen on {config.host!r} without an API key.",
                hint="Put a key in an environment variable and name it with --api-key-env VAR, "
                "or listen on 127.0.0.1.",
            )
        return None
    key = os.environ.get(config.api_key_env, "")
    if not key.strip():
        raise ServingError(
            f"The environment variable {config.api_key_env!r} holds no API key.",
            hint=f"Set it first (export {config.api_key_env}=...); the key never goes on the "
            "command line.",
        )
    return key.strip()


class Server:
    """A running server: :attr:`url`, :meth:`stats`, :meth:`stop`.

    Made by :func:`serve`; the HTTP side listens at once (``/health`` says 503 while the models
    load), and the models load on a background thread.
    """

    def __init__(self, specs: Sequence[str], config: ServeConfig) -> None:
        self.config = config
        self.pairs = parse_specs(specs)
        api_key = _api_key(config)
        guard = Guard()
        self.app = App(ModelSet(self.pairs, guard, config.engine), config)
        try:
            self.httpd = HttpServer(
                (config.host, config.port), self.app, api_key, config.max_body_kb * 1024
            )
        except OSError as exc:
            raise ServingError(
                f"Cannot listen on {config.host}:{config.port}: {exc.strerror or exc}.",
                hint="Choose another --port (0 picks a free one) or stop what uses it.",
            ) from None
        host, port = str(self.httpd.server_address[0]), int(self.httpd.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/v1"
        self.app.url = self.url
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self._ready = threading.Event()
        self._stop_lock = threading.Lock()
        self._threads = [
            threading.Thread(
                target=self.httpd.serve_forever, name="llmops-serve-http", daemon=True
            ),
            threading.Thread(target=self._load, name="llmops-serve-load", daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- life ----------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            self.app.models.load()
            if self.config.track:
                from llmops_magics.serving._tracing import Tracer

                specs = {name: spec for name, spec in self.pairs}
                self.app.tracer = Tracer([n for n, _ in self.pairs], specs, self.url)
            for served in self.app.models.models.values():
                self.app.engine(served.current)  # the engines start before the first request
            self.app.loading = False
        except BaseException as exc:
            self.error = exc
            log.error("cannot start: %s", exc)
        finally:
            self._ready.set()
        if self.error is None and self.config.refresh_s > 0:
            self._refresh_loop()

    def _refresh_loop(self) -> None:
        while not self.stopped.wait(self.config.refresh_s):
            self.app.models.refresh()
            for served in self.app.models.models.values():
                self.app.engine(served.current)

    def wait_ready(self, timeout: float | None = None) -> Server:
        """Wait until the models are loaded; re-raise the error that stopped the start."""
        if not self._ready.wait(timeout):
            raise ServingError(f"The models did not load within {timeout} s.")
        if self.error is not None:
            self.stop()
            raise self.error
        return self

    @property
    def ready(self) -> bool:
        """Whether the models are loaded and requests are served."""
        return self._ready.is_set() and self.error is None and not self.stopped.is_set()

    def stop(self, *, drain_s: float = 30.0, abort: bool = False) -> ServeStats:
        """Stop: refuse new requests, let the queued and running ones finish (or, with
        ``abort``, end them with an error), flush the traces and end the ``serve`` run.

        Returns the final :meth:`stats`.
        """
        with self._stop_lock:
            if self.stopped.is_set():
                return self.stats()
            self.stopped.set()
            self.app.aborting = abort
            for engine in list(self.app.engines.values()):
                engine.stop(abort=abort, timeout=drain_s)
            self.httpd.wait_idle(drain_s if not abort else 5.0)
            self.app.models.holds.join(drain_s)
            self.httpd.shutdown()
            self.httpd.close_connections()
            self.httpd.server_close()
            stats = self.stats()
            if self.app.tracer is not None:
                self.app.tracer.close(
                    {
                        "requests": stats.requests,
                        "errors": stats.errors,
                        "completion_tokens": stats.completion_tokens,
                        "latency_p50_s": stats.latency_p50_s,
                        "latency_p95_s": stats.latency_p95_s,
                        "mean_batch": stats.mean_batch,
                    }
                )
            if self in _RUNNING:
                _RUNNING.remove(self)
            log.info("stopped %s", self.url)
            return stats

    def wait(self) -> None:
        """Block until the server is stopped (the shell's ``llmops serve``): Ctrl-C or SIGTERM
        stop it gracefully (in-flight requests finish, traces are flushed)."""
        import signal

        def interrupt(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, interrupt)
        try:
            while not self.stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            self.stop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    # -- figures -------------------------------------------------------------------------------

    def stats(self) -> ServeStats:
        """Requests, errors, tokens, latency percentiles and batching so far."""
        return self.app.meter.stats(self.url, self.app.depth)

    @property
    def models(self) -> list[str]:
        """The names clients send as ``model``."""
        return [name for name, _ in self.pairs]

    @property
    def run_id(self) -> str | None:
        """The ``serve`` run whose traces hold the requests."""
        tracer = self.app.tracer
        return None if tracer is None else str(tracer.run.id)

    def _state(self) -> str:
        if self.stopped.is_set():
            return "stopped"
        if self.error is not None:
            return f"failed: {self.error}"
        return "serving" if self._ready.is_set() else "loading"

    def __repr__(self) -> str:
        return (
            f"llmops serve at {self.url} ({self._state()}): {', '.join(self.models)}; "
            ".stats(), .stop()"
        )

    def _repr_html_(self) -> str:
        return (
            f"<p><b>llmops serve</b> at <code>{html.escape(self.url)}</code> "
            f"({html.escape(self._state())}): {html.escape(', '.join(self.models))}. "
            "Call it with <code>openai.OpenAI(base_url=..., api_key=...)</code>; "
            "<code>.stats()</code>, <code>.stop()</code>.</p>"
        )


def serve(
    specs: str | Sequence[str],
    config: ServeConfig | None = None,
    *,
    wait: bool = True,
    timeout: float | None = 600.0,
    **settings: Any,
) -> Server:
    """Serve model specs over an OpenAI-compatible HTTP API, in the background.

    Parameters
    ----------
    specs
        Model specs (``smollm2``, ``run:<id>``, a folder), each optionally ``NAME=SPEC``; a
        request's ``model`` field picks one. Adapters of one base share it in memory.
    config
        Listening, batching and limits (:class:`ServeConfig`); ``settings`` override its fields.
    wait
        Return once the models are loaded (else at once; ``/health`` says 503 until then).
    timeout
        With ``wait``: how long loading may take.

    Returns
    -------
    Server
        The handle: ``.url``, ``.stats()``, ``.stop()``.
    """
    if isinstance(specs, str):
        specs = [specs]
    config = (config or ServeConfig()).replace(**settings)
    server = Server(specs, config)
    _RUNNING.append(server)
    log.info("listening on %s", server.url)
    if wait:
        started = time.perf_counter()
        server.wait_ready(timeout)
        log.info("ready in %.1fs: %s", time.perf_counter() - started, ", ".join(server.models))
    return server


def running() -> list[Server]:
    """The servers this process started and has not stopped."""
    return list(_RUNNING)


def stop_all(**options: Any) -> list[ServeStats]:
    """Stop every server this process started; their final stats."""
    return [server.stop(**options) for server in list(_RUNNING)]
