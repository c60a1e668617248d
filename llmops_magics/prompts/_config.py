"""The options of a prompt run and of a chain, validated; they generate the magic's flags.

Decoding settings are not here: they are :class:`~llmops_magics.models.GenerationParams`, passed
whole. This module stays light (the magics import it when they build their parser).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from llmops_magics.config import Config, ConfigError, option
from llmops_magics.executor import check_executor, executor_option
from llmops_magics.models import GenerationParams

__all__ = ["ChainConfig", "PromptConfig", "PromptConfigError", "parse_versions", "settings"]

C = TypeVar("C", bound="ChainConfig")


class PromptConfigError(ConfigError):
    """An option of a prompt run or a chain that cannot be used (``field`` names it)."""


def parse_versions(text: str) -> list[int | str]:
    """``"1,3"`` or ``"1,latest"`` as a list of versions (the ``--versions`` flag)."""
    out: list[int | str] = []
    for part in (p.strip() for p in str(text).split(",")):
        if part == "latest":
            out.append(part)
        elif part.isdigit() and int(part) > 0:
            out.append(int(part))
        else:
            raise argparse.ArgumentTypeError(
                f"--versions takes version numbers like 1,3 (or latest), got {text!r}"
            )
    return out


@dataclass
class ChainConfig(Config):
    """What a chain runs on: the models, how many rows, and whether MLflow records it."""

    models: list[str] = option(
        default_factory=lambda: ["smollm2"],
        help="model spec; repeat to compare models (default: the session's default_model)",
        flag="--model",
        short="-m",
        metavar="SPEC",
        repeat=True,
    )
    limit: int | None = option(
        None, help="use the first N rows", metavar="N", minimum=1, hint="Give --limit N, N ≥ 1."
    )
    track: bool = option(True, help="log MLflow runs and traces")

    error_class = PromptConfigError

    def canonicalize(self) -> None:
        """One spec may be given as a string; a spec given twice runs once."""
        if isinstance(self.models, str):
            self.models = [self.models]
        if isinstance(self.models, list | tuple):
            self.models = list(dict.fromkeys(self.models))

    def check(self) -> None:
        """At least one model."""
        if not self.models:
            self.fail("models", "No model given.", hint="Give at least one --model SPEC.")


@dataclass
class PromptConfig(ChainConfig):
    """A prompt run's options: a chain's, plus the reference column, versions and streaming."""

    reference: str | None = option(
        None, help="column of reference answers: BLEU/ROUGE-L", metavar="COL"
    )
    versions: list[int | str] | None = option(
        None,
        help="compare these stored versions (e.g. 1,3 or 1,latest)",
        metavar="V1,V2",
        parse=parse_versions,
        example=("1,latest", [1, "latest"]),
    )
    stream: bool | None = option(
        None, help="show tokens as they arrive (default: in a notebook, for a single output)"
    )
    executor: str = executor_option("the generations (in shards of prompts)")

    def canonicalize(self) -> None:
        """Versions given as a tuple or as digit strings become a list of ints and "latest"."""
        super().canonicalize()
        if isinstance(self.versions, list | tuple):
            self.versions = [_version(v) for v in self.versions]

    def check(self) -> None:
        """A chain's checks, and a valid executor."""
        super().check()
        check_executor(self)


def _version(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


def settings(
    cls: type[C], config: C | None, params: GenerationParams | None, options: Mapping[str, Any]
) -> tuple[C, GenerationParams]:
    """The validated options and decoding settings of a call.

    ``options`` are single fields of ``cls`` or of :class:`GenerationParams` given as keywords;
    they override ``config`` and ``params`` (None: not given).
    """
    ours = {f.name for f in dataclasses.fields(cls)}
    decoding = {f.name for f in dataclasses.fields(GenerationParams)}
    unknown = sorted(set(options) - ours - decoding)
    if unknown:
        raise TypeError(
            f"unexpected keyword argument(s): {', '.join(unknown)}; known: "
            f"{', '.join(sorted(ours | decoding))}"
        )
    given = {k: v for k, v in options.items() if v is not None}
    base = config if config is not None else cls()
    chosen = base.replace(**{k: v for k, v in given.items() if k in ours})
    gen = (params if params is not None else GenerationParams()).replace(
        **{k: v for k, v in given.items() if k in decoding}
    )
    return chosen, gen
