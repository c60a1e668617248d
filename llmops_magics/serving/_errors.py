"""Errors of the serving stage, and the OpenAI-format HTTP errors the server answers with."""

from __future__ import annotations

from typing import Any

from llmops_magics.config import ConfigError
from llmops_magics.errors import LlmopsError

__all__ = ["ApiError", "ServeConfigError", "ServingError"]


class ServingError(LlmopsError):
    """A server that cannot start or a served model that cannot be loaded."""


class ServeConfigError(ServingError, ConfigError):
    """A :class:`~llmops_magics.serving.ServeConfig` field is out of range; ``field`` names it."""


#: the OpenAI error ``type`` of each status the server answers with
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An HTTP error the server sends as OpenAI-format JSON (never a stack trace).

    Parameters
    ----------
    status
        The HTTP status.
    message
        What the client did wrong, or what the server cannot do now.
    param
        The request field at fault, if any.
    code
        A short machine-readable code (``model_not_found``, ``invalid_api_key``...).
    """

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        #: whether the metrics counted it already
        self.recorded = False

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": _TYPES.get(self.status, "invalid_request_error"),
                "param": self.param,
                "code": self.code,
            }
        }
