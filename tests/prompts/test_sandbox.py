"""The template sandbox: templates see data only, renders are bounded, and a stored version
(perhaps written by someone else, from another process) never reads the notebook."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from llmops_magics import prompts
from llmops_magics.prompts import _sandbox
from llmops_magics.prompts._template import Template

# --- data only -----------------------------------------------------------------------------


class _Cleaner:
    def __init__(self, folder):
        self.folder = folder

    def wipe(self):
        import shutil

        shutil.rmtree(self.folder)
        return "wiped"


@pytest.fixture
def hostile_ns(ip, tmp_path):
    """A notebook namespace holding code, the way a real one does."""
    import os as os_module

    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "file.txt").write_text("precious")
    ip.run_cell("import pandas as pd")
    ip.user_ns.update(
        os=os_module,
        df=pd.DataFrame({"a": [1]}),
        cleaner=_Cleaner(tmp_path / "keep"),
        target=str(tmp_path / "f"),
        csv_path=str(tmp_path / "leak.csv"),
    )
    return tmp_path


PAYLOADS = [
    ("{{ get_ipython().system('id > ' ~ target) }}", "'get_ipython'"),
    ("{{ pd.io.common.os.system('id > ' ~ target) }}", "'pd' is a module"),
    ("{{ os.environ }}", "'os' is a module"),
    ("{{ df.to_csv(csv_path) }}", "'df' is a DataFrame"),
    ("{{ cleaner.wipe() }}", "'cleaner' is a _Cleaner"),
]


@pytest.mark.parametrize(("template", "refused"), PAYLOADS)
def test_notebook_objects_are_refused_by_name(ip, hostile_ns, name, tiny_model, template, refused):
    with pytest.raises(prompts.TemplateError, match=f"{refused}.*templates see data only"):
        ip.run_cell_magic("llmops", f"prompt {name} --model {tiny_model} --no-track", template)
    assert not (hostile_ns / "f").exists() and not (hostile_ns / "leak.csv").exists()
    assert (hostile_ns / "keep" / "file.txt").read_text() == "precious"


def test_data_is_copied_in_and_renders(ip, name, tiny_model):
    ip.user_ns.update(
        n=np.int64(3),
        when=pd.Timestamp("2026-01-02"),
        tags=("a", "b"),
        meta={"k": [1.5, None, True]},
        missing=pd.NA,
    )
    out = ip.run_cell_magic(
        "llmops",
        f"prompt {name} --model {tiny_model} --no-track --max-new-tokens 1",
        "{{ n + 1 }} {{ when.year }} {{ tags|join('-') }} {{ meta.k }} {{ missing }}",
    )
    assert out.records[0]["prompt"] == "4 2026 a-b [1.5, None, True] None"


def test_as_data_converts_and_refuses():
    assert _sandbox.as_data(np.float32(0.5), "x") == 0.5
    assert type(_sandbox.as_data(np.bool_(True), "x")) is bool
    assert _sandbox.as_data(pd.Timestamp("2026-01-02 03:04"), "x") == dt.datetime(2026, 1, 2, 3, 4)
    assert _sandbox.as_data({"a": (1, "b")}, "x") == {"a": [1, "b"]}

    class Sneaky(str):
        def evil(self):
            return "ran"

    assert type(_sandbox.as_data(Sneaky("hi"), "x")) is str
    for value in (len, os, print, object(), np.zeros(2), {"a": open}, lambda: 1):
        with pytest.raises(prompts.TemplateError, match="templates see data only"):
            _sandbox.as_data(value, "The notebook variable 'v'")


def test_a_data_column_holding_objects_is_refused(name, tiny_model):
    frame = pd.DataFrame({"q": [os]})
    with pytest.raises(prompts.TemplateError, match="data column 'q' is a module"):
        prompts.run(name, "{{ q }}", frame, models=[str(tiny_model)], track=False)


# --- bounded rendering ---------------------------------------------------------------------


@pytest.fixture
def short_deadline(monkeypatch):
    monkeypatch.setattr(_sandbox, "RENDER_SECONDS", 0.3)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}",
            "longer",
        ),
        (
            "{% for i in range(10**5) %}{% for j in range(10**5) %}{{ j }}{% endfor %}{% endfor %}",
            "longer than|more than",
        ),
        (
            "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
            "{{ f(60) }}",
            "longer",
        ),
        ("{{ 'a' * 10**10 }}", "more than 2,000,000 characters"),
        ("{{ [1] * 10**10 }}", "more than 2,000,000 characters"),
        ("{{ 'a'.center(10**10) }}", "numbers above"),
        ("{{ 'a'|center(10**10) }}", "numbers above"),
        ("{{ '%10000000000d' % 1 }}", "huge field width"),
        ("{{ '{:>10000000000}'.format(1) }}", "huge field width"),
        ("{{ 10 ** 100000 }}", "bits"),
        (
            "{% set s %}{% for i in range(99999) %}{{ x }}{% endfor %}{% endset %}{{ s }}",
            "longer than|more than",
        ),
        ("{{ (['a' * 1000000] * 1000)|join }}", "more than 2,000,000 characters"),
        ("{{ ''.join(['a' * 1000000] * 1000) }}", "more than 2,000,000 characters"),
        ("{{ lipsum(n=1000000) }}", "lipsum"),
    ],
)
def test_renders_are_bounded_in_time_and_size(short_deadline, template, message):
    with pytest.raises(prompts.TemplateError, match=message):
        Template(template, "p").render({"x": "y" * 100})


def test_ordinary_templates_still_render():
    text = "{% for x in xs %}{{ loop.index }}:{{ x|upper }} {% endfor %}{{ 'ab' * 2 }} {{ 2 ** 8 }}"
    assert Template(text).render({"xs": ["a", "b"]}) == "1:A 2:B abab 256"


# --- stored versions: data columns and explicit variables only ------------------------------

_OTHER_PROCESS = """
import sys
from llmops_magics import prompts, workspace
workspace.use(sys.argv[1])
prompts.register(sys.argv[2], "{{ get_ipython().system('touch ' ~ target) }}{{ question }}")
"""


def test_a_stored_version_from_another_process_never_reads_the_notebook(
    ip, workspace, name, tiny_model, tmp_path
):
    env = {k: v for k, v in os.environ.items() if k != "LLMOPS_DEBUG"}
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_OTHER_PROCESS), str(workspace), name],
        check=True,
        env=env,
    )
    ip.user_ns.update(target=str(tmp_path / "pwned"), df=pd.DataFrame({"question": ["q"]}))
    with pytest.raises(prompts.TemplateError, match="stored template uses .*get_ipython"):
        ip.run_line_magic("llmops", f"prompt {name} --model {tiny_model} --data df --no-track")
    with pytest.raises(prompts.TemplateError, match="stored template uses .*get_ipython"):
        ip.run_line_magic("llmops", f"chain {name} --model {tiny_model} --data df --no-track")
    # passed explicitly, it is still data only: refused by name, nothing runs
    with pytest.raises(prompts.TemplateError, match="'get_ipython' is a method"):
        ip.run_line_magic(
            "llmops",
            f"prompt {name} --model {tiny_model} --data df --no-track --var get_ipython "
            "--var target",
        )
    assert not (tmp_path / "pwned").exists()


def test_a_stored_version_reads_explicit_variables(ip, name, tiny_model):
    prompts.register(name, "{{ tone }}: {{ question }}")
    ip.user_ns.update(tone="Briefly", df=pd.DataFrame({"question": ["q"]}))
    out = ip.run_line_magic(
        "llmops",
        f"prompt {name} --model {tiny_model} --data df --no-track --max-new-tokens 1 --var tone",
    )
    assert out.records[0]["prompt"] == "Briefly: q"
    out = prompts.run(
        name,
        None,
        pd.DataFrame({"question": ["q"]}),
        models=[str(tiny_model)],
        variables={"tone": "Kindly"},
        max_new_tokens=1,
        track=False,
    )
    assert out.records[0]["prompt"] == "Kindly: q"


def test_a_template_that_reads_code_is_not_stored(name, tiny_model):
    with pytest.raises(prompts.TemplateError, match="'os' is a module"):
        prompts.run(name, "{{ os.environ }}", namespace={"os": os}, models=[str(tiny_model)])
    with pytest.raises(prompts.PromptNotFoundError):
        prompts.get_prompt(name)
