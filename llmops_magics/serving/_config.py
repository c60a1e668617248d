"""The server's settings: one validated config whose fields are ``llmops serve``'s flags."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from llmops_magics.config import Config, option
from llmops_magics.serving._errors import ServeConfigError

__all__ = ["ServeConfig", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig(Config):
    """How ``llmops serve`` listens, batches and limits requests."""

    host: str = option("127.0.0.1", help="address to listen on (loopback by default)")
    port: int = option(8000, help="port to listen on (0: any free port)", minimum=0, maximum=65535)
    api_key_env: str | None = option(
        None,
        help="environment variable that holds the API key clients must send (required off "
        "loopback)",
        metavar="VAR",
    )
    max_tokens: int = option(
        512, help="cap on a request's max_tokens", minimum=1, maximum=8192, metavar="N"
    )
    default_max_tokens: int = option(
        64,
        help="max_tokens of a request that gives none (capped by --max-tokens too)",
        minimum=1,
        maximum=8192,
        metavar="N",
    )
    max_batch: int = option(
        16, help="requests that share one forward pass at most", minimum=1, maximum=256
    )
    batch_wait_ms: float = option(
        5.0,
        help="how long the first waiting request waits for others to join its batch",
        minimum=0.0,
        maximum=1000.0,
    )
    max_queue: int = option(
        256, help="requests waiting at most; more get 429", minimum=1, maximum=100_000
    )
    max_body_kb: int = option(
        512, help="largest request body (KiB); larger gets 413", minimum=1, maximum=65_536
    )
    refresh_s: float = option(
        5.0,
        help="how often each spec is resolved again (a moved alias or re-saved model moves "
        "the traffic); 0 = never",
        minimum=0.0,
    )
    track: bool = option(True, help="one MLflow trace per request, in a 'serve' run")
    engine: str = option(
        "auto",
        help="generation engine: auto (the fast CPU engine where it passed the quality guard, "
        "else torch with adapters batched together), torch, or an engine's name",
    )

    error_class = ServeConfigError

    def check(self) -> None:
        if not self.host.strip():
            raise ServeConfigError("host", "host is empty.", hint="Give --host 127.0.0.1.")
        from llmops_magics.models import engine_names

        if self.engine not in engine_names():
            raise ServeConfigError(
                "engine",
                f"engine={self.engine!r} is not one of {', '.join(engine_names())}.",
                hint="Give --engine auto.",
            )
        if self.api_key_env is not None and not self.api_key_env.strip():
            raise ServeConfigError(
                "api_key_env", "api_key_env is empty.", hint="Name an environment variable."
            )
