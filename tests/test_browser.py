"""The widgets in a real front end: JupyterLab 4 in headless Chromium, driven by Playwright.

Every notebook whose source builds a widget (02, 03 and 06) is opened as a copy in JupyterLab and run with
Run All (``runmenu:run-all``). Then every slider is dragged to two other values, and the test checks what a
student would see: the slider's readout changes, the figure under it is redrawn with other pixels, the tau
widget's text speaks of the new tau, no cell shows an error or stderr, and the maths is typeset by MathJax.

Marked ``browser``; skipped when Playwright or a Chromium binary is missing (``.ci/run`` installs Debian's
``chromium``; set ``CHROMIUM`` to use another binary). JupyterLab 4 virtualises long notebooks, so the test
reads text with ``textContent``, asks the notebook to render a cell before reading it, and scrolls a slider
into view before the mouse drags it.
"""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image, ImageChops

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_NOTEBOOKS = [p.stem for p in sorted((NOTEBOOKS / "src").glob("*.py"))
                    if re.search(r"\bwidgets\.\w+_widget\(|\binteract(ive)?\(", p.read_text(encoding="utf-8"))]
SLIDER_STOPS = (0.2, 0.9)  # where on its track each slider is dragged: away from every widget's start
# Headless, as root in a container, and quiet: no sandbox, GPU, updates, sync or first-run network traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
RUN_S, REDRAW_S = 600, 90  # Run All of notebook 06 pretrains for about a minute on a CPU

# The notebook panel of the page (each page opens one notebook in a workspace of its own).
NOTEBOOK = "window.jupyterapp.shell.currentWidget"
READY = """(path) => { const nb = window.jupyterapp?.shell.currentWidget;
    return !!(nb && nb.context && nb.context.path === path && nb.context.isReady
              && nb.sessionContext.session?.kernel?.status === 'idle'); }"""
# Done when the kernel is idle and every code cell has run, or stopped early on an error.
RAN = f"""() => {{ const nb = {NOTEBOOK}, cells = nb.content.model.cells;
    if (nb.sessionContext.session?.kernel?.status !== 'idle') return false;
    let all = true, error = false;
    for (let i = 0; i < cells.length; i++) {{ const c = cells.get(i);
        if (c.type !== 'code') continue;
        all = all && c.executionCount !== null;
        error = error || c.outputs.toJSON().some(o => o.output_type === 'error');
    }}
    return all || error; }}"""
PROBLEMS = f"""() => {{ const nb = {NOTEBOOK}, cells = nb.content.model.cells, out = [];
    for (let i = 0; i < cells.length; i++) {{ const c = cells.get(i);
        if (c.type !== 'code') continue;
        if (c.executionCount === null) out.push(`cell ${{i}} did not run`);
        for (const o of c.outputs.toJSON()) {{
            if (o.output_type === 'error') out.push(`cell ${{i}}: ${{o.ename}}: ${{o.evalue}}`);
            if (o.output_type === 'stream' && o.name === 'stderr') out.push(`cell ${{i}} stderr: ${{o.text}}`);
        }}
    }}
    return out; }}"""
MATH_CELLS = f"""() => {{ const nb = {NOTEBOOK};
    return nb.content.widgets.map((w, i) => [i, w]).filter(([i, w]) =>
        w.model.type === 'markdown' && w.model.sharedModel.getSource().includes('$')).map(([i]) => i); }}"""
RENDER = f"async (i) => {{ await {NOTEBOOK}.content.scrollToItem(i); }}"  # a virtualised cell renders in view
TYPESET = f"(i) => {NOTEBOOK}.content.widgets[i].node.querySelector('mjx-container') !== null"
REDRAWN = f"""([box, oldSrc]) => {{ const img = box.querySelector('.widget-output img');
    return !!img && img.src !== oldSrc && {NOTEBOOK}.sessionContext.session.kernel.status === 'idle'; }}"""


