"""The package root: ``%load_ext llmops_magics`` registers the magics and imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

from llmops_magics.magics import COMMANDS

SUBCOMMANDS = ["workspace", "runs", "models", "data", "generate"]


def test_load_ext_registers_line_and_cell_magic(ip):
    magics = ip.magics_manager.magics
    assert "llmops" in magics["line"]
    assert "llmops" in magics["cell"]
    assert all(name in COMMANDS for name in SUBCOMMANDS)


def test_load_ext_imports_no_heavy_library():
    code = (
        "import sys, json\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'llmops_magics')\n"
        "ip.run_line_magic('llmops', '')\n"
        "heavy = ['torch', 'transformers', 'peft', 'mlflow', 'optuna', 'papermill', 'pandas']\n"
        "print(json.dumps({'loaded': [m for m in heavy if m in sys.modules],"
        " 'magic': 'llmops' in ip.magics_manager.magics['line']}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"loaded": [], "magic": True}
