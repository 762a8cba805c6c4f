"""Vector arithmetic by clicking in a real browser: picks reach the right slots and give the right Y.

Starts `streamlit run explorer/Home.py` on a free port, opens the "Vector arithmetic" page in
Debian's Chromium through Playwright and does what a researcher does: switches to the shipped `faces`
model with the page's button (the app opens on `rooms`), clicks 3 samples of the grid into A (man with glasses), switches "Clicks add to"
to B and C and clicks 3 more into each, clicks one sample twice (added, then taken out again).
The samples are the ones the face instrument reads as each concept, found here with the
library, and the page's "Instrument, 9 images" line must be what the library computes for
Y = mean(A) - mean(B) + mean(C) and its 8 neighbours. Skipped when Chromium or Playwright
is missing, except on CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os

import numpy as np

from browser_support import CHROMIUM, CHROMIUM_FLAGS, ROOT, browser_available, streamlit_server  # noqa: F401 (fixture)

from dcgan_core.analysis import arithmetic, labelling
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
from dcgan_core.checkpoints import load_model
from dcgan_core.generate import generate
from dcgan_core.latent import sample_z

TITLE = "Vector arithmetic · DCGAN explorer"
GRID_SIZE = 32  # the page's grid of samples to pick from (seed 0)
SLOTS = ("man with glasses", "man without glasses", "woman without glasses")  # the page's default concept names, A B C
PICK_COUNTS = """() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .map(e => e.innerText.match(/^(\\d+)\\/3 picked/)).filter(m => m).map(m => Number(m[1]))"""


def picks_by_instrument(model, instrument) -> list[list[int]]:
    """The first 3 grid samples the face instrument reads as each slot's concept."""
    labels = labelling.read_codes(model.generator, instrument, sample_z(GRID_SIZE, model.config, seed=0))[1].labels()
    man, glasses = labels["masculine"], labels["glasses"]
    wanted = (man & glasses, man & ~glasses, ~man & ~glasses)  # the page's default equation: glasses
    return [list(np.flatnonzero(w)[:3]) for w in wanted]


def expected_verdict(model, instrument, picks: list[list[int]]) -> str:
    z = sample_z(GRID_SIZE, model.config, seed=0)
    y = arithmetic.concept_arithmetic(*(z[p] for p in picks))
    nine = generate(model.generator, arithmetic.arithmetic_codes(y, arithmetic.NOISE_SCALE, seed=0))
    return labelling.reading_summary(labelling.read_images(instrument, nine).labels())


def test_clicking_exemplars_into_three_slots_gives_the_arithmetic_of_those_samples(browser_available, tmp_path):
    from playwright.sync_api import sync_playwright

    model = load_model(ROOT / "models" / "faces" / "model.safetensors")
    instrument = load_instrument(default_instrument_path("faces"), kind="faces")
    picks = picks_by_instrument(model, instrument)
    assert all(len(p) == 3 for p in picks), f"seed 0's grid lacks 3 samples of a concept: {picks}"
    expected = expected_verdict(model, instrument, picks)

    env = dict(os.environ, DCGAN_MODELS_DIR=str(tmp_path / "models"), DCGAN_CONCEPTS_DIR=str(tmp_path / "concepts"), OMP_NUM_THREADS="1")
    with streamlit_server(env, tmp_path / "streamlit.log") as port, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/vector_arithmetic")
            page.wait_for_function(f"() => document.title === {TITLE!r}", timeout=30_000)
            # on rooms (the default) the page offers the faces model and nothing else
            page.get_by_role("button", name="Switch to the faces model").click()
            page.wait_for_function(  # the sidebar's picker follows
                """() => { const e = document.querySelector('[data-testid="stSidebar"] input[aria-label="Model"]');
                           return e !== null && e.value.startsWith('faces'); }""",  # the picker is briefly gone while the app reruns
                timeout=30_000)
            # the grid of faces, read by the instrument: labels are on by default on a faces model, whatever rooms had
            page.get_by_text("Labels: M man").wait_for(timeout=60_000)
            page.wait_for_function(f"() => JSON.stringify(({PICK_COUNTS})()) === '[0,0,0]'", timeout=60_000)
            # and the rooms page's widgets gone (they stay, stale, until the rerun ends): the slot switch and the grid's pills
            page.wait_for_function("""() => document.querySelectorAll('[data-testid="stButtonGroup"]').length === 2""", timeout=30_000)
            groups = page.locator('[data-testid="stButtonGroup"]')
            # the grid's pills: the group with a pill for the last sample (slots show pills of their own once filled)
            grid = groups.filter(has=page.get_by_role("button", name=f"#{GRID_SIZE - 1}", exact=True))
            grid.wait_for(timeout=60_000)
            slot_buttons = groups.filter(has_text="Clicks add to").locator("button")
            grid_pill = lambda i: grid.get_by_role("button", name=f"#{i}", exact=True)  # noqa: E731
            assert slot_buttons.count() == 3 and grid.locator("button").count() == GRID_SIZE

            def wait_for_counts(counts: list[int]) -> None:
                page.wait_for_function(f"() => JSON.stringify(({PICK_COUNTS})()) === {str(counts)!r}.replace(/ /g, '')",
                                       timeout=30_000)

            counts = [0, 0, 0]
            for slot, (name, indices) in enumerate(zip(SLOTS, picks)):
                if slot:
                    slot_buttons.get_by_text(f"{'ABC'[slot]}: {name}").click()
                    page.get_by_text(f"Click samples to add them to {'ABC'[slot]}: {name}").wait_for(timeout=30_000)
                for i in indices:
                    grid_pill(i).click()
                    counts[slot] += 1
                    wait_for_counts(counts)
                if slot == 0:  # a second click takes a sample out again
                    extra = next(i for i in range(GRID_SIZE) if i not in indices)
                    grid_pill(extra).click()
                    wait_for_counts([4, 0, 0])
                    grid_pill(extra).click()
                    wait_for_counts([3, 0, 0])

            for slot, indices in enumerate(picks):  # each slot's caption names the samples it holds
                names = ", ".join(f"seed 0 #{i}" for i in indices)
                assert page.get_by_text(f"3 exemplars: {names}").count() == 1, f"slot {'ABC'[slot]} should hold {names}"
            verdict = page.locator('[data-testid="stMarkdownContainer"]', has_text="Instrument, 9 images:")
            verdict.wait_for(timeout=30_000)
            assert verdict.inner_text() == f"Instrument, 9 images: {expected}"
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            browser.close()
