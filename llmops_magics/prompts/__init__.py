"""Prompt iteration: versioned templates, a comparison grid over models, caching and chains.

>>> from llmops_magics import prompts
>>> out = prompts.run("qa", "Answer: {{ question }}", df, models=["smollm2"])  # doctest: +SKIP
>>> out.to_frame()  # doctest: +SKIP
"""

from llmops_magics.prompts._cache import GenerationCache
from llmops_magics.prompts._chain import chain
from llmops_magics.prompts._config import ChainConfig, PromptConfig, PromptConfigError
from llmops_magics.prompts._errors import PromptNotFoundError, TemplateError, UnknownVariableError
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
