"""The app in a real browser: start `streamlit run explorer/Home.py`, load every page in Chromium.

Checks what only a browser shows: each page's title, that a picture was decoded and
displayed, no exception box, and that nothing was fetched from outside this machine
(the app must work offline). Uses the system's Chromium (Debian package `chromium`)
through Playwright; no browser is downloaded. Skipped when either is missing, except
on CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlparse

import pytest

from browser_support import CHROMIUM, CHROMIUM_FLAGS, browser_available, streamlit_server  # noqa: F401 (fixture)

from dcgan_core.train import TrainConfig, Trainer

# an <img> of an st.image that is decoded and laid out (display: none has no offsetParent: collapsed expanders)
IMAGE_SHOWN = """() => [...document.querySelectorAll('[data-testid="stImage"] img')]
    .some(img => img.complete && img.naturalWidth > 0 && img.offsetParent !== null)"""
PROBE_BUTTON_SHOWN = """() => [...document.querySelectorAll('button')].some(b => b.innerText.includes('Run the probe'))"""
SWITCH_SHOWN = """() => [...document.querySelectorAll('button')].some(b => b.innerText.includes('Switch to the faces model'))"""
PAGE_TIMEOUT_MS = 45_000  # first visits build cached models and renders on a 2-core CI machine, one torch thread
PAGES = {  # url path -> (browser tab title, what shows the page is drawn)
    "": ("Home · DCGAN explorer", IMAGE_SHOWN),
    "latent_walk": ("Latent walk · DCGAN explorer", IMAGE_SHOWN),
    "samples": ("Samples · DCGAN explorer", IMAGE_SHOWN),
    "training_monitor": ("Training monitor · DCGAN explorer", IMAGE_SHOWN),
    "discriminator_features": ("Discriminator features · DCGAN explorer", IMAGE_SHOWN),
    "feature_probe": ("Feature probe · DCGAN explorer", PROBE_BUTTON_SHOWN),  # draws its figures only when asked to
    "forget_to_draw": ("Forgetting to draw windows · DCGAN explorer", IMAGE_SHOWN),
    "vector_arithmetic": ("Vector arithmetic · DCGAN explorer", SWITCH_SHOWN),  # a rooms model: it offers faces first
}


def test_every_page_loads_in_chromium_with_a_picture_and_nothing_fetched_from_outside(browser_available, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    models = tmp_path / "models"
    Trainer(
        TrainConfig(
            dataset="rooms", image_size=32, nz=16, ngf=8, ndf=8, batch_size=16, dataset_size=64, steps=2, log_every=1,
            sample_every=1, checkpoint_every=2, out_dir=str(models / "tiny"), device="cpu", precision="fp32", progress=False,
        )
    ).run()
    # the server sees the tiny model first, and the test's isolated cache (DCGAN_CACHE_DIR, set by conftest)
    env = dict(os.environ, DCGAN_MODELS_DIR=str(models), OMP_NUM_THREADS="1")

    with streamlit_server(env, tmp_path / "streamlit.log") as port:
        outside: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.on("request", lambda r: outside.append(r.url) if urlparse(r.url).hostname not in (None, "127.0.0.1") else None)
                for url_path, (title, drawn) in PAGES.items():
                    started = time.monotonic()
                    page.goto(f"http://127.0.0.1:{port}/{url_path}")
                    try:
                        page.wait_for_function(f"() => document.title === {title!r}", timeout=PAGE_TIMEOUT_MS)
                        page.wait_for_function(drawn, timeout=PAGE_TIMEOUT_MS)
                    except PlaywrightTimeout:
                        pytest.fail(f"/{url_path} was not drawn within {PAGE_TIMEOUT_MS / 1000:.0f} s")
                    print(f"/{url_path}: drawn in {time.monotonic() - started:.1f} s")
                    assert page.locator('[data-testid="stException"]').count() == 0, f"/{url_path} shows an exception"
            finally:
                browser.close()
        assert not [u for u in outside if not u.startswith("data:")], f"fetched from outside: {outside}"


# the walk's grid: the picture whose caption names the interpolation (the GIF's also names its fps)
WALK_GRID = """() => { const e = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"]')]
    .find(e => /interpolation/.test(e.innerText) && !/fps/.test(e.innerText));
    const img = e && e.querySelector('img');
    return img && img.complete && img.naturalWidth > 0 ? {src: img.src, caption: e.innerText} : null; }"""
CAPTIONS = """[...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"]')].map(e => e.textContent.trim())"""


def test_a_new_seed_redraws_the_walks_grid_frame_viewer_and_gif(browser_available, tmp_path):
    """The walk's settings and everything drawn from them live in one fragment, which a seed change reruns."""
    from playwright.sync_api import sync_playwright

    models = tmp_path / "models"
    Trainer(
        TrainConfig(
            dataset="rooms", image_size=32, nz=16, ngf=8, ndf=8, batch_size=16, dataset_size=64, steps=2, log_every=1,
            checkpoint_every=2, out_dir=str(models / "tiny"), device="cpu", precision="fp32", progress=False,
        )
    ).run()
    env = dict(os.environ, DCGAN_MODELS_DIR=str(models), OMP_NUM_THREADS="1")
    with streamlit_server(env, tmp_path / "streamlit.log") as port, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/latent_walk")
            before = page.wait_for_function(WALK_GRID, timeout=PAGE_TIMEOUT_MS).json_value()
            assert "seed 0 ·" in before["caption"]
            page.locator('[data-testid="stMain"] [data-testid="stNumberInputStepUp"]').first.click()
            page.wait_for_function(f"() => {{ const g = ({WALK_GRID})(); return g !== null && g.src !== {before['src']!r}; }}",
                                   timeout=PAGE_TIMEOUT_MS)
            assert "seed 1 ·" in page.evaluate(WALK_GRID)["caption"]
            # in tabs not shown: the frame viewer's caption and the GIF's
            page.wait_for_function(f"() => {CAPTIONS}.some(c => c.includes('frame 0: segment 1, t = 0.00 · seed 1'))",
                                   timeout=PAGE_TIMEOUT_MS)
            page.wait_for_function(f"() => {CAPTIONS}.some(c => c.includes('seed 1 ·') && c.endsWith('12 fps'))",
                                   timeout=PAGE_TIMEOUT_MS)
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            browser.close()
