"""Models: resolving specs, loading, listing and generating.

>>> from llmops_magics import models
>>> result = models.generate(["What is AI?"], model="smollm2")  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.models._engines import (
        QUALITY_GUARDED,
        Engine,
        EngineChoice,
        choose_engine,
        engine_names,
        engine_params,
        register_engine,
        resolved_engine,
    )
    from llmops_magics.models._generate import (
        GenerationParams,
        GenerationParamsError,
        GenerationResult,
        check_prompts,
        eos_ids,
        generate,
        render_prompt,
        trace_generations,
    )
    from llmops_magics.models._load import (
        LoadedModel,
        ModelList,
        clear_cache,
        list_models,
        load,
        unload,
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
    "QUALITY_GUARDED",
    "EmbeddedModel",
    "Engine",
    "EngineChoice",
    "GenerationParams",
    "GenerationParamsError",
    "GenerationResult",
    "LoadedModel",
    "ModelList",
    "ModelRef",
    "ModelSource",
    "cache_root",
    "check_prompts",
    "choose_engine",
    "clear_cache",
    "engine_names",
    "engine_params",
    "eos_ids",
    "generate",
    "list_models",
    "load",
    "register_engine",
    "register_source",
    "render_prompt",
    "resolve",
    "resolved_engine",
    "sources",
    "trace_generations",
    "unload",
    "weights_hash",
    "without_hf_bars",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "EmbeddedModel": "_sources",
        "QUALITY_GUARDED": "_engines",
        "Engine": "_engines",
        "EngineChoice": "_engines",
        "GenerationParams": "_generate",
        "GenerationParamsError": "_generate",
        "GenerationResult": "_generate",
        "LoadedModel": "_load",
        "ModelList": "_load",
        "ModelRef": "_sources",
        "ModelSource": "_sources",
        "cache_root": "_sources",
        "check_prompts": "_generate",
        "choose_engine": "_engines",
        "clear_cache": "_load",
        "engine_names": "_engines",
        "engine_params": "_engines",
        "eos_ids": "_generate",
        "generate": "_generate",
        "list_models": "_load",
        "load": "_load",
        "register_engine": "_engines",
        "register_source": "_sources",
        "render_prompt": "_generate",
        "resolve": "_sources",
        "resolved_engine": "_engines",
        "sources": "_sources",
        "trace_generations": "_generate",
        "unload": "_load",
        "weights_hash": "_sources",
        "without_hf_bars": "_load",
    },
)
