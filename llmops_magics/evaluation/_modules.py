"""The Hugging Face ``evaluate`` modules shipped inside the package (they work offline)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["MODULES", "module_for", "module_path"]

#: module name -> what it computes (each is ``modules/<name>/<name>.py``)
MODULES = {
    "bleu": "corpus BLEU (sacrebleu)",
    "chrf": "corpus chrF (sacrebleu)",
    "rouge": "ROUGE-1/2/L/Lsum F-measure means (rouge-score)",
    "f1": "SQuAD token F1",
    "exact_match": "SQuAD exact match",
    "macro_f1": "macro-F1 over labels",
    "perplexity": "perplexity of texts under a model spec",
}


def module_path(name: str) -> str:
    """The folder of the shipped ``evaluate`` module ``name``, for ``evaluate.load(path)``.

    >>> import evaluate  # doctest: +SKIP
    >>> bleu = evaluate.load(module_path("bleu"))  # doctest: +SKIP
    >>> bleu.compute(predictions=["a cat"], references=["a cat"])["bleu"]  # doctest: +SKIP
    """
    from llmops_magics._registry import UnknownNameError

    if name not in MODULES:
        raise UnknownNameError("evaluate module", name, list(MODULES))
    return str(Path(__file__).with_name("modules") / name)


def module_for(metric: str) -> str:
    """The shipped ``evaluate`` module that computes the registered metric ``metric`` (its
    group's module for a member of a group: ``rougeL`` → ``rouge``); its result holds the
    metric under its own name.

    >>> module_for("rougeL")
    'rouge'
    """
    from llmops_magics._registry import UnknownNameError
    from llmops_magics.evaluation import metrics

    group = metrics.get(metric).group
    name = group if group is not None else metric
    if name not in MODULES:
        raise UnknownNameError("evaluate module", name, list(MODULES))
    return name
