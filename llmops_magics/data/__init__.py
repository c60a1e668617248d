"""Data: bundled real data sets and validation of user frames.

Exploration and preparation (``profile``, ``prepare``) land with the EDA stage.
"""

from llmops_magics.data._bundled import datasets, load_dataset, register_dataset
from llmops_magics.data._validate import require_frame, text_column

__all__ = ["datasets", "load_dataset", "register_dataset", "require_frame", "text_column"]
