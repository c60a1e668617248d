"""The rating panels in a real JupyterLab and Notebook 7: every click is stored (read back here,
in another process than the kernel), the panel resumes after a kernel restart, and a notebook
saved and reopened without its kernel shows each panel as it was last seen."""

from __future__ import annotations

SETUP = """\
%load_ext llmops_magics
import pandas as pd
src = pd.DataFrame({"prompt": ["p1", "p2", "p3"], "output": ["o1", "o2", "o3"], "model": "m1"})
pairs = pd.DataFrame({
    "prompt": ["q1", "q2", "q3", "q4"],
    "output_base": ["base1", "base2", "base3", "base4"],
    "output_tuned": ["tuned1", "tuned2", "tuned3", "tuned4"],
})"""


def _panel(nb, rater: str):
    return nb.page.locator(".widget-vbox", has_text=f"rater {rater} ").first


def _stored(rater: str):
    from llmops_magics import feedback

    frame = feedback.load_feedback()
    return frame[frame["rater"] == rater].sort_values("prompt")


def _rate_stars(nb, rater: str) -> None:
    from playwright.sync_api import expect

    stars = _panel(nb, rater)
    stars.get_by_role("button", name="★★★★", exact=True).click()
    expect(stars).to_contain_text("1 of 3 rated")
    stars.get_by_role("textbox").fill("too short")
    stars.get_by_role("button", name="★★", exact=True).click()
    expect(stars).to_contain_text("2 of 3 rated")
    got = _stored(rater)
    assert list(got["value"].astype(int)) == [4, 2]
    assert list(got["comment"]) == ["", "too short"]
    nb.shot(stars, "rating-stars")


def _rate_thumbs(nb, rater: str) -> None:
    from playwright.sync_api import expect

    thumbs = _panel(nb, rater)
    thumbs.get_by_role("button", name="👎 down").click()
    expect(thumbs).to_contain_text("1 of 3 rated")
    thumbs.get_by_role("button", name="👍 up").click()
    expect(thumbs).to_contain_text("2 of 3 rated")
    assert list(_stored(rater)["value"]) == ["down", "up"]
    nb.shot(thumbs, "rating-thumbs")


def _reopen(nb, raters: list[str]) -> str:
    """Save, shut the kernel down, reopen: the notebook's text once every panel is back."""
    for rater in raters:  # every panel is rendered, then saved with its state
        _panel(nb, rater).wait_for()
    nb.save()
    nb.shut_down_kernel()
    nb.page.reload()
    for rater in raters:  # restored once the new kernel answers: slow on busy cores
        _panel(nb, rater).wait_for(timeout=240_000)
    nb.shot(nb.page.locator(".jp-Notebook, .jp-NotebookPanel").first, "reopened")
    body = nb.page.locator(".jp-Notebook").first.inner_text()
    assert "Error displaying widget" not in body
    return body


def test_rating_panels_in_jupyterlab(notebook, ws):
    from playwright.sync_api import expect

    nb = notebook(
        "rating-lab.ipynb",
        [
            SETUP,
            "%llmops rate src --rater lab-stars",
            "%llmops rate src --mode thumbs --rater lab-thumbs",
            "%llmops rate pairs --mode pairwise --shuffle --rater lab-pairs",
            "%llmops rate src --mode label --labels good,bad,unsure --rater lab-labels",
            'print("READY")',
        ],
    )
    nb.run_all("READY")
    _rate_stars(nb, "lab-stars")
    _rate_thumbs(nb, "lab-thumbs")

    duel = _panel(nb, "lab-pairs")
    expected = {}
    for n in range(1, 5):  # what was shown as A decides what "A is better" stores
        text = f"\n{duel.inner_text()}\n"
        prompt = next(p for p in ("q1", "q2", "q3", "q4") if f"\n{p}\n" in text)
        shown_a = text.split("\nA\n", 1)[1].split("\n", 1)[0].strip()
        expected[prompt] = "a" if shown_a.startswith("base") else "b"
        duel.get_by_role("button", name="A is better").click()
        expect(duel).to_contain_text(f"{n} of 4 rated")
    got = _stored("lab-pairs")
    assert dict(zip(got["prompt"], got["value"], strict=True)) == expected
    assert set(expected.values()) == {"a", "b"}  # the shuffle swapped some pairs, not all
    nb.shot(duel, "rating-pairwise")

    labels = _panel(nb, "lab-labels")
    labels.get_by_role("button", name="unsure", exact=True).click()
    expect(labels).to_contain_text("1 of 3 rated")
    assert list(_stored("lab-labels")["value"]) == ["unsure"]
    nb.shot(labels, "rating-label")

    # a kernel restart: the panels are made anew and resume where the raters left off
    nb.restart_kernel()
    nb.run_all("READY")
    stars = _panel(nb, "lab-stars")
    expect(stars).to_contain_text("2 of 3 rated")
    expect(stars).to_contain_text("item 3 of 3")
    stars.get_by_role("button", name="★★★★★", exact=True).click()
    expect(stars).to_contain_text("3 of 3 rated")
    assert list(_stored("lab-stars")["value"].astype(int)) == [4, 2, 5]

    body = _reopen(nb, ["lab-stars", "lab-thumbs", "lab-pairs", "lab-labels"])
    assert "3 of 3 rated" in body and "all rated, thank you" in body  # stars, as last seen
    assert "2 of 3 rated" in body and "4 of 4 rated" in body and "1 of 3 rated" in body


def test_rating_panels_in_notebook7(notebook, ws, jupyter):
    # the kernel set-up registered in the venv is the one the server offers
    specs = jupyter.api("/api/kernelspecs")
    assert specs["default"] == "python3"
    python3 = specs["kernelspecs"]["python3"]
    assert python3["spec"]["display_name"] == "Python 3 (llmops-magics)"
    assert python3["resources"]["logo-64x64"].startswith("/kernelspecs/python3/")
    nb = notebook(
        "rating-nb7.ipynb",
        [
            SETUP,
            "%llmops rate src --rater nb7-stars",
            "%llmops rate src --mode thumbs --rater nb7-thumbs",
            'print("READY")',
        ],
        ui="notebook",
    )
    nb.run_all("READY")
    _rate_stars(nb, "nb7-stars")
    _rate_thumbs(nb, "nb7-thumbs")
    body = _reopen(nb, ["nb7-stars", "nb7-thumbs"])
    assert body.count("2 of 3 rated") == 2