def find_chromium() -> str | None:
    candidates = [os.environ.get("CHROMIUM"), *map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))]
    return next((c for c in candidates if c), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_widget_notebooks_are_found():
    """Not marked: this runs everywhere, so that the browser test cannot quietly check nothing."""
    assert {"02_mixup_views", "03_ground_truth_and_predicted"} <= set(WIDGET_NOTEBOOKS), WIDGET_NOTEBOOKS


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: "
                                   "pip install -r requirements.txt")
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found: apt-get install chromium (Debian), or set CHROMIUM=/path/to/chrome")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 (a free port, a random token) serving copies of the widget notebooks, so that
    nothing it saves lands in the repository. The kernels inherit quick mode from conftest.py."""
    root = tmp_path_factory.mktemp("lab")
    for name in WIDGET_NOTEBOOKS:
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", root)
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no news toast over the sliders, no request for it
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}))
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--expose-app-in-browser",
               f"--LabApp.user_settings_dir={root / '.settings'}", f"--LabApp.workspaces_dir={root / '.workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = root / "jupyterlab.log"
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def drag(page, slider, fraction: float) -> None:
    """Drag the slider's handle to ``fraction`` of its track, as a mouse would."""
    slider.scroll_into_view_if_needed()
    track = slider.locator(".noUi-target").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    y = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], y, steps=8)
    page.mouse.up()


def pixels(image) -> Image.Image:
    return Image.open(io.BytesIO(image.screenshot())).convert("RGB")


def differ(a: Image.Image, b: Image.Image) -> bool:
    return a.size != b.size or ImageChops.difference(a, b).getbbox() is not None


def check_slider(page, slider) -> None:
    """Drag one slider to each stop: its readout, its figure's pixels and (tau) its text must follow."""
    box = slider.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' widget-interact ')][1]")
    image = box.locator(".widget-output img").first
    readouts, before = [slider.locator(".widget-readout").text_content().strip()], pixels(image)
    for stop in SLIDER_STOPS:
        old_src = image.get_attribute("src")
        drag(page, slider, stop)
        page.wait_for_function(REDRAWN, arg=[box.element_handle(), old_src], timeout=REDRAW_S * 1000)
        readouts.append(slider.locator(".widget-readout").text_content().strip())
        after = pixels(image)
        assert differ(before, after), f"the figure did not change when the slider moved to {readouts[-1]}"
        text = box.text_content()
        if "L_vrt =" in text:  # the tau widget reports the tau it shows, and why M looks as it does
            tau = readouts[-1]
            assert f"tau = {tau}: L_vrt" in text, text
            assert f"flat at tau = {tau}?" in text or f"At tau = {tau} M is no longer flat" in text, text
        before = after
    assert len(set(readouts)) == len(readouts), f"the readout did not follow the slider: {readouts}"


@pytest.mark.browser
@pytest.mark.parametrize("name", WIDGET_NOTEBOOKS)
def test_widgets_work_in_jupyterlab(name, browser, lab):
    from playwright.sync_api import TimeoutError as Timeout  # importable: the browser fixture did not skip

    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/lab/workspaces/{name}/tree/{name}.ipynb?token={token}&reset")
        page.wait_for_function(READY, arg=f"{name}.ipynb", timeout=120_000)
        page.evaluate("() => { window.jupyterapp.commands.execute('runmenu:run-all'); }")
        page.wait_for_function(RAN, timeout=RUN_S * 1000, polling=1000)
        assert page.evaluate(PROBLEMS) == []

        for index in page.evaluate(MATH_CELLS):
            page.evaluate(RENDER, index)
            try:
                page.wait_for_function(TYPESET, arg=index, timeout=30_000)
            except Timeout:
                pytest.fail(f"cell {index}: MathJax did not typeset the maths")
            rendered = page.evaluate(f"(i) => {NOTEBOOK}.content.widgets[i].node"
                                     ".querySelector('.jp-RenderedMarkdown').textContent", index)
            assert "$$" not in rendered, f"cell {index} shows raw LaTeX: {rendered[:300]}"

        sliders = page.locator(".jp-Notebook .widget-slider")
        assert sliders.count() >= 1, f"{name} shows no slider"
        for i in range(sliders.count()):
            check_slider(page, sliders.nth(i))

        assert page.evaluate(PROBLEMS) == []
        shown = page.locator('.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]')
        assert shown.count() == 0, [shown.nth(i).text_content()[:300] for i in range(shown.count())]
    finally:
        page.evaluate(f"() => {NOTEBOOK}.sessionContext.shutdown()")
        page.close()
