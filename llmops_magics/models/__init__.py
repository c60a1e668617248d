"""Models: resolving specs, loading, listing and generating.

>>> from llmops_magics import models
>>> result = models.generate(["What is AI?"], model="smollm2")  # doctest: +SKIP
"""

from llmops_magics.models._generate import (
    GenerationParams,
    GenerationParamsError,
    GenerationResult,
    check_prompts,
    eos_ids,
    generate,
    render_prompt,
)
from llmops_magics.models._load import (
    LoadedModel,
    ModelList,
    clear_cache,
    list_models,
    load,
    without_hf_bars,
)
from llmops_magics.models._sources import (
    EmbeddedModel,
    ModelRef,
    ModelSource,
    cache_root,
    register_source,
    resolve,
    sources,
    weights_hash,
)

__all__ = [
    "EmbeddedModel",
    "GenerationParams",
    "GenerationParamsError",
    "GenerationResult",
    "LoadedModel",
    "ModelList",
    "ModelRef",
    "ModelSource",
    "cache_root",
    "check_prompts",
    "clear_cache",
    "eos_ids",
    "generate",
    "list_models",
    "load",
    "register_source",
    "render_prompt",
    "resolve",
    "sources",
    "weights_hash",
    "without_hf_bars",
]

from llmops_magics.models._runs import RunSource

register_source("run", RunSource())
