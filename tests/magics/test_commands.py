"""The subcommands of magics/_commands.py: workspace, runs, models, data and generate."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError

from llmops_magics import workspace as ws
from llmops_magics.errors import DataError, ModelNotFoundError


def test_models_magic(ip):
    listing = ip.run_line_magic("llmops", "models -o m")
    assert ip.user_ns["m"] is listing
    assert "smollm2" in listing.to_frame()["name"].tolist()
    assert "<table" in listing._repr_html_()


def test_generate_magic_line_cell_and_dataframe(ip, tiny_model):
    one = ip.run_line_magic("llmops", f'generate --model {tiny_model} "What is AI?" --no-track')
    assert one.prompts == ["What is AI?"] and one.run_id is None
    cell = ip.run_cell_magic(
        "llmops",
        f"generate --model {tiny_model} --max-new-tokens 3 -o out",
        "What is AI?\n\n  How are you?  \n",
    )
    assert ip.user_ns["out"] is cell
    assert cell.prompts == ["What is AI?", "How are you?"]
    assert cell.run_id is not None
    ip.user_ns["qa"] = pd.DataFrame({"question": ["a b", "c d", "e f"]})
    frame_result = ip.run_line_magic(
        "llmops", f"generate --model {tiny_model} --data qa --column question --no-track"
    )
    assert frame_result.prompts == ["a b", "c d", "e f"]


def test_generate_magic_bad_data(ip, tiny_model):
    ip.user_ns["qa"] = pd.DataFrame({"question": ["a", None]})
    ip.user_ns["empty"] = pd.DataFrame({"question": []})
    ip.user_ns["numbers"] = pd.DataFrame({"question": [1, 2]})
    ip.user_ns["not_a_frame"] = [1, 2]
    base = f"generate --model {tiny_model} --no-track --data"
    with pytest.raises(DataError, match="has no column 'prompt'.*question"):
        ip.run_line_magic("llmops", f"{base} qa --column prompt")
    with pytest.raises(DataError, match="1 missing value"):
        ip.run_line_magic("llmops", f"{base} qa --column question")
    with pytest.raises(DataError, match="is empty"):
        ip.run_line_magic("llmops", f"{base} empty --column question")
    with pytest.raises(DataError, match="non-text values"):
        ip.run_line_magic("llmops", f"{base} numbers --column question")
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        ip.run_line_magic("llmops", f"{base} not_a_frame --column question")
    with pytest.raises(UsageError, match="no variable named 'missing'"):
        ip.run_line_magic("llmops", f"{base} missing --column question")


@pytest.mark.parametrize(
    "options", ["--max-new-tokens 0", "--batch-size 0", "--temperature -1", "--top-p 2"]
)
def test_magic_rejects_out_of_range_options(ip, tiny_model, options):
    # a flag out of range is bad usage: one line that names the flag and the allowed range
    flag = options.split()[0]
    with pytest.raises(UsageError, match=f"^%llmops generate: {flag}: .* is out of range"):
        ip.run_line_magic("llmops", f'generate --model {tiny_model} "hi" --no-track {options}')


def test_unknown_model_in_magic_is_a_domain_error(ip):

    with pytest.raises(ModelNotFoundError, match="never downloads"):
        ip.run_line_magic("llmops", 'generate --model org/some-model "hi"')


def test_workspace_magic_shows_and_sets(ip, tmp_path):
    shown = ip.run_line_magic("llmops", "workspace")
    assert shown.root == str(ws.current().root)
    target = tmp_path / "elsewhere"
    info = ip.run_line_magic("llmops", f"workspace {target}")
    assert info.root == str(target.resolve())
    assert ws.current().root == target.resolve()
    assert "field" in info.to_frame().columns
    assert str(target.resolve()) in repr(info)
    ip.run_line_magic("llmops", "workspace --reset")
    assert ws.current().root != target.resolve()


def test_runs_magic_returns_a_dataframe(ip):
    import pandas as pd

    frame = ip.run_line_magic("llmops", "runs --limit 5")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:4]) == ["run_id", "run_name", "experiment", "stage"]
    assert len(frame) <= 5
