"""The course as a student meets it: JupyterLab in a real (headless) browser.

For every notebook in ``notebooks/``: open it in JupyterLab, Run > Run All Cells,
and check that every cell ran with no error output, within RUN_ALL_LIMIT seconds;
that each fault-injection panel (a cell that calls ``panel(...)``, or any widget
output holding an image) is drawn as widgets (sliders, buttons, an image) and not
as the text of a widget's repr; and that moving its first slider and pressing its
first fault button each change the figure on screen. For the first
exercise, a student's first pass (every cell run in turn with Shift+Enter) shows
a FAIL line with a hint for each graded check, and its solution shows PASS lines.

Screenshots land in ``screenshots/browser/`` (ignored by git): ``<name>.png`` is
the screen with the panel after the interaction (or the end of a notebook without
one), ``<name>-full.png`` the whole notebook; ``exercise-*`` and ``solution-*`` show
the first check cell. A failed test leaves ``failed-<test>.png``.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted(ROOT.glob("notebooks/*.ipynb"))
EXERCISE = sorted(ROOT.glob("exercises/*.ipynb"))[:1]
SOLUTION = [ROOT / "solutions" / p.name for p in EXERCISE]

#: Seconds from pressing Run All Cells until the last cell has finished, kernel start
#: included. The lessons take a few seconds each; the margin is for a busy 2-core CI.
RUN_ALL_LIMIT = 90.0
#: Seconds for JupyterLab to open a notebook and start its kernel.
OPEN_LIMIT = 60.0
#: Seconds for the panel to re-simulate and redraw after a slider or button changes.
REDRAW_LIMIT = 30.0

#: JavaScript: the status bar shows the notebook's kernel connected and idle ("Python 3 (ipykernel) | Idle").
KERNEL_IDLE = ("[...document.querySelectorAll('.jp-StatusBar-TextItem')]"
               ".some(e => /\\|\\s*Idle$/.test(e.textContent.trim()))")

WIDGET_AS_TEXT = ("VBox(children=", "HBox(children=", "IntSlider(value=", "FloatSlider(value=",
                  "Error displaying widget", "Loading widget...", "FaultPanel object at")


def names(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def panel_cells(notebook) -> list[int]:
    """Indices of the code cells that show a fault-injection panel."""
    return [i for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and re.search(r"(?:\bpanel|FaultPanel)\s*\(", cell.source)]


class Notebook:
    """A notebook open in JupyterLab in ``page``."""

    def __init__(self, page, lab, relpath: str):
        self.page, self.lab, self.relpath = page, lab, relpath
        self.model = nbformat.read(lab.root / relpath, as_version=4)

    def open(self):
        # A new workspace for every test, so JupyterLab restores nothing from an earlier test.
        self.page.goto(f"{self.lab.url}/lab/workspaces/{uuid.uuid4().hex}/tree/{self.relpath}?token={self.lab.token}")
        expected = len(self.model.cells)
        try:
            self.page.wait_for_function(
                "(n) => document.querySelectorAll("
                "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').length === n",
                arg=expected, timeout=OPEN_LIMIT * 1000)
        except Exception as error:
            shown = self.cells.count()
            raise AssertionError(f"{self.relpath}: JupyterLab shows {shown} cells, the file has {expected}") from error
        # The kernel is named in the notebook's metadata: no "Select Kernel" dialog, and it starts by itself.
        # (The status bar says "Idle" only once the kernel is connected; the toolbar's indicator says so at once.)
        self.page.wait_for_function(f"() => {KERNEL_IDLE}", timeout=OPEN_LIMIT * 1000)
        # Every code cell drawn, with its empty prompt "[ ]:", before the student presses anything.
        self.page.wait_for_function(
            """(indices) => {
                const cells = document.querySelectorAll(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
                return indices.every(i => cells[i]?.querySelector('.jp-InputPrompt')?.textContent.trim() === '[ ]:');
            }""", arg=self.code_indices(), timeout=OPEN_LIMIT * 1000, polling=200)
        self.assert_no_dialog()
        return self

    def assert_no_dialog(self):
        dialogs = self.page.locator(".jp-Dialog")
        assert dialogs.count() == 0, f"a dialog blocks the student: {dialogs.first.inner_text()!r}"

    @property
    def cells(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")

    def cell(self, index):
        return self.cells.nth(index)

    def run_all(self) -> float:
        """Run > Run All Cells from the menu; wait until every code cell has run. Returns seconds."""
        began = time.monotonic()
        self.page.locator("li.lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        self.page.locator("#jp-mainmenu-run .lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        first = self.code_indices()[0]
        try:
            self.page.wait_for_function(
                r"""(i) => /^\[(\*|\d+)\]:$/.test(document.querySelectorAll(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')[i]
                    ?.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '')""",
                arg=first, timeout=OPEN_LIMIT * 1000, polling=100)
        except Exception as error:
            raise AssertionError(f"{self.relpath}: Run > Run All Cells did not start the first code cell") from error
        self.wait_until_run(self.code_indices(), RUN_ALL_LIMIT - (time.monotonic() - began))
        return time.monotonic() - began

    def run_one_by_one(self):
        """A student's first pass: select the first cell, then Shift+Enter through the notebook."""
        self.cell(0).locator(".jp-InputPrompt").click()
        for index, cell in enumerate(self.model.cells):
            self.page.keyboard.press("Shift+Enter")
            if cell.cell_type == "code":
                self.wait_until_run([index], RUN_ALL_LIMIT)

    def code_indices(self):
        return [i for i, c in enumerate(self.model.cells) if c.cell_type == "code"]

    def wait_until_run(self, indices, limit):
        """Wait until each cell in ``indices`` shows an execution count ("[7]:") and the kernel is idle."""
        try:
            state = self.page.wait_for_function(
                """(indices) => {
                    const cells = document.querySelectorAll(
                        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
                    const prompt = i => cells[i]?.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '';
                    if (!(""" + KERNEL_IDLE + """)) return false;
                    if (indices.every(i => /^\\[\\d+\\]:$/.test(prompt(i)))) return 'done';
                    // Run All stops at a cell that raises: the cells after it are never run.
                    const raised = indices.some(i => /^\\[\\d+\\]:$/.test(prompt(i)) && cells[i].querySelector(
                        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'));
                    return raised && !indices.some(i => prompt(i) === '[*]:') ? 'stopped' : false;
                }""", arg=indices, timeout=limit * 1000, polling=200).json_value()
        except Exception as error:
            prompts = [self.cell(i).locator(".jp-InputPrompt").text_content().strip() for i in indices]
            raise AssertionError(f"{self.relpath}: cells not finished within {limit:.0f} s; "
                                 f"prompts: {prompts}") from error
        if state == "stopped":
            errors = "\n".join(self.errors())
            raise AssertionError(f"{self.relpath}: a cell raised, and the cells after it did not run:\n{errors}")

    def errors(self, skip=()) -> list[str]:
        """The text of every error or stderr output, as ``cell N: text``."""
        found = []
        for index in self.code_indices():
            if index in skip:
                continue
            outputs = self.cell(index).locator(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            for text in outputs.all_inner_texts():
                found.append(f"cell {index}: {text[:2000]}")
        return found

    def widget_image_cells(self) -> list[int]:
        """Indices of the cells whose output is a widget holding an image (a panel of any kind)."""
        return self.page.evaluate("""() => [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]
            .map((cell, i) => cell.querySelector(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.widget-view+json"] img.widget-image')
                ? i : -1)
            .filter(i => i >= 0)""")

    def output_text(self, index) -> str:
        return self.cell(index).locator(".jp-OutputArea").inner_text()

    def full_screenshot(self, path: Path):
        """The whole notebook in one image: a window tall enough to show every cell."""
        size = self.page.viewport_size
        height = self.page.evaluate("""() => {
            const outer = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
            return outer ? outer.scrollHeight : document.body.scrollHeight;
        }""")
        self.page.set_viewport_size({"width": size["width"], "height": min(int(height) + 200, 16000)})
        try:
            self.page.evaluate("""() => {
                const outer = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
                if (outer) outer.scrollTop = 0;
            }""")
            self.page.wait_for_timeout(500)
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(size)


def image_bytes(image) -> bytes:
    return image.screenshot(animations="disabled")


def wait_for_new_image(box, image, before: bytes, what: str):
    deadline = time.monotonic() + REDRAW_LIMIT
    while time.monotonic() < deadline:
        image.page.wait_for_timeout(250)
        # Changed, and drawn: the status line no longer says the panel is simulating.
        if (image.evaluate("img => img.complete && img.naturalWidth > 0") and image_bytes(image) != before
                and "simulating" not in box.inner_text()):
            return
    raise AssertionError(f"the figure did not change within {REDRAW_LIMIT:.0f} s after {what}; "
                         f"the panel reads: {box.inner_text()!r}")


def drag_slider(page, slider):
    """Drag a slider's handle with the mouse, as a student would, well away from where it is."""
    slider.scroll_into_view_if_needed()
    track = slider.locator(".noUi-base").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    where = (handle["x"] + handle["width"] / 2 - track["x"]) / track["width"]
    drag_slider_to(page, slider, 0.75 if where < 0.5 else 0.15)


def check_panel(page, cell, label: str):
    """The panel in ``cell`` is drawn as widgets, and its first slider and fault button redraw the figure."""
    output = cell.locator(".jp-OutputArea")
    text = output.inner_text()
    for sign in WIDGET_AS_TEXT:
        assert sign not in text, f"{label}: the panel shows as text ({sign!r}) instead of widgets: {text[:300]!r}"
    box = output.locator(".widget-vbox").first
    box.wait_for(timeout=REDRAW_LIMIT * 1000)
    image = box.locator("img.widget-image").first
    image.wait_for(timeout=REDRAW_LIMIT * 1000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle(),
                           timeout=REDRAW_LIMIT * 1000)
    sliders = box.locator(".widget-slider")
    # A ToggleButton, or a ToggleButtons choice that is not the current one.
    buttons = box.locator(".widget-toggle-button:not(.mod-active)")
    assert sliders.count() + buttons.count() > 0, f"{label}: a panel with no slider and no fault button"
    box.evaluate("box => box.scrollIntoView({block: 'start'})")
    moved = []
    if sliders.count():
        slider = sliders.first
        name = slider.locator(".widget-label").first.inner_text()
        before = image_bytes(image)
        drag_slider(page, slider)
        wait_for_new_image(box, image, before, f"moving the slider {name!r}")
        moved.append(name)
    if buttons.count():
        button = buttons.first
        name = button.inner_text().strip()
        before = image_bytes(image)
        button.click()
        wait_for_new_image(box, image, before, f"pressing the button {name!r}")
        moved.append(name)
    return moved


@pytest.mark.parametrize("path", LESSONS, ids=names(LESSONS))
def test_lesson_runs_in_jupyterlab_and_its_panel_responds(page, lab, screenshots, path):
    notebook = Notebook(page, lab, path.relative_to(ROOT).as_posix()).open()
    took = notebook.run_all()
    assert took <= RUN_ALL_LIMIT
    notebook.assert_no_dialog()
    assert notebook.errors() == []

    panels = sorted(set(panel_cells(notebook.model)) | set(notebook.widget_image_cells()))
    for index in panels:
        check_panel(page, notebook.cell(index), f"{path.name} cell {index}")
    everything = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").inner_text()
    for sign in WIDGET_AS_TEXT:
        assert sign not in everything, f"a widget shows as text: {sign!r}"

    if panels:
        notebook.cell(panels[0]).locator(".widget-vbox").first.evaluate("box => box.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(screenshots / f"{path.stem}.png"))
    notebook.full_screenshot(screenshots / f"{path.stem}-full.png")
    print(f"{path.name}: ran all cells in {took:.1f} s, {len(panels)} panel(s)")


def graded(notebook):
    return [(i, c.metadata["resilience_lab"]["check"], c.metadata["resilience_lab"]["points"])
            for i, c in enumerate(notebook.model.cells) if "check" in c.metadata.get("resilience_lab", {})]


@pytest.mark.parametrize("path", EXERCISE, ids=names(EXERCISE))
def test_untouched_exercise_shows_a_fail_line_with_a_hint_per_check(page, lab, screenshots, path):
    notebook = Notebook(page, lab, path.relative_to(ROOT).as_posix()).open()
    notebook.run_one_by_one()
    checks = graded(notebook)
    assert checks, "an exercise without graded check cells"
    assert notebook.errors(skip={i for i, _, _ in checks}) == []
    for index, check_id, points in checks:
        text = notebook.output_text(index)
        assert re.search(rf"^FAIL  {re.escape(check_id)}  0/{points} points: .+", text, re.M), text[:500]
        assert re.search(r"^\s+hint: .+", text, re.M), text[:500]
        assert "PASS" not in text
    notebook.cell(checks[0][0]).scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"exercise-{path.stem}.png"))
    notebook.full_screenshot(screenshots / f"exercise-{path.stem}-full.png")


@pytest.mark.parametrize("path", SOLUTION, ids=names(SOLUTION))
def test_solution_shows_a_pass_line_per_check(page, lab, screenshots, path):
    notebook = Notebook(page, lab, path.relative_to(ROOT).as_posix()).open()
    took = notebook.run_all()
    assert took <= RUN_ALL_LIMIT
    assert notebook.errors() == []
    checks = graded(notebook)
    assert checks
    for index, check_id, points in checks:
        text = notebook.output_text(index)
        assert re.search(rf"^PASS  {re.escape(check_id)}  {points}/{points} points$", text, re.M), text[:500]
        assert "FAIL" not in text
    notebook.cell(checks[0][0]).scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"solution-{path.stem}.png"))


