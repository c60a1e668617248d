"""Names the feedback stage writes on traces and assessments, and only it reads.

Names other stages read too (the model, the kind of trace) are :mod:`llmops_magics.tracking`'s
constants.
"""

from __future__ import annotations

from llmops_magics import tracking

__all__ = ["ITEM_KEY", "ITEM_KIND", "META", "RATED", "SOURCE_TRACES"]

#: traces that are items of a rating panel carry this tag (set when the panel opens, so a click
#: costs one write); the feedback frame reads only these traces
RATED = tracking.PREFIX + "feedback"
#: the ``tracking.KIND`` of a trace made to hold a rated row that had no trace of its own
ITEM_KIND = "feedback_item"
#: an item's content hash (on its trace, and in each rating's metadata)
ITEM_KEY = tracking.PREFIX + "item_key"
#: the traces a pairwise item's two outputs came from
SOURCE_TRACES = tracking.PREFIX + "source_traces"


class META:
    """The metadata keys of a rating (an MLflow assessment)."""

    ITEM_KEY = ITEM_KEY
    INDEX = tracking.PREFIX + "index"
    MODEL = tracking.MODEL
    PROMPT = tracking.PREFIX + "prompt"
    OUTPUT = tracking.PREFIX + "output"
    OUTPUT_A = tracking.PREFIX + "output_a"
    OUTPUT_B = tracking.PREFIX + "output_b"
    OUTPUT_COLUMNS = tracking.PREFIX + "output_columns"
    SHOWN = tracking.PREFIX + "shown"
    LABELS = tracking.PREFIX + "labels"
