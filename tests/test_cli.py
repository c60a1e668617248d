"""The llmops console script: same subcommands, files instead of notebook variables."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pandas as pd
import pytest

from llmops_magics.cli import main


def test_console_script_is_declared():
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("llmops") == "llmops_magics.cli:main"


def test_help_lists_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in ("workspace", "runs", "models", "data", "generate"):
        assert f"llmops {name} " in out


def test_data_prints_a_table(capsys):
    assert main(["data", "chatterbot", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "What is AI?" in out and "question" in out


def test_generate_from_a_csv_file(tmp_path, tiny_model, capsys):
    path = tmp_path / "prompts.csv"
    pd.DataFrame({"q": ["What is AI?", "How are you?"]}).to_csv(path, index=False)
    code = main(
        [
            "generate",
            "--model",
            str(tiny_model),
            "--data",
            str(path),
            "--column",
            "q",
            "--max-new-tokens",
            "3",
            "--no-track",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "2 outputs" in out and "'How are you?'" in out


def test_bad_usage_exits_2_and_domain_errors_exit_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["nonsense"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["generate", "--data", str(tmp_path / "missing.csv"), "--column", "q"])
    assert info.value.code == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["generate", "--model", "org/remote-model", "hello"]) == 1
    assert "never downloads" in capsys.readouterr().err


def test_prompts_from_standard_input(tiny_model, tmp_path):
    env_home = tmp_path / "ws"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmops_magics.cli",
            "generate",
            "--model",
            str(tiny_model),
            "--max-new-tokens",
            "2",
            "--no-track",
        ],
        input="first prompt\nsecond prompt\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "LLMOPS_HOME": str(env_home)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 outputs" in proc.stdout and "'second prompt'" in proc.stdout


def test_unexpected_errors_are_one_line_and_llmops_debug_shows_the_traceback(
    tmp_path, capsys, monkeypatch
):
    bad = tmp_path / "rows.jsonl"
    bad.write_text("{not json\n")
    argv = ["generate", "--data", str(bad), "--column", "q", "--no-track"]
    monkeypatch.delenv("LLMOPS_DEBUG", raising=False)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "ValueError" in err and "LLMOPS_DEBUG=1 shows the traceback" in err
    monkeypatch.setenv("LLMOPS_DEBUG", "1")
    assert main(argv) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    assert main(["generate", "--model", "org/remote-model", "hello"]) == 1  # a domain error too
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "never downloads" in err