def test_make_lab_opens_lesson_1_and_the_file_browser_reaches_the_exercises(browser, make_lab, screenshots, tmp_path):
    """The README's `make lab`: the whole course served, lesson 1 open, no news prompt,
    an exercise opened from the file browser, and the exercises' `make grade` run from a
    JupyterLab terminal."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{make_lab.url}/?token={make_lab.token}")  # where `make lab` sends the browser
        lesson = Notebook(page, make_lab, "notebooks/01-cascading-failures.ipynb")
        shows_cells = ("(n) => document.querySelectorAll("
                       "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').length === n")
        page.wait_for_function(shows_cells, arg=len(lesson.model.cells), timeout=OPEN_LIMIT * 1000)
        assert page.url.endswith("/lab/tree/notebooks/01-cascading-failures.ipynb"), page.url
        page.wait_for_function(f"() => {KERNEL_IDLE}", timeout=OPEN_LIMIT * 1000)
        lesson.assert_no_dialog()
        settings = make_lab.api("GET", "/lab/api/settings/@jupyterlab/apputils-extension:notification")
        defaults = settings["schema"]["properties"]  # the course's settings become JupyterLab's defaults
        assert defaults["fetchNews"]["default"] == "false" and defaults["checkForUpdates"]["default"] is False
        page.wait_for_timeout(3000)  # the news question would show within this time
        assert "official Jupyter news" not in page.locator("body").inner_text()

        # The file browser, from the root it shows: exercises/ and its first exercise.
        page.locator(".jp-BreadCrumbs-home").first.click()
        listing = page.locator(".jp-DirListing-content")
        for folder in ("exercises", "notebooks", "solutions"):
            listing.locator(".jp-DirListing-itemText", has_text=re.compile(rf"^{folder}$")).wait_for(timeout=20000)
        listing.locator(".jp-DirListing-itemText", has_text=re.compile(r"^exercises$")).dblclick()
        listing.locator(".jp-DirListing-itemText", has_text="01-cascading-failures.ipynb").dblclick()
        exercise = Notebook(page, make_lab, "exercises/01-cascading-failures.ipynb")
        page.wait_for_function(shows_cells, arg=len(exercise.model.cells), timeout=OPEN_LIMIT * 1000)
        assert page.url.endswith("/lab/tree/exercises/01-cascading-failures.ipynb"), page.url
        assert "exercises/01-cascading-failures.ipynb" in {s["path"] for s in make_lab.api("GET", "/api/sessions")}
        page.screenshot(path=str(screenshots / "make-lab-exercise.png"))

        # In a JupyterLab terminal, the command every exercise gives for a score before handing in.
        finished = tmp_path / "finished"
        page.locator("li.lm-MenuBar-item", has_text=re.compile(r"^File$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^New$")).first.hover()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Terminal$")).first.click()
        page.locator(".jp-Terminal .xterm").first.wait_for(timeout=OPEN_LIMIT * 1000)
        page.wait_for_timeout(1500)  # the shell's prompt
        page.locator(".jp-Terminal .xterm").first.click()
        page.keyboard.type(f"make grade NB=exercises/01-cascading-failures.ipynb GRADE_OUT={tmp_path / 'out'} "
                           f"> {tmp_path / 'log'} 2>&1; echo $? > {finished}\n", delay=5)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (finished.exists() and finished.read_text().strip()):
            time.sleep(0.5)
        log = (tmp_path / "log").read_text() if (tmp_path / "log").exists() else "(no output)"
        assert finished.exists() and finished.read_text().strip() == "0", log
        assert re.search(r"^\s*0 / \d+ ", log, re.M), log  # the untouched exercise: no points yet
        assert (tmp_path / "out" / "grades.csv").exists()
    except Exception:
        page.screenshot(path=str(screenshots / "failed-make-lab.png"))
        raise
    finally:
        context.close()
        make_lab.shutdown_kernels()


def drag_slider_to(page, slider, where: float):
    """Drag a slider's handle to ``where`` (0 = the left end, 1 = the right end) of its track."""
    slider.scroll_into_view_if_needed()
    track = slider.locator(".noUi-base").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    y = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * where, y, steps=8)
    page.mouse.up()


