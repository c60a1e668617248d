"""Prompt iteration: versioned templates, a comparison grid over models, caching and chains.

>>> from llmops_magics import prompts
>>> out = prompts.run("qa", "Answer: {{ question }}", df, models=["smollm2"])  # doctest: +SKIP
>>> out.to_frame()  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from llmops_magics._lazy import lazy_exports

if TYPE_CHECKING:
    from llmops_magics.prompts._cache import GenerationCache
    from llmops_magics.prompts._chain import chain
    from llmops_magics.prompts._config import ChainConfig, PromptConfig, PromptConfigError
    from llmops_magics.prompts._errors import (
        PromptNotFoundError,
        TemplateError,
        UnknownVariableError,
    )
    from llmops_magics.prompts._registry import (
        PromptDiff,
        PromptList,
        PromptVersion,
        diff,
        get_prompt,
        list_prompts,
        register,
    )
    from llmops_magics.prompts._results import COLUMNS, ChainRun, PromptRun
    from llmops_magics.prompts._run import run
    from llmops_magics.prompts._template import Template

__all__ = [
    "COLUMNS",
    "ChainConfig",
    "ChainRun",
    "GenerationCache",
    "PromptConfig",
    "PromptConfigError",
    "PromptDiff",
    "PromptList",
    "PromptNotFoundError",
    "PromptRun",
    "PromptVersion",
    "Template",
    "TemplateError",
    "UnknownVariableError",
    "chain",
    "diff",
    "get_prompt",
    "list_prompts",
    "register",
    "run",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    globals(),
    {
        "COLUMNS": "_results",
        "ChainConfig": "_config",
        "ChainRun": "_results",
        "GenerationCache": "_cache",
        "PromptConfig": "_config",
        "PromptConfigError": "_config",
        "PromptDiff": "_registry",
        "PromptList": "_registry",
        "PromptNotFoundError": "_errors",
        "PromptRun": "_results",
        "PromptVersion": "_registry",
        "Template": "_template",
        "TemplateError": "_errors",
        "UnknownVariableError": "_errors",
        "chain": "_chain",
        "diff": "_registry",
        "get_prompt": "_registry",
        "list_prompts": "_registry",
        "register": "_registry",
        "run": "_run",
    },
)
