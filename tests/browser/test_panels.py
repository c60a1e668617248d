"""Every panel in a real JupyterLab 4 and Notebook 7 (the test runs in both), in one notebook per
front end (one kernel start, one page load, one save-and-reopen, one export), on the tiny model,
driven by real clicks; the asserts check what the kernel and the store did, read back here, in
another process than the kernel:

- the EDA panel's tabs (and its text progress bar leaves no output behind);
- the prompt grid's output/prompt toggle;
- the feedback monitor's refresh (the store changed from this process);
- the rating panel in stars, thumbs, pairwise with ``--shuffle`` and label mode: each click stored;
- the lineage panel (a clicked node shows its id, as the store holds it) and the governance review
  (sign-offs stored, the author's approval refused);
- the sweep board's refresh (trials added from this process);
- the training monitor's stop (the kernel's interrupt button): the run is checkpointed;
- saved, kernel shut down, reopened: every panel as last seen, no widget error; the HTML export
  (``jupyter nbconvert``, or the server's Export as HTML) opened offline shows them too;
- after a kernel restart the rating panel resumes where the rater left off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SETUP = """\
import pandas as pd
from llmops_magics import evaluation, governance, progress
reviews = pd.DataFrame({{"text": ["a fine film", "a fine film", "dull and long", "great fun"] * 3}})
qa = pd.DataFrame({{"q": ["hi", "name?", "2+2?", "bye"] * 4,
                   "a": ["hello", "bot", "4", "ciao"] * 4}})
qs = pd.DataFrame({{"question": ["hi there", "what is 2+2"]}})
src = pd.DataFrame({{"prompt": ["p1", "p2", "p3"], "output": ["o1", "o2", "o3"], "model": "m1"}})
pairs = pd.DataFrame({{
    "prompt": ["q1", "q2", "q3", "q4"],
    "output_base": ["base1", "base2", "base3", "base4"],
    "output_tuned": ["tuned1", "tuned2", "tuned3", "tuned4"],
}})"""

GOVERNANCE = """\
v = governance.register({tiny!r}, name="rv", author="alice")
governance.set_policy("rv", "aliases:\\n  champion:\\n    gates:\\n      - signoffs: {{min: 1}}\\n",
                      user="alice")
frame = pd.DataFrame({{"prompt": ["a?", "b?"], "reference": ["a", "b"]}})
ev = evaluation.evaluate(frame, model=v.spec, metrics="chrf", bootstrap=0, max_new_tokens=2,
                         progress=False)
