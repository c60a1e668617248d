"""A real JupyterLab 4 (and Notebook 7) server and Debian's Chromium, once per test process.

The server listens on 127.0.0.1 with a token, in a temporary root that holds the notebooks and
the workspace (``.llmops``); its settings, workspaces and runtime folders are temporary too, so
nothing of the user's Jupyter set-up is read or written. The settings the project installs (the
venv's ``share/jupyter/lab/settings/overrides.json``) are what the user gets, so they stay.
Chromium is Debian's (``apt-get install chromium``), driven by Python Playwright through
``executable_path``: Playwright's own browser download is never used. Without them the suite is
skipped, except under CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LLMOPS_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
#: screenshots of each panel land here (CI keeps them as artifacts)
SHOTS = Path(os.environ.get("LLMOPS_BROWSER_ARTIFACTS", "browser-artifacts"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the suite ``browser``; each front end is an xdist group of its own (one process
    each: a server and a browser per process), so ``-n 2`` runs JupyterLab's and Notebook 7's
    runs side by side, each mostly waiting on its kernel."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            callspec = getattr(item, "callspec", None)
            ui = callspec.params.get("ui", "lab") if callspec is not None else "lab"
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group(f"browser-{ui}"))


def _missing() -> str | None:
    try:
        import jupyterlab  # noqa: F401
        import notebook  # noqa: F401
        import playwright  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (bash scripts/setup.sh installs it)"
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (apt-get install -y chromium)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The running Jupyter server: its root, URL and token."""

    def __init__(self, root: Path, port: int, token: str, proc: subprocess.Popen[bytes]) -> None:
        self.root, self.port, self.token, self.proc = root, port, token, proc
        self.base = f"http://127.0.0.1:{port}"
        self.workspace = root / ".llmops"

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def get(self, path: str) -> str:
        """The text the server answers ``GET path`` with (token in the header)."""
        req = urllib.request.Request(
            f"{self.base}{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            return str(resp.read().decode())

    def url(self, ui: str, name: str) -> str:
        if ui == "notebook":
            return f"{self.base}/notebooks/{name}?token={self.token}"
        # a JupyterLab workspace of its own, reset: no notebook of an earlier test reopens
        stem = Path(name).stem
        return f"{self.base}/lab/workspaces/{stem}/tree/{name}?reset&token={self.token}"


@pytest.fixture(scope="session")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """JupyterLab 4 with Notebook 7 on 127.0.0.1, token, temporary root and settings."""
    why = _missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"the browser suite cannot run in CI: {why}")
        pytest.skip(why)
    base = tmp_path_factory.mktemp("jupyter")
    root, home = base / "root", base / "home"
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    for folder in (root, settings, home / "workspaces", home / "runtime", home / "config"):
        folder.mkdir(parents=True)
    # every cell is rendered (not only those in view), so the test sees every panel
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    # no autosave: a reopened page (which starts a new kernel) never writes that kernel's empty
    # widget state over the saved notebook that the reopen and export checks read
    docs = home / "settings" / "@jupyterlab" / "docmanager-extension"
    docs.mkdir(parents=True)
    (docs / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    # no "get notified about Jupyter news?" toast over the screenshots
    news = home / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    token, port = secrets.token_hex(16), _free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "LLMOPS_HOME": str(root / ".llmops"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "HF_HUB_OFFLINE": "1",
    }
    for plain in ("LLMOPS_PLAIN", "LLMOPS_STAGE_OUTPUTS"):
        env.pop(plain, None)
    log = open(base / "server.log", "wb")  # noqa: SIM115 (open while the server runs)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            *(["--allow-root"] if os.getuid() == 0 else []),
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    server = Server(root, port, token, proc)
    deadline = time.monotonic() + 120
    while True:  # the server answers its status API once it is up
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited: {(base / 'server.log').read_text()[-2000:]}")
        try:
            server.api("/api/status")
            break
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail("jupyter lab did not answer within 120 s")
            time.sleep(0.25)  # polling the port: the server gives no other signal of readiness
    try:
        yield server
    finally:
        for session in server.api("/api/sessions") or []:
            server.api(f"/api/kernels/{session['kernel']['id']}", method="DELETE")
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    why = _missing()
    if why:
        pytest.skip(why)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=180_000)  # kernels start and panels fill on 2 busy cores

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[_CALL] = report.failed


