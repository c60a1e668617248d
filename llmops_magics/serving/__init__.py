"""Serving: an OpenAI-compatible HTTP server for workspace models, one MLflow trace a request.

>>> from llmops_magics import serving
>>> server = serving.serve(["smollm2"], port=0)  # doctest: +SKIP
>>> server.url  # doctest: +SKIP
'http://127.0.0.1:41237/v1'
>>> server.stop()  # doctest: +SKIP

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` (streaming too),
``POST /v1/completions``, ``POST /v1/feedback``, ``GET /health``, ``GET /metrics``.
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.serving._config import ServeConfig, is_loopback
    from llmops_magics.serving._errors import ApiError, ServeConfigError, ServingError
    from llmops_magics.serving._models import parse_specs
    from llmops_magics.serving._server import Server, running, serve, stop_all
    from llmops_magics.serving._stats import ServeStats

__all__ = [
    "ApiError",
    "ServeConfig",
    "ServeConfigError",
    "ServeStats",
    "Server",
    "ServingError",
    "is_loopback",
    "parse_specs",
    "running",
    "serve",
    "stop_all",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "ApiError": "_errors",
        "ServeConfig": "_config",
        "ServeConfigError": "_errors",
        "ServeStats": "_stats",
        "Server": "_server",
        "ServingError": "_errors",
        "is_loopback": "_config",
        "parse_specs": "_models",
        "running": "_server",
        "serve": "_server",
        "stop_all": "_server",
    },
)
