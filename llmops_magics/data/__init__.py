"""Data: bundled real data sets, validation of user frames, content hashes for lineage.

Exploration and preparation (``profile``, ``prepare``) land with the EDA stage.
"""

from llmops_magics.data._bundled import datasets, load_dataset, register_dataset
from llmops_magics.data._hash import content_hash
from llmops_magics.data._validate import require_frame, text_column

__all__ = [
    "content_hash",
    "datasets",
    "load_dataset",
    "register_dataset",
    "require_frame",
    "text_column",
]
