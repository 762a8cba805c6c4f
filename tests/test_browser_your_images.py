"""In a real browser: an uploaded picture becomes saved codes, then a waypoint of the walk and C on the arithmetic page.

Uses a tiny untrained faces model (the arithmetic page takes faces models only); the flow, not the
faces, is under test. Uploading needs a browser: AppTest cannot drop a file on st.file_uploader.
"""

from __future__ import annotations

import io
import os

import numpy as np
import torch
from browser_support import CHROMIUM, CHROMIUM_FLAGS, browser_available, streamlit_server  # noqa: F401 (fixture)
from PIL import Image
from test_browser_navigation import go_to

from dcgan_core.checkpoints import Checkpoint, save_checkpoint
from dcgan_core.models import Generator, ModelConfig

TIMEOUT_MS = 90_000
MAIN = '[data-testid="stMain"]'


def tiny_faces(path) -> None:
    cfg = ModelConfig(image_size=64, nz=16, ngf=8, ndf=8)  # 64 px: the face instrument's size
    torch.manual_seed(0)
    save_checkpoint(path, Checkpoint(model_config=cfg, generator=Generator(cfg).state_dict(), step=5,
                                     train_config={"dataset": "faces"}, meta={"dataset": "faces"}))


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 40, 3), dtype=np.uint8)  # not square: it is centre-cropped
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def main_text(page) -> str:
    return page.locator(MAIN).inner_text()


def idle(page) -> None:
    """Wait until the app has finished its rerun (a click during one can be dropped, as a user's can)."""
    page.wait_for_timeout(300)
    page.wait_for_function("""() => document.querySelector('[data-testid="stStatusWidget"]') === null
                               && document.querySelector('[data-stale="true"]') === null""")


def pick_option(page, label: str, option: str) -> None:
    """Open the select box labelled `label` in the main area and click `option`."""
    idle(page)
    page.locator(f'{MAIN} input[aria-label="{label}"]').click()
    page.get_by_role("option", name=option).click()


def test_an_uploaded_image_becomes_a_waypoint_and_an_arithmetic_slot(browser_available, tmp_path):
    from playwright.sync_api import sync_playwright

    models = tmp_path / "models"
    models.mkdir()
    tiny_faces(models / "faces_a.safetensors")
    env = dict(os.environ, DCGAN_MODELS_DIR=str(models), DCGAN_CONCEPTS_DIR=str(tmp_path / "concepts"), OMP_NUM_THREADS="1")
    with streamlit_server(env, tmp_path / "streamlit.log") as port, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://127.0.0.1:{port}/your_images")
            page.locator('[data-testid="stSidebar"] input[aria-label="Model"]').click()  # the shipped models are listed too
            page.get_by_role("option", name="faces_a · faces · 64 px").click()
            page.get_by_text("has no encoder yet").wait_for()
            uploader = page.locator(f'{MAIN} input[type="file"]')
            uploader.set_input_files([{"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture"}])
            error = page.locator(f'{MAIN} [data-testid="stAlert"]').filter(has_text="Could not read the images")
            error.wait_for()
            message = error.inner_text().strip().splitlines()[-1]  # after the icon's name
            assert message == "Could not read the images: notes.png is not an image that can be read; give a PNG, JPEG or WebP image"
            assert page.locator('[data-testid="stException"]').count() == 0  # a message, never a traceback
            page.locator(f'{MAIN} [data-testid="stFileChipDeleteBtn"] button').first.click()
            uploader.set_input_files(
                [{"name": "me.png", "mimeType": "image/png", "buffer": png(1)},
                 {"name": "you.png", "mimeType": "image/png", "buffer": png(2)}])
            page.get_by_role("button", name="Invert 2 images").click()
            page.get_by_text("error ", exact=False).first.wait_for()
            assert "me.png" in main_text(page) and "you.png" in main_text(page)
            page.locator(f'{MAIN} input[aria-label="Name"]').fill("my upload")
            page.locator(f'{MAIN} input[aria-label="Name"]').press("Enter")
            page.get_by_role("button", name="Save codes").click()
            page.get_by_text("Saved 2 codes as 'my upload'").wait_for()
            assert (tmp_path / "concepts" / "faces_a" / "my_upload.json").is_file()

            go_to(page, "Latent walk")  # in the same session: the picked model stays faces_a
            idle(page)
            page.get_by_text("Pin samples or your images as waypoints").click()
            pick_option(page, "Start at saved codes", "my_upload")
            page.get_by_text("2 saved codes of 'my upload'").first.wait_for()

            go_to(page, "Vector arithmetic")
            idle(page)
            page.locator(f"{MAIN} button").filter(has_text="C: ").first.click()  # clicks and loads go to slot C
            idle(page)
            page.get_by_text("Save and load concept sets").click()
            pick_option(page, "Saved sets of this model", "my_upload")
            page.get_by_role("button", name="Load into C").click()
            page.get_by_text("Loaded 2 exemplars of 'my upload' into slot C.").wait_for()
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            browser.close()
