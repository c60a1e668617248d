"""The rating panels in a real JupyterLab and Notebook 7 (each test runs in both): every click is
stored (read back here, in another process than the kernel), the panel resumes after a kernel
restart, and a notebook saved and reopened without its kernel, and its HTML export opened
offline, show each panel as it was last seen."""

from __future__ import annotations

SETUP = """\
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


def test_the_server_offers_the_kernel_set_up_registered(jupyter):
    specs = jupyter.api("/api/kernelspecs")
    assert specs["default"] == "python3"
    python3 = specs["kernelspecs"]["python3"]
    assert python3["spec"]["display_name"] == "Python 3 (llmops-magics)"
    assert python3["resources"]["logo-64x64"].startswith("/kernelspecs/python3/")


def test_rating_panels(notebook, ws, exported):
    from playwright.sync_api import expect

    nb = notebook(
        "rating.ipynb",
        [
            SETUP,
            "%llmops rate src --rater stars",
            "%llmops rate src --mode thumbs --rater thumbs",
            "%llmops rate pairs --mode pairwise --shuffle --rater pairs",
            "%llmops rate src --mode label --labels good,bad,unsure --rater labels",
            'print("READY")',
        ],
    )
    nb.run_all("READY")
    _rate_stars(nb, "stars")
    _rate_thumbs(nb, "thumbs")

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

    # a kernel restart: the panels are made anew and resume where the raters left off
    nb.restart_kernel()
    nb.run_all("READY")
    stars = _panel(nb, "stars")
    expect(stars).to_contain_text("2 of 3 rated")
    expect(stars).to_contain_text("item 3 of 3")
    stars.get_by_role("button", name="★★★★★", exact=True).click()
    expect(stars).to_contain_text("3 of 3 rated")
    assert list(_stored("stars")["value"].astype(int)) == [4, 2, 5]

    body = _reopen(nb, ["stars", "thumbs", "pairs", "labels"])
    last_seen = ["3 of 3 rated", "all rated, thank you", "2 of 3 rated", "4 of 4 rated"]
    for text in [*last_seen, "1 of 3 rated"]:  # stars as last seen, thumbs, pairs, labels
        assert text in body, text

    # the HTML export, opened offline: every panel's snapshot of its last state, nothing fetched
    html = exported(nb)
    for text in [*last_seen, "1 of 3 rated"]:
        expect(html.get_by_text(text).first).to_be_visible()
    assert "Error displaying widget" not in html.locator("body").inner_text()
    assert not [url for url in html.fetched if "unpkg" in url or "widget" in url]
