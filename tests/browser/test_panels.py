"""Every other panel in a real JupyterLab and Notebook 7 (the test runs in both), driven by real
clicks: the EDA tabs, the prompt grid's
toggle, the training monitor's stop (the kernel's interrupt button: the run is checkpointed), the
sweep board's and the monitor's refresh (the store changed from another process: this one)."""

from __future__ import annotations

from pathlib import Path

SETUP = """\
import pandas as pd
from llmops_magics import progress
TINY = {tiny!r}
reviews = pd.DataFrame({{"text": ["a fine film", "a fine film", "dull and long", "great fun"] * 3}})
qa = pd.DataFrame({{"q": ["hi", "name?", "2+2?", "bye"] * 4,
                   "a": ["hello", "bot", "4", "ciao"] * 4}})
qs = pd.DataFrame({{"question": ["hi there", "what is 2+2"]}})"""

CELLS = [
    "%llmops eda reviews --text text --no-log --panel",
    "%%llmops prompt greet --data qs --model {tiny} --max-new-tokens 4 -o grid_run\n"
    "Q: {{{{ question }}}}\nA:",
    "progress.panel_for(grid_run)",
    "%llmops rate qs --output-col question --rater mon -o mon\nmon.rate(2)",
    "%llmops monitor",
    "ft = %llmops finetune --model {tiny} --data qa --prompt-col q --response-col a "
    "--max-steps 20000 --lr 5e-3 --lora-r 4 --max-length 32",
    'print("FT-STATUS", ft.status, ft.global_step, ft.checkpoint_dir)',
    "from llmops_magics import sweeps\nfrom llmops_magics.testing import objectives\n"
    'board = sweeps.run("x=uniform(-5,5)", objective=objectives.quadratic, trials=3, '
    'study="board")',
    'print("READY")',
]


def test_panels_react_to_real_clicks(notebook, ws, tiny_model, exported):
    from playwright.sync_api import expect

    from llmops_magics import feedback, sweeps
    from llmops_magics.testing import objectives

    tiny = str(tiny_model)
    nb = notebook("panels.ipynb", [SETUP.format(tiny=tiny)] + [c.format(tiny=tiny) for c in CELLS])
    nb.command("notebook:run-all-cells")

    # the training monitor: stopped by the kernel's stop (interrupt) button at a step's end
    training = (
        nb.page.locator(".widget-vbox", has_text="step")
        .filter(has=nb.page.locator(".widget-image"))
        .first
    )
    # every cell above it runs first (a model loads, a prompt grid generates): on a loaded
    # machine that took more than two minutes
    expect(training).to_contain_text("loss", timeout=300_000)
    nb.page.locator('[data-command="notebook:interrupt-kernel"]').first.click()
    done = nb.output("FT-STATUS")
    expect(done).to_contain_text("FT-STATUS interrupted")
    step, checkpoint = done.inner_text().split()[2:4]
    assert int(step) > 0
    saved = {p.parent.name for p in Path(checkpoint).rglob("adapter_model.safetensors")}
    assert f"checkpoint-{step}" in saved  # the state of the last completed step
    expect(training).to_contain_text("interrupted")
    nb.shot(training, "training")
    nb.output("READY").wait_for()

    eda = nb.page.locator(".widget-vbox", has_text="EDA of 'text'").first
    expect(eda).to_contain_text("content hash")
    eda.get_by_role("tab", name="Duplicates").click()
    expect(eda.get_by_role("tab", name="Duplicates")).to_have_attribute("aria-selected", "true")
    expect(eda).to_contain_text("exact_duplicate_rows")
    nb.shot(eda, "eda")

    grid = (
        nb.page.locator(".widget-vbox", has_text="greet")
        .filter(has=nb.page.locator(".widget-toggle-buttons"))
        .first
    )
    expect(grid).not_to_contain_text("Q: hi there")
    grid.get_by_role("button", name="prompt", exact=True).click()
    expect(grid).to_contain_text("Q: hi there")
    nb.shot(grid, "prompt-grid")

    monitor = nb.page.locator(".widget-vbox", has_text="feedback monitor").first
    expect(monitor).to_contain_text("1 ratings")
    more = feedback.rate(pd_frame(), rater="browser-test")  # another process adds a rating
    more.rate(5)
    monitor.get_by_role("button", name="refresh").click()
    expect(monitor).to_contain_text("2 ratings")
    assert len(feedback.load_feedback()) == 2
    nb.shot(monitor, "monitor")

    board = (
        nb.page.locator(".widget-vbox", has_text="sweep")
        .filter(has=nb.page.get_by_role("button", name="Refresh"))
        .first
    )
    expect(board).to_contain_text("3/3 trials")
    sweeps.run(objective=objectives.quadratic, trials=5, study="board", progress=False)
    board.get_by_role("button", name="Refresh").click()
    expect(board).to_contain_text("5/5 trials")
    nb.shot(board, "sweep-board")

    # saved, kernel shut down, reopened: every panel as last seen, no widget error
    nb.save()
    nb.shut_down_kernel()
    nb.page.reload()
    nb.page.locator(".widget-vbox", has_text="5/5 trials").first.wait_for(timeout=240_000)
    body = nb.page.locator(".jp-Notebook").inner_text()
    assert "Error displaying widget" not in body
    last_seen = ("EDA of 'text'", "Q: hi there", "2 ratings", "interrupted", "5/5 trials")
    for text in last_seen:
        assert text in body, text

    # its HTML export (jupyter nbconvert, or the server's Export as HTML), opened offline
    html = exported(nb)
    for text in last_seen:
        expect(html.get_by_text(text).first).to_be_visible()
    expect(html.locator(".llmops-snapshot img").first).to_be_visible()  # figures inlined
    assert "Error displaying widget" not in html.locator("body").inner_text()
    assert not [url for url in html.fetched if "unpkg" in url or "widget" in url]


def pd_frame():
    import pandas as pd

    return pd.DataFrame({"prompt": ["from the test"], "output": ["an answer"], "model": "m2"})