rid = ev.run_ids[v.spec]"""

#: the notebook's cells after the set-up, by name (the index of a cell is its place here + 1)
CELLS = {
    "eda": "%llmops eda reviews --text text --no-log --panel",
    "grid": "%%llmops prompt greet --data qs --model {tiny} --max-new-tokens 4 -o grid_run\n"
    "Q: {{{{ question }}}}\nA:",
    "grid panel": "progress.panel_for(grid_run)",
    "rated": "%llmops rate qs --output-col question --rater mon -o mon\nmon.rate(2)",
    "monitor": "%llmops monitor",
    "stars": "%llmops rate src --rater stars",
    "thumbs": "%llmops rate src --mode thumbs --rater thumbs",
    "pairs": "%llmops rate pairs --mode pairwise --shuffle --rater pairs",
    "labels": "%llmops rate src --mode label --labels good,bad,unsure --rater labels",
    "governance": GOVERNANCE,
    "lineage": "%llmops lineage $rid",
    "review": "%llmops review rv --version 1",
    "sweep": "from llmops_magics import sweeps\nfrom llmops_magics.testing import objectives\n"
    'board = sweeps.run("x=uniform(-5,5)", objective=objectives.quadratic, trials=3, '
    'study="board")',
    # last: a cell that runs keeps the kernel from answering the other panels' clicks
    "training": "ft = %llmops finetune --model {tiny} --data qa --prompt-col q --response-col a "
    "--max-steps 20000 --lr 5e-3 --lora-r 4 --max-length 32",
    "status": 'print("FT-STATUS", ft.status, ft.global_step, ft.checkpoint_dir)',
    "ready": 'print("READY")',
}
CELL = {name: i + 1 for i, name in enumerate(CELLS)}


def _panel(nb, name: str) -> Any:
    """The panel that the cell called ``name`` shows (its outermost box)."""
    return nb.cell_output(CELL[name]).locator(".widget-vbox").first


def test_the_server_offers_the_kernel_set_up_registered(jupyter):
    specs = jupyter.api("/api/kernelspecs")
    assert specs["default"] == "python3"
    python3 = specs["kernelspecs"]["python3"]
    assert python3["spec"]["display_name"] == "Python 3 (llmops-magics)"
    assert python3["resources"]["logo-64x64"].startswith("/kernelspecs/python3/")


def test_every_panel_reacts_to_real_clicks(notebook, ws, tiny_model, exported):
    tiny = str(tiny_model)
    cells = [SETUP.format(), *(c.format(tiny=tiny) for c in CELLS.values())]
    nb = notebook("panels.ipynb", cells)
    nb.command("notebook:run-all-cells")

    last_seen = [_training(nb)]  # first: the kernel is busy until the run is stopped
    nb.output("READY").wait_for()
    last_seen += [_eda(nb), _grid(nb), _monitor(nb)]
    last_seen += _rating(nb)
    last_seen += [_lineage(nb), _review(nb), _sweep_board(nb)]

    # saved, kernel shut down, reopened: every panel as last seen, no widget error
    nb.save()
    nb.shut_down_kernel()
    nb.page.reload()
    nb.page.locator(".widget-vbox", has_text="5/5 trials").first.wait_for(timeout=240_000)
    nb.wait_idle()
    nb.shot(nb.page.locator(".jp-Notebook, .jp-NotebookPanel").first, "reopened")
    body = nb.page.locator(".jp-Notebook").first.inner_text()
    assert "Error displaying widget" not in body
    for text in last_seen:
        assert text in body, text

    # its HTML export (jupyter nbconvert, or the server's Export as HTML), opened offline
    from playwright.sync_api import expect

    html = exported(nb)
    for text in last_seen:
        expect(html.get_by_text(text).first).to_be_visible()
    expect(html.locator(".llmops-snapshot img").first).to_be_visible()  # figures inlined
    assert "Error displaying widget" not in html.locator("body").inner_text()
    assert not [url for url in html.fetched if "unpkg" in url or "widget" in url]

    _resume_after_restart(nb)


def _training(nb) -> str:
    """The training monitor, stopped by the kernel's stop (interrupt) button at a step's end:
    the run is checkpointed at its last completed step."""
    from playwright.sync_api import expect

    training = _panel(nb, "training")
    # every cell above it runs first: on a loaded machine that takes minutes
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
    return "interrupted"


def _eda(nb) -> str:
    """The EDA tabs; its text progress bar has left nothing in the cell but the panel."""
    from playwright.sync_api import expect

    eda = _panel(nb, "eda")
    expect(eda).to_contain_text("content hash")
    eda.get_by_role("tab", name="Duplicates").click()
    expect(eda.get_by_role("tab", name="Duplicates")).to_have_attribute("aria-selected", "true")
    expect(eda).to_contain_text("exact_duplicate_rows")
    outputs = nb.cell_output(CELL["eda"])
    assert outputs.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    expect(outputs.locator(".jp-OutputArea-child")).to_have_count(1)  # the panel, only
    nb.shot(eda, "eda")
    return "EDA of 'text'"


def _grid(nb) -> str:
    """The prompt grid's toggle shows the prompts."""
    from playwright.sync_api import expect

    grid = _panel(nb, "grid panel")
    expect(grid).not_to_contain_text("Q: hi there")
    grid.get_by_role("button", name="prompt", exact=True).click()
    expect(grid).to_contain_text("Q: hi there")
    nb.shot(grid, "prompt-grid")
    return "Q: hi there"


def _monitor(nb) -> str:
    """The monitor's refresh shows a rating stored meanwhile by another process (this one)."""
    import pandas as pd
    from playwright.sync_api import expect

    from llmops_magics import feedback

    monitor = _panel(nb, "monitor")
    expect(monitor).to_contain_text("1 ratings")
    frame = pd.DataFrame({"prompt": ["from the test"], "output": ["an answer"], "model": "m2"})
    feedback.rate(frame, rater="browser-test").rate(5)
    monitor.get_by_role("button", name="refresh").click()
    expect(monitor).to_contain_text("2 ratings")
    assert len(feedback.load_feedback()) == 2
    nb.shot(monitor, "monitor")
    return "2 ratings"


def _stored(rater: str) -> Any:
    from llmops_magics import feedback

    frame = feedback.load_feedback()
    return frame[frame["rater"] == rater].sort_values("prompt")


