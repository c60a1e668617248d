"""The example notebooks run headless under papermill (the tiny model keeps this fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **parameters: object) -> dict:
    import papermill

    home = tmp_path / "ws"
    monkeypatch.setenv("LLMOPS_HOME", str(home))  # the kernel inherits it
    out = tmp_path / "quickstart.out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "quickstart.ipynb"),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    return json.loads(out.read_text())


def _text(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_quickstart_declares_its_parameters():
    import papermill

    params = papermill.inspect_notebook(str(NOTEBOOKS / "quickstart.ipynb"))
    assert {name: p["default"] for name, p in params.items()} == {
        "model": '"smollm2"',
        "n_questions": "3",
        "max_new_tokens": "48",
        "seed": "0",
    }


def test_quickstart_runs_with_the_tiny_model(tmp_path, monkeypatch, tiny_model):
    nb = _run(tmp_path, monkeypatch, model=str(tiny_model), max_new_tokens=4, n_questions=2)
    text = _text(nb)
    assert "run " in text and f"sqlite:///{tmp_path / 'ws'}/mlflow.db" in text
    assert (tmp_path / "ws" / "mlflow.db").is_file()
    from llmops_magics import workspace as ws

    ws.use(tmp_path / "ws")
    try:
        runs = ws.runs()
    finally:
        ws.use(None)
    assert len(runs) == 1 and runs.iloc[0]["params.n_prompts"] == "2"


@pytest.mark.slow
def test_quickstart_runs_with_the_embedded_model(tmp_path, monkeypatch):
    nb = _run(tmp_path, monkeypatch, max_new_tokens=24)
    text = _text(nb)
    assert "smollm2: 3 outputs" in text
