"""Data: bundled data sets, validation, content hashes, exploration and preparation.

``profile(df, text=...)`` explores a text column (an :class:`EdaReport`, logged to the workspace
with the data's content hash); ``prepare(df, text=...)`` cleans, deduplicates, filters, splits
and formats it (a :class:`PreparedDataset` with a JSON :class:`Recipe`); ``apply(recipe, df)``
redoes a recipe; ``content_hash(df)`` names the exact data for lineage.
"""

from llmops_magics.data._bundled import datasets, load_dataset, register_dataset
from llmops_magics.data._checks import DataWarning
from llmops_magics.data._hash import content_hash
from llmops_magics.data._prepare import PreparedDataset, Recipe, apply, prepare
from llmops_magics.data._profile import EdaReport, profile
from llmops_magics.data._stopwords import ENGLISH_STOP_WORDS
from llmops_magics.data._validate import pick_column, require_frame, text_column

__all__ = [
    "ENGLISH_STOP_WORDS",
    "DataWarning",
    "EdaReport",
    "PreparedDataset",
    "Recipe",
    "apply",
    "content_hash",
    "datasets",
    "load_dataset",
    "pick_column",
    "prepare",
    "profile",
    "register_dataset",
    "require_frame",
    "text_column",
]