_CALL = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def browser_context(browser: Any) -> Iterator[Any]:
    """One browser context for the session: its cache holds JupyterLab's and Notebook 7's
    scripts after their first load, so each later page loads them without fetching and
    compiling them again (each test still opens its own page and its own notebook)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    yield context
    context.close()


@pytest.fixture
def page(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page of a normal notebook width (1280; 1400 high, so that the tallest panel fits
    below Notebook 7's fixed toolbar in its screenshot); a failed test leaves its picture."""
    pg = browser_context.new_page()
    pg.set_default_timeout(180_000)
    yield pg
    if request.node.stash.get(_CALL, False):
        SHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"FAILED-{request.node.name}.png"), full_page=True)
    pg.close()


@pytest.fixture(params=["lab", "notebook"])
def ui(request: pytest.FixtureRequest) -> str:
    """Each browser test runs in JupyterLab 4 and in Notebook 7 (one server serves both)."""
    return str(request.param)


@pytest.fixture
def ws(jupyter: Server, ui: str) -> Iterator[Path]:
    """The workspace of this test's notebook (one per front end: each starts with an empty
    store), active in this (the test's) process to read what the kernel stored."""
    from llmops_magics import workspace

    path = jupyter.root / f".llmops-{ui}"
    workspace.use(path)
    yield path
    workspace.use(None)


class NotebookPage:
    """A notebook open in the browser: run its cells, find a panel, save, close."""

    def __init__(self, server: Server, page: Any, name: str, ui: str) -> None:
        self.server, self.page, self.name, self.ui = server, page, name, ui

    def open(self) -> NotebookPage:
        self.page.goto(self.server.url(self.ui, self.name))
        self.wait_idle()
        return self

    def command(self, name: str, args: dict[str, Any] | None = None) -> None:
        """Run a JupyterLab command (the app is exposed in the page: expose_app_in_browser)."""
        # not awaited: a command may open a dialog that the test answers by a click
        self.page.evaluate(
            "([name, args]) => { window.jupyterapp.commands.execute(name, args); }",
            [name, args or {}],
        )

    def restart_kernel(self) -> None:
        """Restart the notebook's kernel (what Kernel > Restart does, without its dialog)."""
        self.page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"
        )
        self.wait_idle()

    def shut_down_kernel(self) -> None:
        """Shut the notebook's kernel down (Kernel > Shut Down Kernel, without its dialog)."""
        self.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        self.page.wait_for_function(
            "() => !window.jupyterapp.shell.currentWidget.sessionContext.session"
        )

    def wait_idle(self) -> None:
        """Wait until the notebook's kernel is started and idle."""
        self.page.wait_for_function(
            """(name) => {
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const k = w && w.sessionContext && w.sessionContext.session
                    && w.sessionContext.session.kernel;
                return !!k && k.status === 'idle' && w.context.isReady
                    && w.context.path === name;
            }""",
            arg=self.name,
        )

    def run_all(self, marker: str) -> None:
        """Run every cell; wait for the output ``marker`` that the last cell prints."""
        self.command("notebook:run-all-cells")
        self.output(marker).wait_for()

    def run_cells(self, indices: list[int]) -> None:
        """Run the cells at ``indices``, one after the other, each to its end (the command's
        promise settles when the cell has run)."""
        self.page.evaluate(
            """async (indices) => {
                const app = window.jupyterapp, panel = app.shell.currentWidget;
                for (const i of indices) {
                    panel.content.activeCellIndex = i;
                    panel.content.deselectAll();
                    await app.commands.execute('notebook:run-cell');
                }
            }""",
            indices,
        )

    def output(self, text: str) -> Any:
        """The first output area that holds ``text``."""
        return self.page.locator(".jp-OutputArea-output", has_text=text).first

    def cell_output(self, index: int) -> Any:
        """The output area of the cell at ``index``."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")

    def shot(self, locator: Any, name: str) -> Path:
        """A screenshot of ``locator`` (one per panel), kept as a CI artifact."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.ui}-{name}.png"
        # a panel taller than the notebook's scrolled area would be cut (and the front end's
        # bars drawn over it): the page grows to hold it, for this picture only
        size = self.page.viewport_size
        tall = int(locator.evaluate("e => e.getBoundingClientRect().height")) + 500
        if tall > size["height"]:
            self.page.set_viewport_size({"width": size["width"], "height": tall})
        # in the middle of the page: not under Notebook 7's toolbar, which stays at the top
        locator.evaluate("e => e.scrollIntoView({block: 'center'})")
        locator.screenshot(path=str(path))
        if tall > size["height"]:
            self.page.set_viewport_size(size)
        return path

    def save(self) -> None:
        """Save now, with the widget state, and wait until it is written: an autosave may have
        left the notebook clean, so waiting for "not dirty" alone could return before the save
        (and a kernel shut down meanwhile leaves no widget state to save)."""
        self.page.evaluate("() => window.jupyterapp.shell.currentWidget.context.save()")
        self.page.wait_for_function(
            "() => !window.jupyterapp.shell.currentWidget.context.model.dirty"
        )


