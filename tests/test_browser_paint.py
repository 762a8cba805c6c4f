"""Painting a window with the mouse in a real browser: the after picture changes and the segmenter finds more window.

Starts `streamlit run explorer/Home.py` on the shipped models (rooms, its dissection in
models/rooms/dissection.json), opens "Paint with units" in Debian's Chromium through Playwright,
paints a patch of wall of sample #0 (found with the segmenter, as the insertion benchmark finds
its patches) with the mouse on the drawing canvas, presses Apply, and reads the after picture's
<img> and the reported window share in the region. Skipped when Chromium or Playwright is
missing (a failure on CI), or when the shipped rooms model has no dissection stored (and fails at once, saying
how to regenerate it, when the stored one does not fit the shipped weights).
"""

from __future__ import annotations

import json
import os
import re
import time

import numpy as np
import pytest
import torch

from browser_support import CHROMIUM, CHROMIUM_FLAGS, ROOT, browser_available, streamlit_server  # noqa: F401 (fixture)

TIMEOUT_MS = 90_000  # the first visit loads torch, the model and the segmenter on a busy 2-core machine
MAIN = '[data-testid="stMain"]'
SCALE = 6  # the page paints a 64-px picture at 384 px

# the src of the picture captioned `caption` ("before", "after ...") in the main area, or null
PICTURE_SRC = """(caption) => { const e = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"]')]
    .find(e => e.innerText.trim().startsWith(caption));
    const img = e && e.querySelector('img');
    return img && img.complete && img.naturalWidth > 0 ? img.src : null; }"""
SHARE = re.compile(r"window pixels in the region: (\d+)% → (\d+)%")


def wall_patch() -> tuple[int, int, int, int]:
    """(row0, col0, row1, col1), image pixels, of a 16-px square of wall without window in sample #0 of seed 0."""
    from dcgan_core.analysis.instruments import segment, segmenter_for
    from dcgan_core.analysis.interventions import surface_regions
    from dcgan_core.checkpoints import load_model
    from dcgan_core.generate import generate
    from dcgan_core.latent import sample_z

    model, segmenter = load_model("rooms"), segmenter_for("rooms")
    picture = generate(model.generator, sample_z(16, model.config, seed=0)[:1])
    labels = segment(segmenter, picture.transpose(0, 3, 1, 2))
    wall, window = segmenter.classes.index("wall"), segmenter.classes.index("window")
    keep, regions = surface_regions(labels, wall, window, layer_size=8, region_px=16)
    assert len(keep), "sample #0 of the shipped rooms model shows no free patch of wall"
    (r0, c0), (r1, c1) = np.argwhere(regions[0]).min(0), np.argwhere(regions[0]).max(0) + 1
    return int(r0), int(c0), int(r1), int(c1)


def check_shipped_dissection() -> None:
    """Skip without models/rooms/dissection.json; fail, saying how to fix it, when it does not fit the shipped weights."""
    from dcgan_core.analysis.dissection import Dissection
    from dcgan_core.safetensors_files import read_metadata

    path = ROOT / "models" / "rooms" / "dissection.json"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    fix = "regenerate it: dcgan dissect --model rooms --n 2000 --save models/rooms/dissection.json"
    try:
        data = json.loads(path.read_text())
        Dissection.from_dict(data["trained"])
    except (ValueError, KeyError) as e:
        pytest.fail(f"{path} cannot be read ({e}); {fix}")
    step = int(read_metadata(ROOT / "models" / "rooms" / "model.safetensors").get("step", 0))
    if data.get("step") != step:
        pytest.fail(f"{path} was made at step {data.get('step')}, the shipped model is at {step}; {fix}")


def idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("""() => document.querySelector('[data-testid="stStatusWidget"]') === null
                               && document.querySelector('[data-stale="true"]') === null""")


def test_painting_a_wall_with_the_mouse_inserts_a_window(browser_available, tmp_path):
    from playwright.sync_api import sync_playwright

    check_shipped_dissection()
    torch.set_num_threads(1)
    r0, c0, r1, c1 = wall_patch()
    env = dict(os.environ, DCGAN_CONCEPTS_DIR=str(tmp_path / "concepts"), OMP_NUM_THREADS="1")
    env.pop("DCGAN_MODELS_DIR", None)  # the shipped models, as on a fresh clone
    with streamlit_server(env, tmp_path / "streamlit.log") as port, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://127.0.0.1:{port}/paint")
            page.wait_for_function("() => document.title === 'Paint with units · DCGAN explorer'")
            canvas = page.locator("canvas.upper-canvas")
            canvas.wait_for(state="visible")
            page.get_by_text("Paint the region to edit on the picture.").wait_for()
            idle(page)
            before_src = page.wait_for_function(PICTURE_SRC, arg="before").json_value()
            after_src = page.wait_for_function(PICTURE_SRC, arg="after").json_value()
            assert before_src == after_src  # no edit yet

            canvas.scroll_into_view_if_needed()  # the whole stroke must happen inside the viewport
            box = canvas.bounding_box()
            # a zig-zag brush stroke (6 image px wide) over the patch of wall, 3 px inside its edges
            left, right = box["x"] + (c0 + 3) * SCALE, box["x"] + (c1 - 3) * SCALE
            rows = [box["y"] + (r + 0.5) * SCALE for r in range(r0 + 3, r1 - 2, 4)]
            page.mouse.move(left, rows[0])
            page.mouse.down()
            for i, y in enumerate(rows):
                for j in range(1, 9):
                    x = left + (right - left) * (j / 8 if i % 2 == 0 else 1 - j / 8)
                    page.mouse.move(x, y)
                if i + 1 < len(rows):
                    page.mouse.move(x, rows[i + 1], steps=3)
            page.mouse.up()
            painted = page.locator(MAIN).get_by_text(re.compile(r"\d+ px painted"))
            painted.wait_for()
            px = int(painted.inner_text().split()[0])
            assert 100 <= px <= (r1 - r0) * (c1 - c0) + 64, f"{px} px painted for a {r1 - r0} x {c1 - c0} patch"

            idle(page)
            started = time.monotonic()
            page.locator(f"{MAIN} button").filter(has_text="Apply: insert window").click()
            page.wait_for_function(f"(old) => {{ const src = ({PICTURE_SRC})('after'); return src !== null && src !== old; }}",
                                   arg=after_src)
            print(f"apply -> new after picture: {time.monotonic() - started:.2f} s (Python's clock, clicks included)")
            share = page.locator(MAIN).get_by_text(SHARE)
            share.wait_for()
            before_share, after_share = map(int, SHARE.search(share.inner_text()).groups())
            assert after_share > before_share, share.inner_text()
            assert page.evaluate(PICTURE_SRC, "before") == before_src  # before stays the unedited picture
            page.get_by_text(re.compile(r"Edit 1: insert window: \d+ units of layer 1")).wait_for()
            print(share.inner_text())
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            browser.close()
