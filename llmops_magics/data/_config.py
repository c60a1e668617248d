"""The options of the data stage, as validated configs whose fields make the magics' flags.

:class:`EdaConfig` is how :func:`~llmops_magics.data.profile` explores a text column;
:class:`Recipe` is every choice :func:`~llmops_magics.data.prepare` makes (it is saved with the
prepared data, and ``apply(recipe, df)`` redoes it). This module stays light: the magics import
it when they build their parser.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from llmops_magics.config import Config, ConfigError, option
from llmops_magics.errors import DataError
from llmops_magics.files import atomic_write

__all__ = ["NORMAL_FORMS", "SPLITS", "DataConfigError", "EdaConfig", "Recipe", "make_config"]

SPLITS = ("train", "validation", "test")
NORMAL_FORMS = ("NFC", "NFKC", "NFD", "NFKD")
#: the model used for tokens and chat templates when a config needs one and names none
DEFAULT_MODEL = "smollm2"

C = TypeVar("C", bound=Config)


class DataConfigError(ConfigError, DataError):
    """An option of the data stage out of range or at odds with another (``field`` names it)."""


def make_config(cls: type[C], config: C | None, options: Mapping[str, Any]) -> C:
    """``config`` (default ``cls()``) with ``options`` applied; unknown options are refused.

    The stage functions take a config and, for convenience, its fields as keywords.
    """
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - known)
    if unknown:
        raise DataConfigError(
            unknown[0],
            f"Unknown option(s): {', '.join(unknown)}.",
            hint=f"Options are: {', '.join(sorted(known - {'text', 'version'}))}.",
        )
    if config is None:
        return cls(**options)
    if not isinstance(config, cls):
        raise DataConfigError(
            "config", f"config must be a {cls.__name__}, got {type(config).__name__}."
        )
    return config.replace(**options) if options else config


def near_threshold_option() -> Any:
    """The ``--threshold`` field of profiling and preparation alike."""
    return option(
        0.8,
        help="near-duplicate Jaccard similarity",
        flag="--threshold",
        minimum=0.0,
        exclusive_minimum=True,
        maximum=1.0,
    )


# --- exploration -------------------------------------------------------------------------------


@dataclass
class EdaConfig(Config):
    """How :func:`~llmops_magics.data.profile` explores a text column."""

    model: str | None = option(
        None, help="count tokens with this model's tokenizer", short="-m", metavar="MODEL"
    )
    max_tokens: int | None = option(
        None,
        help="truncation rate at N tokens after the chat template (model: --model or default)",
        minimum=1,
    )
    minimal: bool = option(False, help="only the cheap statistics")
    near_threshold: float = near_threshold_option()
    num_perm: int = option(
        64, help="MinHash permutations for near duplicates", minimum=1, cli=False
    )
    shingle_size: int = option(
        3, help="words per shingle for near duplicates", minimum=1, maximum=4, cli=False
    )
    top: int = option(20, help="top words/n-grams", minimum=1)

    error_class = DataConfigError

    def canonicalize(self) -> None:
        """A truncation rate needs a tokenizer: the default model's when none is named."""
        if self.max_tokens is not None and self.model is None:
            self.model = DEFAULT_MODEL


# --- preparation -------------------------------------------------------------------------------