def write_notebook(root: Path, name: str, cells: list[str]) -> str:
    """A notebook of code ``cells`` with the project's kernel in its metadata (no dialog)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (llmops-magics)",
        "language": "python",
    }
    nbformat.write(nb, root / name)
    return name


@pytest.fixture
def notebook(jupyter: Server, page: Any, ui: str, ws: Path) -> Any:
    """``notebook(name, cells)``: write the notebook (named for the front end, its first cell
    loading the extension in the test's workspace), open it in ``ui`` and wait for its kernel."""

    def open_notebook(name: str, cells: list[str]) -> NotebookPage:
        name = f"{Path(name).stem}-{ui}.ipynb"
        first = f"%load_ext llmops_magics\n%llmops workspace {ws}\n{cells[0]}"
        write_notebook(jupyter.root, name, [first, *cells[1:]])
        return NotebookPage(jupyter, page, name, ui).open()

    return open_notebook


@pytest.fixture
def exported(jupyter: Server, browser: Any) -> Iterator[Any]:
    """``exported(nb)``: the notebook's HTML export as a user makes it, with the set-up's
    configuration, open in Chromium with the network blocked. The JupyterLab notebook is exported
    by ``jupyter nbconvert --to html``, the Notebook 7 one by the server (File > Save and Export
    Notebook As > HTML): each way once, not twice."""
    contexts: list[Any] = []

    def export(nb: NotebookPage) -> Any:
        target = (jupyter.root / nb.name).with_suffix(".html")
        if nb.ui == "lab":
            subprocess.run(
                [str(Path(sys.executable).with_name("jupyter")), "nbconvert", "--to", "html",
                 nb.name],
                cwd=jupyter.root, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        else:
            target.write_text(jupyter.get(f"/nbconvert/html/{nb.name}?download=true"))
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        contexts.append(context)
        fetched: list[str] = []

        def block(route: Any) -> None:
            fetched.append(route.request.url)
            route.abort()

        context.route("http*://**/*", block)
        pg = context.new_page()
        pg.goto(target.as_uri())
        pg.fetched = fetched  # what the page tried to load from a network (all blocked)
        return pg

    yield export
    for context in contexts:
        context.close()
