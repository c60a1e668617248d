"""Every example in README.md and docs/ runs (python and ipython blocks in one shell per page;
bash blocks that call the `llmops` script in a subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)

pytestmark = pytest.mark.slow  # the examples use the real embedded model


def blocks(page: Path, *languages: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang in languages]


def test_pages_have_examples():
    assert blocks(ROOT / "README.md", "ipython", "python")
    assert len(blocks(ROOT / "docs" / "guide.md", "ipython", "python")) >= 8


def _pages(kind: str) -> list[object]:
    # each page its own xdist group: the pages run in parallel processes (see conftest.py)
    return [
        pytest.param(page, id=page.name, marks=pytest.mark.xdist_group(f"docs-{kind}-{page.name}"))
        for page in PAGES
    ]


@pytest.mark.parametrize("page", _pages("notebook"))
def test_notebook_examples_run(ip, page, capsys):
    for body in blocks(page, "ipython", "python"):
        result = ip.run_cell(body)
        if not result.success:
            raise AssertionError(f"example failed in {page.name}:\n{body}") from (
                result.error_in_exec or result.error_before_exec
            )
    if page.name == "guide.md":
        assert "never downloads" in capsys.readouterr().out
        assert len(ip.user_ns["replies"].texts) == 2


@pytest.mark.parametrize("page", _pages("shell"))
def test_shell_examples_run(page, tmp_path):
    env = {**os.environ, "LLMOPS_HOME": str(tmp_path / "ws")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for body in blocks(page, "bash"):
        for line in body.splitlines():
            command = line.split("#")[0].strip()
            if not command.startswith(("llmops ", "printf ")):
                continue  # set-up commands (make ...) are what CI itself runs
            proc = subprocess.run(
                command, shell=True, env=env, capture_output=True, text=True, timeout=300
            )
            assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
            assert proc.stdout.strip(), command