FALLBACKS = ROOT / "notebooks" / "06-fallbacks.ipynb"


def test_fallback_panel_draws_every_control_at_its_ends(page, lab, screenshots):
    """Lesson 6's panel: every slider at 0 (no outage, a TTL of 0, a queue of capacity 0)
    and at its far end, and each service taken down, redraws the figure without an error."""
    notebook = Notebook(page, lab, FALLBACKS.relative_to(ROOT).as_posix()).open()
    notebook.run_all()
    assert notebook.errors() == []
    [index] = panel_cells(notebook.model)
    box = notebook.cell(index).locator(".jp-OutputArea .widget-vbox").first
    image = box.locator("img.widget-image").first
    image.wait_for(timeout=REDRAW_LIMIT * 1000)
    sliders = box.locator(".widget-slider")
    names = [sliders.nth(i).locator(".widget-label").first.inner_text() for i in range(sliders.count())]
    assert names == ["outage (s)", "cache TTL (s)", "queue capacity"], names
    # The status line names the setting drawn: "<service> down for <s> s ..., cache TTL <s> s, queue capacity <n>".
    ends = {"outage (s)": ("down for 0 s", "down for 120 s"), "cache TTL (s)": ("TTL 0 s", "TTL 120 s"),
            "queue capacity": ("capacity 0:", "capacity 2000:")}
    for i, name in enumerate(names):
        for end, shown in zip((-0.2, 1.2), ends[name]):  # past the ends: the handle stops at the minimum, the maximum
            before = image_bytes(image)
            drag_slider_to(page, sliders.nth(i), end)
            wait_for_setting(box, image, before, shown, f"moving {name!r} to {'0' if end < 0 else 'its maximum'}")
    for service in ["reviews", "price", "payments", "profile"]:
        before = image_bytes(image)
        box.locator(".widget-toggle-button", has_text=re.compile(f"^{service}$")).click()
        wait_for_setting(box, image, before, f"{service} down for", f"taking {service} down")
        if service == "payments":
            box.evaluate("box => box.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(screenshots / "06-fallbacks-payments-down.png"))
    assert notebook.errors() == []


def wait_for_setting(box, image, before: bytes, shown: str, what: str):
    """Wait until the panel's status line says it drew ``shown`` (not an error), and the figure changed."""
    deadline = time.monotonic() + REDRAW_LIMIT
    while time.monotonic() < deadline:
        text = box.inner_text()
        assert "Could not draw" not in text, f"after {what}: {text[:300]!r}"
        if shown in text and "simulating" not in text:
            break
        box.page.wait_for_timeout(250)
    else:
        raise AssertionError(f"the panel did not draw the setting within {REDRAW_LIMIT:.0f} s after {what}; "
                             f"it reads: {box.inner_text()[:300]!r}")
    wait_for_new_image(box, image, before, what)
