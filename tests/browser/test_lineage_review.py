"""The lineage panel and the governance review panel in a real JupyterLab and Notebook 7 (the test
runs in both), in one notebook on the tiny model: a click on a lineage node shows that node's id,
which agrees with the store; the review's buttons store sign-offs that another process reads back
through the governance API; the notebook saved and reopened without its kernel, and its HTML
export opened offline, show both panels as last seen."""

from __future__ import annotations

import json
import subprocess
import sys

SETUP = """\
import pandas as pd
from llmops_magics import evaluation, governance
v = governance.register({tiny!r}, name="rv", author="alice")
governance.set_policy("rv", "aliases:\\n  champion:\\n    gates:\\n      - signoffs: {{min: 1}}\\n",
                      user="alice")
frame = pd.DataFrame({{"prompt": ["a?", "b?"], "reference": ["a", "b"]}})
ev = evaluation.evaluate(frame, model=v.spec, metrics="chrf", bootstrap=0, max_new_tokens=2,
                         progress=False)
rid = ev.run_ids[v.spec]"""

#: the sign-offs of rv/1 as the governance API reads them in a fresh process
READ_BACK = (
    "import json, sys\n"
    "from llmops_magics import governance, workspace\n"
    "workspace.use(sys.argv[1])\n"
    "print(json.dumps([[s.user, s.decision, s.comment, s.evidence]"
    " for s in governance.signoffs('rv', 1)]))"
)


def _signoffs(ws) -> list[list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(ws)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def _lineage(nb, expect) -> str:
    """Click two nodes of the eval run's lineage; each shows its id, as the store holds it."""
    from llmops_magics import tracking

    (run,) = tracking.tracker().find_runs(stage="eval")
    data_id = f"data:{run.data.tags['llmops.data_hash']}"
    generate_id = run.data.tags["llmops.generate_run_id"]
    assert tracking.tracker().get_run(generate_id).info.run_id == generate_id  # it is stored

    panel = nb.page.locator(".widget-vbox", has_text=f"Lineage of {run.info.run_id}").first
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


def _review(nb, ws, expect) -> str:
    """The author's approval is refused in the panel; bob's request for changes is stored."""
    panel = nb.page.locator(".widget-vbox", has_text="review of rv/1 for @champion").first
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
    ((who, decision, comment, evidence),) = _signoffs(ws)  # alice's click stored nothing
    assert (who, decision, comment) == ("bob", "request_changes", "add a bias probe")
    expect(panel).to_contain_text(f"(evidence {evidence})")  # what the reviewer saw
    nb.shot(panel, "review")
    return evidence


def test_lineage_and_review_panels(notebook, ws, tiny_model, exported):
    from playwright.sync_api import expect

    nb = notebook(
        "governance.ipynb",
        [
            SETUP.format(tiny=str(tiny_model)),
            "%llmops lineage $rid",
            "%llmops review rv --version 1",
            'print("READY")',
        ],
    )
    nb.run_all("READY")
    clicked = _lineage(nb, expect)  # the details of the last node clicked
    evidence = _review(nb, ws, expect)

    # saved, kernel shut down, reopened: both panels as last seen, no widget error
    nb.save()
    nb.shut_down_kernel()
    nb.page.reload()
    last_seen = ("bob: request changes recorded", f"evidence {evidence}", clicked)
    nb.page.locator(".widget-vbox", has_text=last_seen[0]).first.wait_for(timeout=240_000)
    body = nb.page.locator(".jp-Notebook").first.inner_text()
    assert "Error displaying widget" not in body
    for text in last_seen:
        assert text in body, text

    # its HTML export (jupyter nbconvert, or the server's Export as HTML), opened offline
    html = exported(nb)
    for text in last_seen:
        expect(html.get_by_text(text).first).to_be_visible()
    assert "Error displaying widget" not in html.locator("body").inner_text()
    assert not [url for url in html.fetched if "unpkg" in url or "widget" in url]