def parse_split(text: str) -> list[float]:
    """The fractions of ``--split 0.8,0.1,0.1``."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected fractions separated by commas, e.g. 0.8,0.1,0.1; got {text!r}"
        ) from None


def parse_normal_form(text: str) -> str:
    """``--normalize nfkc`` gives NFKC; ``none`` switches normalisation off."""
    return "none" if text.strip().lower() == "none" else text.strip().upper()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class Recipe(Config):
    """Every choice :func:`~llmops_magics.data.prepare` makes, as JSON-able data;
    ``apply(recipe, df)`` redoes it."""

    text: list[str] = option(
        default_factory=list,
        help="a text column to clean (repeat for several)",
        repeat=True,
        metavar="COL",
    )
    normalize: str | None = option(
        "NFKC",
        help="unicode form NFC/NFKC/NFD/NFKD or none",
        choices=NORMAL_FORMS,
        parse=parse_normal_form,
        example=("nfc", "NFC"),
        metavar="FORM",
    )
    strip_html: bool = option(
        True, help="remove tags, decode entities", shortcuts={"--keep-html": False}
    )
    collapse_whitespace: bool = option(
        True, help="runs of space become one", shortcuts={"--keep-whitespace": False}
    )
    lowercase: bool = option(False, help="lower-case", flag="--lower")
    remove_stop_words: bool = option(False, help="remove English stop words", flag="--stop-words")
    stem: bool = option(False, help="Porter-stem words (NLTK)")
    redact_pii: bool = option(False, help="replace PII with [EMAIL] etc.")
    dedup: bool = option(
        True, help="drop exact duplicates (after cleaning)", shortcuts={"--keep-duplicates": False}
    )
    near_dedup: bool = option(False, help="drop near duplicates (MinHash)")
    near_threshold: float = near_threshold_option()
    min_chars: int | None = option(None, help="drop shorter texts", minimum=0)
    max_chars: int | None = option(None, help="drop longer texts", minimum=0)
    min_words: int | None = option(None, help="drop texts with fewer words", minimum=0)
    max_words: int | None = option(None, help="drop texts with more words", minimum=0)
    max_tokens: int | None = option(
        None, help="drop texts longer than N model tokens (chat template)", minimum=1
    )
    model: str | None = option(
        None, help="model for tokens and chat template", short="-m", metavar="MODEL"
    )
    prompt: str | None = option(None, help="prompt column for chat formatting", metavar="COL")
    response: str | None = option(None, help="response column", metavar="COL")
    system: str | None = option(None, help="system message when formatting")
    output_column: str = option("formatted", help="column of training text", metavar="COL")
    split: list[float] = option(
        default_factory=lambda: [0.8, 0.1, 0.1],
        help="train, validation[, test] fractions (default 0.8,0.1,0.1)",
        parse=parse_split,
        example=("0.7,0.3", [0.7, 0.3]),
        metavar="FRACTIONS",
    )
    seed: int = option(0, help="seed of the shuffle before splitting", minimum=0)
    stratify: str | None = option(None, help="keep this column's proportions", metavar="COL")
    version: int = option(1, help="recipe format version", minimum=1, cli=False)

    error_class = DataConfigError

    def canonicalize(self) -> None:
        """One column name becomes a list, a text split becomes fractions, ``none`` None."""
        if isinstance(self.text, str):
            self.text = [self.text]
        elif isinstance(self.text, tuple):
            self.text = list(self.text)
        if isinstance(self.normalize, str):
            form = parse_normal_form(self.normalize)
            self.normalize = None if form == "none" else form
        if isinstance(self.split, str):
            self.split = parse_split(self.split)
        if isinstance(self.split, list | tuple) and all(_is_number(x) for x in self.split):
            self.split = [float(x) for x in self.split]
        if (self.max_tokens is not None or self.prompt is not None) and self.model is None:
            self.model = DEFAULT_MODEL

    def check(self) -> None:
        """The rules between fields: columns named, split fractions, chat formatting."""
        if not self.text or not all(self.text):
            self.fail("text", "text must name one or more columns.", hint='e.g. text="question".')
        example = "e.g. --split 0.8,0.1,0.1"
        if not 2 <= len(self.split) <= 3 or any(x < 0 for x in self.split):
            self.fail(
                "split",
                "split needs 2 or 3 non-negative fractions (train, validation[, test]), got "
                f"{self.split}.",
                example,
            )
        if abs(sum(self.split) - 1.0) > 1e-6:
            self.fail(
                "split",
                f"split fractions must sum to 1, got {self.split} (sum {sum(self.split):g}).",
                example,
            )
        if self.split[0] == 0:
            self.fail("split", "the train fraction of split must be above 0.", example)
        if (self.prompt is None) != (self.response is None):
            self.fail(
                "response" if self.response is None else "prompt",
                "prompt and response go together (both columns, or neither).",
                "e.g. prompt='question', response='answer'.",
            )
        if self.prompt is not None and (self.remove_stop_words or self.stem):
            self.fail(
                "stem" if self.stem else "remove_stop_words",
                "stop-word removal and stemming make text unfit for chat formatting.",
                "Use them for classic NLP features, without prompt/response.",
            )

    def to_json(self) -> str:
        """The recipe as indented JSON text (what ``recipe.json`` holds)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> Recipe:
        """A recipe from JSON text or a dict (unknown keys are an error)."""
        if isinstance(text, Mapping):
            return cls.from_dict(text)
        return super().from_json(text)

    def save(self, path: str | Path) -> Path:
        """Write the recipe as JSON to ``path`` (atomically)."""
        return atomic_write(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        """Read a recipe saved with :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
