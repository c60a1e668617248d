"""Kinds of lineage nodes, each with its colour; a registry so later stages add theirs
(registered versions, aliases, deployments) without touching the graph code."""

from __future__ import annotations

from dataclasses import dataclass

from llmops_magics._registry import Registry

__all__ = ["KINDS", "NodeKind", "kind_of_stage", "register_kind"]


@dataclass(frozen=True)
class NodeKind:
    """A kind of node: its name, what it is, and its colour in the panel and the SVG."""

    name: str
    description: str
    colour: str


KINDS: Registry[NodeKind] = Registry("lineage node kind")


def register_kind(name: str, description: str, colour: str) -> NodeKind:
    """Add a node kind (a later stage's artifacts: ``version``, ``alias``, ``deployment``...)."""
    kind = NodeKind(name, description, colour)
    KINDS.register(name, kind, replace=True)
    return kind


for _name, _what, _colour in (
    ("data", "a data set, by content hash", "#8ecae6"),
    ("prepared", "a prepared data set (all splits), by content hash", "#219ebc"),
    ("recipe", "a preparation recipe", "#90be6d"),
    ("eda", "an EDA profile run", "#b5e48c"),
    ("prep", "a preparation run", "#52b788"),
    ("prompt", "a prompt version", "#ffb703"),
    ("prompt_run", "a prompt run (templates x models x rows)", "#fcbf49"),
    ("chain", "a prompt chain run", "#f6bd60"),
    ("generate", "a generation run", "#f4a261"),
    ("model", "a base model spec", "#adb5bd"),
    ("finetune", "a fine-tune (SFT) run", "#e76f51"),
    ("dpo", "a DPO fine-tune run", "#d62828"),
    ("adapter", "a LoRA adapter (model spec run:<id>)", "#9d4edd"),
    ("sweep", "a sweep (Optuna study)", "#c77dff"),
    ("trial", "a sweep trial", "#e0aaff"),
    ("eval", "an eval run", "#4361ee"),
    ("trace", "a generation trace", "#b8c0ff"),
    ("assessment", "a rating (assessment) of a trace", "#ff70a6"),
    ("feedback", "a feedback run or export", "#ff9770"),
    ("pipeline", "a pipeline run", "#6c757d"),
    ("deployment", "a serving deployment (an llmops serve run)", "#2a9d8f"),
    ("run", "another run", "#ced4da"),
):
    register_kind(_name, _what, _colour)

#: the node kind of a run, by its ``llmops.stage`` tag (anything else is ``run``)
_STAGE_KINDS = {
    "eda": "eda",
    "prep": "prep",
    "prompt": "prompt_run",
    "chain": "chain",
    "generate": "generate",
    "finetune": "finetune",
    "sweep": "sweep",
    "trial": "trial",
    "eval": "eval",
    "feedback": "feedback",
    "pipeline": "pipeline",
    "serve": "deployment",
}


def kind_of_stage(stage: str, method: str = "") -> str:
    """The node kind of a run of ``stage`` (a DPO fine-tune is ``dpo``)."""
    if stage == "finetune" and method == "dpo":
        return "dpo"
    return _STAGE_KINDS.get(stage, "run")
