"""A real JupyterLab in headless Chromium, for the browser tests.

Fixtures:

- ``lab``: a ``jupyter lab`` server (one per test session) on a free localhost
  port with a random token, serving a temporary copy of ``notebooks/``,
  ``exercises/`` and ``solutions/``. Its config, data, runtime, settings and
  workspace directories are temporary too, with JupyterLab's first-run news
  prompt and update check turned off, so nothing from the machine's own Jupyter
  set-up leaks in. The server is always shut down at the end of the session, on
  failure too, and every process it started (kernels) is gone afterwards.
- ``browser``: Debian's Chromium (the ``chromium`` command on PATH), headless,
  driven by Playwright. Playwright's own browser download is never used.
- ``page``: a fresh browser tab; the kernels it started are shut down after the test.

Without ``chromium`` on PATH the browser tests are skipped, and the end of the
pytest report says so; with ``REQUIRE_BROWSER=1`` (set by ``.ci/run``) a missing
Chromium fails them instead.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCREENSHOTS = ROOT / "screenshots" / "browser"
CHROMIUM = shutil.which("chromium")
REQUIRED = os.environ.get("REQUIRE_BROWSER", "") not in ("", "0")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
MISSING = ("browser tests: SKIPPED, no `chromium` command on PATH. Install it "
           "(`apt-get install -y chromium`) to run them; REQUIRE_BROWSER=1 makes a missing Chromium a failure.")
SERVER_START_TIMEOUT = 90.0
SERVER_STOP_TIMEOUT = 20.0

# JupyterLab user settings for the test's own settings directory: no "fetch news?"
# prompt, no update check (both first-run notifications that a student can dismiss
# but a test should not depend on).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}

_collected = []


def _is_browser_test(item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config, items):
    ours = [item for item in items if _is_browser_test(item)]
    _collected.extend(ours)
    if CHROMIUM is None and not REQUIRED:
        for item in ours:
            item.add_marker(pytest.mark.skip(reason=MISSING))


def pytest_terminal_summary(terminalreporter):
    # With pytest-xdist the workers collect, so the skips' reasons are what this process sees.
    skipped = any(MISSING in str(r.longrepr) for r in terminalreporter.stats.get("skipped", []))
    if (_collected or skipped) and CHROMIUM is None:
        if REQUIRED:
            terminalreporter.write_line(
                "browser tests: FAILED, REQUIRE_BROWSER=1 but no `chromium` command on PATH "
                "(`apt-get install -y chromium`).", red=True, bold=True)
        else:
            terminalreporter.write_line(MISSING, yellow=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


# -- the JupyterLab server -----------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (kernels start their own sessions, so a
    process group would miss them)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class LabServer:
    """A running ``jupyter lab``: its URL, token and the folder it serves."""

    #: User settings written for the server (file name -> values).
    settings = LAB_SETTINGS

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.root = workdir / "course"
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log_path = workdir / "jupyter.log"

    def env(self) -> dict:
        dirs = {name: self.workdir / name for name in
                ("config", "data", "runtime", "settings", "workspaces", "ipython")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for name, values in self.settings.items():
            target = dirs["settings"] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]), IPYTHONDIR=str(dirs["ipython"]),
            JUPYTER_PLATFORM_DIRS="0", PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTER_PATH", None)
        env.pop("JUPYTER_TOKEN", None)
        return env

    def start(self):
        for folder in ("notebooks", "exercises", "solutions"):
            if (ROOT / folder).is_dir():
                shutil.copytree(ROOT / folder, self.root / folder,
                                ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for attempt in range(3):
            if self._launch():
                return self
            # Another process took the free port between our check and the server's bind: try another.
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError(f"jupyter lab found no free port:\n{self.log()}")

    def command(self) -> list[str]:
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}", f"--IdentityProvider.token={self.token}",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        return command

    def _launch(self) -> bool:
        """Start the server and wait until it answers; False if its port was taken."""
        command = self.command()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=self.root, env=self.env(), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "already in use" in self.log():
                    return False
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.api("GET", "/api/status")
                return True
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.25)
        raise RuntimeError(f"jupyter lab did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{self.log()}")

    def log(self, last=4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-last:]
        except OSError:
            return ""

    def api(self, method: str, path: str, timeout: float = 10.0):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self):
        """Shut down every kernel (a student closing their notebooks)."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)

    def stop(self) -> set[int]:
        """Stop the server and everything it started; return the pids still alive (none)."""
        if self.process is None:
            return set()
        pids = descendants(self.process.pid) | {self.process.pid}
        if self.process.poll() is None:
            try:
                self.api("POST", "/api/shutdown")
            except Exception:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        for pid in pids | descendants(self.process.pid):
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.1)
        return {p for p in pids if alive(p)}


class MakeLabServer(LabServer):
    """JupyterLab started as the README says, by ``make lab``, on a copy of the course.

    The copy holds the Makefile, pyproject.toml (its time kept, so make reuses the
    environment), the shipped JupyterLab settings and the notebooks, with ``.venv``
    linked to this checkout's. The user settings directory is empty: the course's
    own settings are all there is.
    """

    settings = {}

    def start(self):
        self.root.mkdir(parents=True, exist_ok=True)
        for name in ("Makefile", "pyproject.toml"):
            shutil.copy2(ROOT / name, self.root / name)
        shutil.copytree(ROOT / "jupyter", self.root / "jupyter", copy_function=shutil.copy2)
        (self.root / ".venv").symlink_to(ROOT / ".venv")
        return super().start()

    def command(self) -> list[str]:
        args = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={self.port} --ServerApp.port_retries=0 "
                f"--IdentityProvider.token={self.token} --LabApp.extension_manager=readonly")
        return ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"]


@pytest.fixture(scope="session")
def chromium():
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail("REQUIRE_BROWSER=1 but there is no `chromium` command on PATH; "
                        "install it with `apt-get install -y chromium`", pytrace=False)
        pytest.skip(MISSING)
    return CHROMIUM


def _serving(server):
    """Start ``server``, yield it, and stop it and every process it started."""
    try:
        server.start()
        yield server
    finally:
        left = server.stop()
        assert not left, f"processes left behind by {type(server).__name__}: {sorted(left)}"


@pytest.fixture(scope="session")
def lab(tmp_path_factory, chromium):
    yield from _serving(LabServer(tmp_path_factory.mktemp("jupyterlab")))


@pytest.fixture(scope="session")
def make_lab(tmp_path_factory, chromium):
    """A second server, started by ``make lab`` (see :class:`MakeLabServer`)."""
    yield from _serving(MakeLabServer(tmp_path_factory.mktemp("make-lab")))


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(request, browser, lab):
    """A browser tab; on failure its screen is saved as ``screenshots/browser/failed-<test>.png``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = []
    page.on("console", lambda m: m.type in ("error", "warning") and log.append(f"console {m.type}: {m.text[:300]}"))
    page.on("response", lambda r: r.status >= 400 and log.append(f"HTTP {r.status} {r.request.method} {r.url[:150]}"))
    page.on("requestfailed", lambda r: log.append(f"request failed: {r.method} {r.url[:150]} {r.failure}"))
    try:
        yield page
        if getattr(request.node, "browser_test_failed", False):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
            page.screenshot(path=str(SCREENSHOTS / f"failed-{name}.png"))
            print("browser log of the failed test:\n" + "\n".join(log[-40:]))
            print("jupyter lab log (end):\n" + lab.log(3000))
    finally:
        context.close()
        lab.shutdown_kernels()


@pytest.fixture(scope="session")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
