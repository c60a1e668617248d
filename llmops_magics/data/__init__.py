"""Data: bundled data sets, validation, content hashes, exploration and preparation.

``profile(df, text=...)`` explores a text column (an :class:`EdaReport`, logged to the workspace
with the data's content hash; its options are an :class:`EdaConfig`); ``prepare(df, text=...)``
cleans, deduplicates, filters, splits and formats it (a :class:`PreparedDataset` with a JSON
:class:`Recipe`, the config of preparation); ``apply(recipe, df)`` redoes a recipe;
``content_hash(df)`` names the exact data for lineage; ``keep(df)`` / ``kept(hash)`` keep it in the
workspace by that hash (prepared splits, fine-tune and eval data), so a run can be redone.
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.data._bundled import datasets, load_dataset, register_dataset
    from llmops_magics.data._checks import DataWarning
    from llmops_magics.data._config import DataConfigError, EdaConfig, Recipe
    from llmops_magics.data._dataset import PreparedDataset
    from llmops_magics.data._hash import content_hash
    from llmops_magics.data._keep import DataGoneError, keep, kept, kept_path
    from llmops_magics.data._prepare import apply, prepare
    from llmops_magics.data._profile import profile
    from llmops_magics.data._report import EdaReport
    from llmops_magics.data._stopwords import ENGLISH_STOP_WORDS
    from llmops_magics.data._validate import pick_column, require_frame, text_column

__all__ = [
    "ENGLISH_STOP_WORDS",
    "DataConfigError",
    "DataGoneError",
    "DataWarning",
    "EdaConfig",
    "EdaReport",
    "PreparedDataset",
    "Recipe",
    "apply",
    "content_hash",
    "datasets",
    "keep",
    "kept",
    "kept_path",
    "load_dataset",
    "pick_column",
    "prepare",
    "profile",
    "register_dataset",
    "require_frame",
    "text_column",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "DataConfigError": "_config",
        "DataGoneError": "_keep",
        "DataWarning": "_checks",
        "ENGLISH_STOP_WORDS": "_stopwords",
        "EdaConfig": "_config",
        "EdaReport": "_report",
        "PreparedDataset": "_dataset",
        "Recipe": "_config",
        "apply": "_prepare",
        "content_hash": "_hash",
        "datasets": "_bundled",
        "keep": "_keep",
        "kept": "_keep",
        "kept_path": "_keep",
        "load_dataset": "_bundled",
        "pick_column": "_validate",
        "prepare": "_prepare",
        "profile": "_profile",
        "register_dataset": "_bundled",
        "require_frame": "_validate",
        "text_column": "_validate",
    },
)
