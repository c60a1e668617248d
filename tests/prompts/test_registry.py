"""Prompt versions in the workspace's MLflow prompt registry."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from llmops_magics import prompts, tracking


def test_same_text_never_makes_a_new_version(name):
    v1 = prompts.register(name, "Answer: {{ question }}")
    again = prompts.register(name, "\nAnswer: {{ question }}\n\n")  # same text, cell whitespace
    v2 = prompts.register(name, "Answer briefly: {{ question }}")
    assert (v1.version, v1.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    assert (v2.version, v2.created) == (2, True)
    listed = prompts.list_prompts(name).to_frame()
    assert listed["version"].tolist() == [1, 2]
    assert listed["uri"].tolist() == [f"prompts:/{name}/1", f"prompts:/{name}/2"]
    every = prompts.list_prompts().to_frame().set_index("name")
    assert every.loc[name, "version"] == 2 and every.loc[name, "versions"] == 2
    assert prompts.get_prompt(name, 1).template == "Answer: {{ question }}"


def test_diff_between_versions(name):
    prompts.register(name, "Answer: {{ question }}\nBe nice.")
    prompts.register(name, "Answer briefly: {{ question }}\nBe nice.")
    d = prompts.diff(name, 1, 2)
    assert d.changed
    assert "-Answer: {{ question }}" in d.lines and "+Answer briefly: {{ question }}" in d.lines
    kinds = d.to_frame().set_index("line")["kind"]
    assert kinds["-Answer: {{ question }}"] == "removed"
    assert kinds[" Be nice."] == "context"
    assert "#ffeef0" in d._repr_html_()
    assert not prompts.diff(name, 2, "latest").changed


def test_missing_version_and_prompt(name, tiny_model):
    prompts.register(name, "x {{ y }}")
    with pytest.raises(prompts.PromptNotFoundError, match="version 4"):
        prompts.diff(name, 1, 4)
    with pytest.raises(prompts.PromptNotFoundError, match="no prompt 'nope_"):
        prompts.run("nope_" + name, None, models=[str(tiny_model)])


def test_a_template_is_stored_with_the_stage_tag_under_the_registry(name):
    pv = prompts.register(name, "T {{ x }}", message="first")
    stored = tracking.tracker().prompts.versions(name)
    assert [int(v.version) for v in stored] == [pv.version]
    assert stored[0].tags.get(tracking.STAGE) == "prompt"
    assert stored[0].template == "T {{ x }}"


def test_broken_or_empty_text_is_never_stored(name):
    with pytest.raises(prompts.TemplateError, match="empty"):
        prompts.register(name, "  \n ")
    with pytest.raises(prompts.TemplateError, match="not a valid prompt name"):
        prompts.register("bad name", "x")
    assert tracking.tracker().prompts.versions(name) == []


def test_two_processes_saving_the_same_text_at_once_make_one_version(name, workspace, tmp_path):
    go = tmp_path / "go"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from llmops_magics import prompts, tracking\n"
        "tracking.tracker()\n"  # the store is open: only the save itself is left
        "print('ready', flush=True)\n"
        "while not Path(sys.argv[2]).exists():\n"
        "    time.sleep(0.005)\n"
        "print(prompts.register(sys.argv[1], 'A {{ q }}').created, flush=True)\n"
    )
    env = {**os.environ, "LLMOPS_HOME": str(workspace)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, name, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()  # both save now
    created = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        created.append(out.strip())
    assert sorted(created) == ["False", "True"]  # one made the version, the other found it
    assert prompts.list_prompts(name).to_frame()["version"].tolist() == [1]
