"""What a user's reference names: a run id, ``run:<id>``, ``data:<hash>``, ``prompt:NAME/V``, a
model spec, a trace id or an assessment id."""

from __future__ import annotations

from llmops_magics.lineage._build import model_id
from llmops_magics.lineage._errors import UnknownNodeError, WrongKindError
from llmops_magics.lineage._graph import LineageGraph

__all__ = ["candidates", "resolve"]

_HEX = frozenset("0123456789abcdef")
_PREFIXES = ("data:", "prompt:", "trace:", "assessment:", "adapter:", "model:", "recipe:")


def candidates(ref: str) -> list[str]:
    """The node ids ``ref`` may name, most specific first (the form is checked here)."""
    ref = ref.strip()
    if not ref:
        raise WrongKindError("No node was given.", hint="Give a run id, data:<hash>, ... .")
    if ref.startswith("data:"):
        digest = ref.removeprefix("data:")
        if not digest or not set(digest) <= _HEX:
            raise WrongKindError(
                f"{ref!r} is not a data reference: the hash must be lowercase hex.",
                hint="Give data:<content hash>, e.g. data:3f2a9c0d1b7e4a55.",
            )
        return [ref]
    if ref.startswith("prompt:") or ref.startswith("prompts:/"):
        version = ref.removeprefix("prompts:/").removeprefix("prompt:")
        name, _, number = version.rpartition("/")
        if not name or not number.isdigit():
            raise WrongKindError(
                f"{ref!r} is not a prompt version.", hint="Give prompt:NAME/VERSION, e.g. qa/2."
            )
        return [f"prompt:{version}"]
    if ref.startswith(_PREFIXES):
        return [ref]
    if ref.startswith("run:"):
        run_id = ref.removeprefix("run:")
        return [model_id(ref), run_id]
    if ref.startswith("tr-"):
        return [f"trace:{ref}"]
    if ref.startswith("a-"):
        return [f"assessment:{ref}"]
    if len(ref) == 32 and set(ref) <= _HEX:
        return [ref]
    return [ref, model_id(ref)]


def resolve(graph: LineageGraph, ref: str) -> str:
    """The node id of ``ref`` in ``graph``; a clear error when it names nothing there."""
    for node_id in candidates(ref):
        if node_id in graph:
            return node_id
    raise UnknownNodeError(ref)