def _rating(nb) -> list[str]:
    """Each rating mode's clicks, each stored; what each panel shows last."""
    from playwright.sync_api import expect

    stars = _panel(nb, "stars")
    stars.get_by_role("button", name="★★★★", exact=True).click()
    expect(stars).to_contain_text("1 of 3 rated")
    stars.get_by_role("textbox").fill("too short")
    stars.get_by_role("button", name="★★", exact=True).click()
    expect(stars).to_contain_text("2 of 3 rated")
    got = _stored("stars")
    assert list(got["value"].astype(int)) == [4, 2]
    assert list(got["comment"]) == ["", "too short"]
    nb.shot(stars, "rating-stars")

    thumbs = _panel(nb, "thumbs")
    thumbs.get_by_role("button", name="👎 down").click()
    expect(thumbs).to_contain_text("1 of 3 rated")
    thumbs.get_by_role("button", name="👍 up").click()
    expect(thumbs).to_contain_text("2 of 3 rated")
    assert list(_stored("thumbs")["value"]) == ["down", "up"]
    nb.shot(thumbs, "rating-thumbs")

    duel = _panel(nb, "pairs")
    expected = {}
    for n in range(1, 5):  # what was shown as A decides what "A is better" stores
        text = f"\n{duel.inner_text()}\n"
        prompt = next(p for p in ("q1", "q2", "q3", "q4") if f"\n{p}\n" in text)
        shown_a = text.split("\nA\n", 1)[1].split("\n", 1)[0].strip()
        expected[prompt] = "a" if shown_a.startswith("base") else "b"
        duel.get_by_role("button", name="A is better").click()
        expect(duel).to_contain_text(f"{n} of 4 rated")
    got = _stored("pairs")
    assert dict(zip(got["prompt"], got["value"], strict=True)) == expected
    assert set(expected.values()) == {"a", "b"}  # the shuffle swapped some pairs, not all
    nb.shot(duel, "rating-pairwise")

    labels = _panel(nb, "labels")
    labels.get_by_role("button", name="unsure", exact=True).click()
    expect(labels).to_contain_text("1 of 3 rated")
    assert list(_stored("labels")["value"]) == ["unsure"]
    nb.shot(labels, "rating-label")
    return ["2 of 3 rated", "4 of 4 rated", "all rated, thank you", "1 of 3 rated"]


def _lineage(nb) -> str:
    """Click two nodes of the eval run's lineage; each shows its id, as the store holds it."""
    from playwright.sync_api import expect

    from llmops_magics import tracking

    (run,) = tracking.tracker().find_runs(stage="eval")
    data_id = f"data:{run.data.tags['llmops.data_hash']}"
    generate_id = run.data.tags["llmops.generate_run_id"]
    assert tracking.tracker().get_run(generate_id).info.run_id == generate_id  # it is stored

    panel = _panel(nb, "lineage")
    expect(panel).to_contain_text(f"Lineage of {run.info.run_id}")
    details = panel.locator(":scope > .widget-html").last  # header, drawing, then the details
    expect(details).to_contain_text(run.info.run_id)  # the focus is open at first
    panel.get_by_role("button", name=f"data {data_id[5:17]}", exact=True).click()
    expect(details).to_contain_text(data_id)
    expect(details).to_contain_text(f"evaluated-on → {run.info.run_id}")
    panel.get_by_role("button", name="generate models:/rv/1", exact=True).click()
    expect(details).to_contain_text(generate_id)
    expect(details).to_contain_text(f"scored → {run.info.run_id}")
    expect(details).not_to_contain_text("evaluated-on")
    nb.shot(panel, "lineage")
    return f"scored → {run.info.run_id}"


def _review(nb) -> str:
    """The author's approval is refused in the panel; bob's request for changes is stored."""
    from playwright.sync_api import expect

    from llmops_magics import governance

    panel = _panel(nb, "review")
    expect(panel).to_contain_text("review of rv/1 for @champion")
    expect(panel).to_contain_text("Sign-offs: none yet.")
    user = panel.get_by_placeholder("your name", exact=False)
    user.fill("alice")
    panel.get_by_role("button", name="approve", exact=True).click()
    expect(panel).to_contain_text("cannot approve")
    user.fill("bob")
    panel.get_by_placeholder("comment", exact=False).fill("add a bias probe")
    panel.get_by_role("button", name="request changes", exact=True).click()
    expect(panel).to_contain_text("bob: request changes recorded")
    expect(panel).to_contain_text("1 sign-off(s)")
    (signoff,) = governance.signoffs("rv", 1)  # alice's click stored nothing
    assert (signoff.user, signoff.decision, signoff.comment) == (
        "bob",
        "request_changes",
        "add a bias probe",
    )
    expect(panel).to_contain_text(f"(evidence {signoff.evidence})")  # what the reviewer saw
    nb.shot(panel, "review")
    return "bob: request changes recorded"


def _sweep_board(nb) -> str:
    """The board's refresh shows the trials that another process (this one) added."""
    from playwright.sync_api import expect

    from llmops_magics import sweeps
    from llmops_magics.testing import objectives

    board = _panel(nb, "sweep")
    expect(board).to_contain_text("3/3 trials")
    sweeps.run(objective=objectives.quadratic, trials=5, study="board", progress=False)
    board.get_by_role("button", name="Refresh").click()
    expect(board).to_contain_text("5/5 trials")
    nb.shot(board, "sweep-board")
    return "5/5 trials"


def _resume_after_restart(nb) -> None:
    """A kernel restart: the stars panel, made anew, resumes where its rater left off."""
    from playwright.sync_api import expect

    nb.restart_kernel()
    nb.run_cells([0, CELL["stars"]])
    stars = _panel(nb, "stars")
    expect(stars).to_contain_text("2 of 3 rated")
    expect(stars).to_contain_text("item 3 of 3")
    stars.get_by_role("button", name="★★★★★", exact=True).click()
    expect(stars).to_contain_text("3 of 3 rated")  # the click reached the new kernel
    assert list(_stored("stars")["value"].astype(int)) == [4, 2, 5]
