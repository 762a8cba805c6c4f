"""Drawing a window box with the mouse in a real browser reaches the annotations file, and comes back after a reload.

Starts `streamlit run explorer/Home.py` on a free port with a tiny 64-px model and an
annotations folder in tmp_path, opens the "Forgetting to draw windows" page in Debian's
Chromium through Playwright, drags a box on the drawing canvas (an open shadow DOM: the
CSS locator `canvas.upper-canvas` reaches it), waits for the JSON on disk, then reloads
the page and checks that the box is drawn again from what was saved. Skipped when
Chromium or Playwright is missing, except on CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from browser_support import CHROMIUM, CHROMIUM_FLAGS, browser_available, streamlit_server  # noqa: F401 (fixture)

from dcgan_core.train import TrainConfig, Trainer

SCALE = 6  # the page shows the 64-px image at 384 px
DRAG_FROM, DRAG_TO = (60, 90), (240, 300)  # canvas pixels -> image pixels (10, 15) to (40, 50)
EXPECTED_BOX = [10, 15, 40, 50]
TITLE = "Forgetting to draw windows · DCGAN explorer"

# RGBA of the drawn boxes' layer (Fabric's lower canvas; the picture is on a canvas of its own) around a point
RED_NEAR = """(c, [x, y]) => {
    const d = c.getContext('2d').getImageData(x - 2, y - 2, 5, 5).data;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 100 && d[i] > 150 && d[i + 1] < 120) return true;
    return false;
}"""


def annotation_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def saved_boxes(folder: Path) -> list[list[float]]:
    files = annotation_files(folder)
    if not files:
        return []
    data = json.loads(files[0].read_text())
    return [b for image in data["images"] for b in image["boxes"]]


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_a_box_drawn_with_the_mouse_is_saved_and_restored_after_a_reload(browser_available, tmp_path):
    from playwright.sync_api import sync_playwright

    models, notes = tmp_path / "models", tmp_path / "annotations"
    Trainer(
        TrainConfig(
            dataset="rooms", image_size=64, nz=16, ngf=8, ndf=8, batch_size=16, dataset_size=32, steps=2, log_every=1,
            sample_every=2, checkpoint_every=2, out_dir=str(models / "tiny64"), device="cpu", precision="fp32", progress=False,
        )
    ).run()
    env = dict(os.environ, DCGAN_MODELS_DIR=str(models), DCGAN_ANNOTATIONS_DIR=str(notes), OMP_NUM_THREADS="1")

    with streamlit_server(env, tmp_path / "streamlit.log") as port:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                page.goto(f"http://127.0.0.1:{port}/forget_to_draw")
                page.wait_for_function(f"() => document.title === {TITLE!r}", timeout=20_000)
                canvas = page.locator("canvas.upper-canvas")
                canvas.wait_for(state="visible", timeout=30_000)
                drawing = page.locator("canvas.dc-canvas.lower-canvas")
                left_edge = [DRAG_FROM[0], (DRAG_FROM[1] + DRAG_TO[1]) // 2]
                assert not drawing.evaluate(RED_NEAR, left_edge), "a box is drawn before any was"

                canvas.scroll_into_view_if_needed()  # the whole drag must happen inside the viewport
                box = canvas.bounding_box()
                x, y = box["x"], box["y"]
                page.mouse.move(x + DRAG_FROM[0], y + DRAG_FROM[1])
                page.mouse.down()
                for i in range(1, 11):
                    page.mouse.move(x + DRAG_FROM[0] + (DRAG_TO[0] - DRAG_FROM[0]) * i / 10,
                                    y + DRAG_FROM[1] + (DRAG_TO[1] - DRAG_FROM[1]) * i / 10)
                page.mouse.up()

                boxes = wait_for(lambda: saved_boxes(notes), 20, "the box in the annotations file")
                assert len(boxes) == 1
                assert all(abs(a - b) <= 1.5 for a, b in zip(boxes[0], EXPECTED_BOX)), boxes[0]
                page.get_by_text("1 box saved").wait_for(timeout=15_000)

                page.reload()
                page.wait_for_function(f"() => document.title === {TITLE!r}", timeout=20_000)
                page.get_by_text("1 box saved").wait_for(timeout=30_000)
                page.locator("canvas.upper-canvas").wait_for(state="visible", timeout=30_000)
                drawing = page.locator("canvas.dc-canvas.lower-canvas")
                wait_for(lambda: drawing.evaluate(RED_NEAR, left_edge), 15, "the saved box drawn on the canvas after the reload")
                assert not drawing.evaluate(RED_NEAR, [DRAG_TO[0] + 40, DRAG_TO[1] + 40]), "red outside the box"
                assert page.locator('[data-testid="stException"]').count() == 0
                assert saved_boxes(notes) == boxes, "the reload changed the saved boxes"
            finally:
                browser.close()
