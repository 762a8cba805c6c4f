"""The "Your images" page under AppTest: invert training images, see original | reconstruction | error, save the
codes; then the walk starts at them and the arithmetic page loads them into a slot.

Uploading needs a browser (tests/test_browser_your_images.py); here the images are the tiny model's
training images. The tiny run has no encoder, so the page offers optimisation alone and says how to
train one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from app_support import assert_clean, run_page, show_only, train_tiny_runs

import torch

from dcgan_core.analysis import concept_sets
from dcgan_core.checkpoints import Checkpoint, save_checkpoint
from dcgan_core.models import Generator, ModelConfig
from explorer import app_state as keys

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "10_your_images.py")
WALK = str(ROOT / "pages" / "1_latent_walk.py")
ARITHMETIC = str(ROOT / "pages" / "7_vector_arithmetic.py")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """rooms_a (a 2-step run) and faces_a (an untrained G without D: the loss is then pixels alone)."""
    models = train_tiny_runs(tmp_path_factory, {"rooms_a": {}})
    cfg = ModelConfig(image_size=32, nz=16, ngf=8, ndf=8)
    torch.manual_seed(0)
    data = {"dataset": "faces", "image_size": 32, "channels": 3, "seed": 0, "dataset_size": 64}
    save_checkpoint(models / "faces_a.safetensors", Checkpoint(model_config=cfg, generator=Generator(cfg).state_dict(),
                                                              step=5, train_config=data, meta={"dataset": "faces"}))
    return models


@pytest.fixture
def models_dir(tiny_models, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DCGAN_CONCEPTS_DIR", str(tmp_path / "concepts"))
    return show_only(tiny_models, monkeypatch, tmp_path)


def texts(at) -> str:
    return "\n".join([c.value for c in at.caption] + [i.value for i in at.info] + [s.value for s in at.success]
                     + [c for img in at.image for c in img.captions])


def inverted(count: int = 3, model: str = "rooms_a"):
    """The page with `count` training images of `model` inverted by 10 optimisation steps."""
    at = run_page(PAGE, **{keys.MODEL: model, keys.YOURS_SOURCE: "training", keys.YOURS_TRAIN_COUNT: count,
                           keys.YOURS_STEPS: 10})
    assert_clean(at)
    at.button(key=keys.YOURS_RUN).click().run()
    assert_clean(at)
    return at


def test_without_an_encoder_the_page_offers_optimisation_and_says_how_to_train_one(models_dir):
    at = run_page(PAGE, **{keys.MODEL: "rooms_a"})
    assert_clean(at)
    assert "dcgan train-encoder --model rooms_a" in texts(at)
    assert at.segmented_control(key=keys.YOURS_METHOD).options == ["optimise"]
    assert not at.image  # nothing to show before images are given


def test_inverting_training_images_shows_each_with_its_reconstruction_and_error(models_dir):
    at = inverted(3)
    captions = texts(at)
    for i in range(3):
        assert f"training image {i}" in captions
    pictures = [c for img in at.image for c in img.captions]
    assert pictures.count("G(z)") == 3 and sum(c.startswith("error ") for c in pictures) == 3
    assert "optimise, 10 steps, 4 start(s) per image" in captions


def test_changing_the_settings_asks_for_a_new_inversion(models_dir):
    at = inverted(2)
    at.slider(key=keys.YOURS_STEPS).set_value(20).run()
    assert_clean(at)
    assert "Press Invert" in texts(at) and not at.image


def test_saved_codes_are_a_concept_set_that_the_walk_starts_at(models_dir, tmp_path):
    at = inverted(2)
    at.text_input(key=keys.YOURS_NAME).set_value("my rooms").run()
    at.button(key=keys.YOURS_SAVE).click().run()
    assert_clean(at)
    assert "Saved 2 codes as 'my rooms'" in texts(at)
    saved = concept_sets.load_concept_set(tmp_path / "concepts" / "rooms_a" / "my_rooms.json")
    assert saved.z.shape == (2, 16) and float(saved.z.abs().max()) <= 1.0  # inside the uniform prior

    walk = run_page(WALK, **{keys.MODEL: "rooms_a", keys.WALK_SAVED: "my_rooms"})
    assert_clean(walk)
    waypoints = next(m for m in walk.metric if m.label == "Waypoints")
    assert waypoints.help.startswith("P1: code #0 of saved set 'my rooms'\nP2: code #1 of saved set 'my rooms'\nP3: random")
    assert "2 saved codes of 'my rooms'" in texts(walk)


def test_saved_face_codes_load_into_an_arithmetic_slot(models_dir, tmp_path):
    at = inverted(2, model="faces_a")
    at.text_input(key=keys.YOURS_NAME).set_value("my faces").run()
    at.button(key=keys.YOURS_SAVE).click().run()
    assert_clean(at)
    saved = concept_sets.load_concept_set(tmp_path / "concepts" / "faces_a" / "my_faces.json")

    arith = run_page(ARITHMETIC, **{keys.MODEL: "faces_a"})
    arith.segmented_control(key="arith_active").set_value(2).run()
    arith.selectbox(key="arith_saved").set_value("my_faces.json")
    arith.button(key="arith_load_button").click().run()
    assert_clean(arith)
    slot_c = arith.session_state["arith_slots_faces_a"][2]
    assert len(slot_c) == 2 and all((p["z"] == z.numpy()).all() for p, z in zip(slot_c, saved.z))


def test_an_empty_name_is_refused_in_one_line(models_dir):
    at = inverted(1)
    at.text_input(key=keys.YOURS_NAME).set_value("  ").run()
    at.button(key=keys.YOURS_SAVE).click().run()
    assert not at.exception
    assert len(at.error) == 1 and "Could not save the codes" in at.error[0].value and "\n" not in at.error[0].value


def png_bytes(mode: str, size=(40, 48)) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0], len(mode)), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode).save(buf, format="PNG")
    return buf.getvalue()


def test_an_uploaded_four_channel_png_is_inverted_with_a_note(models_dir):
    at = run_page(PAGE, **{keys.MODEL: "rooms_a", keys.YOURS_STEPS: 10})
    at.file_uploader(key=keys.YOURS_UPLOADS).set_value([("logo.png", png_bytes("RGBA"), "image/png")]).run()
    assert_clean(at)
    assert "logo.png" in texts(at) and "white" in texts(at)  # the note on its transparency
    at.button(key=keys.YOURS_RUN).click().run()
    assert_clean(at)
    assert [c for img in at.image for c in img.captions][:2] == ["logo.png", "G(z)"]


def test_an_upload_that_is_not_a_picture_gets_one_line_and_nothing_else(models_dir):
    at = run_page(PAGE, **{keys.MODEL: "rooms_a"})
    at.file_uploader(key=keys.YOURS_UPLOADS).set_value([("notes.png", b"hello", "image/png")]).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Could not read the images: notes.png is not an image that can be read; "
                                           "give a PNG, JPEG or WebP image"]
    assert not at.button  # nothing to invert


def test_on_the_faces_model_each_picture_carries_the_face_instruments_reading():
    at = run_page(PAGE, **{keys.MODEL: "faces", keys.YOURS_SOURCE: "training", keys.YOURS_TRAIN_COUNT: 2,
                           keys.YOURS_STEPS: 10})  # the shipped model: readings mean something on its faces
    at.button(key=keys.YOURS_RUN).click().run()
    assert_clean(at)
    pictures = [c for img in at.image for c in img.captions]
    assert pictures[0].startswith("training image 0 · ") and pictures[1].startswith("G(z) · ")
    assert all(c.split(" · ")[1][0] in "MW" for c in pictures[:2])  # man or woman, first letter of every badge
    assert "Face instrument: Labels: M man" in texts(at)


def test_with_a_shipped_encoder_the_page_opens_on_the_hybrid_method():
    at = run_page(PAGE, **{keys.MODEL: "rooms"})
    assert_clean(at)
    assert at.segmented_control(key=keys.YOURS_METHOD).value == "hybrid"
    assert [o.split(" ")[0] for o in at.segmented_control(key=keys.YOURS_METHOD).options] == ["hybrid", "optimise", "encode"]
    assert not at.info  # no "has no encoder" message
