"""Perplexity of texts under a model spec (exp of the mean token loss, sliding window).

Shipped inside llmops-magics so that ``evaluate.load(module_path("perplexity"))`` works offline;
the model is any llmops model spec (``smollm2``, a local folder, an adapter), never a hub id.
"""

import datasets
import evaluate

from llmops_magics.evaluation import perplexity

_DESCRIPTION = "Perplexity of texts under a causal language model given as an llmops model spec."
_CITATION = ""
_KWARGS = """
Args:
    predictions: list of texts to score.
    model: an llmops model spec (default "smollm2").
    batch_size: windows per forward pass (default 8).
Returns:
    {"perplexity": corpus perplexity, "perplexities": per-text values}
"""


class Perplexity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("string")}),
        )

    def _compute(self, predictions, model="smollm2", batch_size=8):
        result = perplexity(predictions, model, batch_size=batch_size, progress=False)
        return {"perplexity": result.corpus, "perplexities": result.per_text}
