"""Reading OpenAI-format requests: every field checked, each mistake a 400 or 422 that names it.

400 is a body that is not what the endpoint reads (not JSON, a missing or mistyped field); 422 a
well-formed value that cannot be served (an empty message list, an unknown role, a negative
``max_tokens``, a temperature out of range).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmops_magics.serving._engine import Sampling
from llmops_magics.serving._errors import ApiError

__all__ = ["Decoding", "chat_messages", "decoding", "parse_body", "prompts"]

_ROLES = ("system", "developer", "user", "assistant")
_MAX_STOPS = 4


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body (400 otherwise)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


@dataclass(frozen=True)
class Decoding:
    """The decoding fields of a request."""

    max_tokens: int
    sampling: Sampling
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool


def _number(body: Mapping[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"'{name}' must be a number, not {value!r}.", param=name)
    if not lo <= value <= hi:
        raise ApiError(
            422, f"'{name}' must be between {lo:g} and {hi:g}, not {value!r}.", param=name
        )
    return float(value)


def _max_tokens(body: Mapping[str, Any], default: int, cap: int) -> int:
    name = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    value = body.get(name)
    if value is None:
        return min(default, cap)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"'{name}' must be an integer, not {value!r}.", param=name)
    if value < 1:
        raise ApiError(422, f"'{name}' must be at least 1, not {value}.", param=name)
    return min(value, cap)  # capped by the server's setting


def _stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise ApiError(400, "'stop' must be a string or a list of strings.", param="stop")
    if len(items) > _MAX_STOPS:
        raise ApiError(422, f"'stop' takes at most {_MAX_STOPS} strings.", param="stop")
    return tuple(s for s in items if s)


def decoding(body: Mapping[str, Any], *, default_max_tokens: int, cap: int) -> Decoding:
    """The decoding fields: ``max_tokens`` (capped), ``temperature`` (default 0: greedy, as
    ``models.generate``), ``top_p``, ``seed``, ``stop``, ``stream`` and
    ``stream_options.include_usage``."""
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ApiError(422, f"'seed' must be a whole number >= 0, not {seed!r}.", param="seed")
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    if top_p <= 0:
        raise ApiError(422, "'top_p' must be above 0.", param="top_p")
    sampling = Sampling(
        temperature=_number(body, "temperature", 0.0, 0.0, 2.0), top_p=top_p, seed=seed
    )
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false.", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "'stream_options' must be an object.", param="stream_options")
    n = body.get("n", 1)
    if n != 1:
        raise ApiError(422, "This server returns one choice per prompt: 'n' must be 1.", param="n")
    return Decoding(
        max_tokens=_max_tokens(body, default_max_tokens, cap),
        sampling=sampling,
        stop=_stop(body),
        stream=stream,
        include_usage=bool(options.get("include_usage")),
    )


def _content(message: Mapping[str, Any], i: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: text only
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise ApiError(
                    422, f"messages[{i}]: only text content parts are served.", param="messages"
                )
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    if content is None and message.get("role") == "assistant":
        return ""
    raise ApiError(400, f"messages[{i}].content must be a string.", param="messages")


def chat_messages(body: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ``messages`` as ``{"role", "content"}`` dicts (``developer`` becomes ``system``)."""
    messages = body.get("messages")
    if messages is None:
        raise ApiError(400, "'messages' is required.", param="messages")
    if not isinstance(messages, list):
        raise ApiError(400, "'messages' must be a list.", param="messages")
    if not messages:
        raise ApiError(422, "'messages' is empty: give at least one message.", param="messages")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ApiError(400, f"messages[{i}] must be an object.", param="messages")
        role = message.get("role")
        if role not in _ROLES:
            raise ApiError(
                422,
                f"messages[{i}].role {role!r} is not one of {', '.join(_ROLES)}.",
                param="messages",
            )
        out.append(
            {"role": "system" if role == "developer" else role, "content": _content(message, i)}
        )
    return out


def prompts(body: Mapping[str, Any]) -> list[str]:
    """``/v1/completions``' ``prompt``: a string or a list of strings."""
    prompt = body.get("prompt")
    if prompt is None:
        raise ApiError(400, "'prompt' is required.", param="prompt")
    items = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
        raise ApiError(400, "'prompt' must be a string or a list of strings.", param="prompt")
    if not items or not all(p.strip() for p in items):
        raise ApiError(422, "'prompt' is empty.", param="prompt")
    return items
