"""The models the app opens on: present, small, complete (G and D), and drawing what their cards say."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dcgan_core.analysis.instruments import default_instrument_path, load_instrument, read_faces, read_rooms
from dcgan_core.checkpoints import load_model
from dcgan_core.generate import generate
from dcgan_core.latent import sample_z

MODELS = Path(__file__).resolve().parents[1] / "models"
SHIPPED = ("rooms", "faces")


@pytest.fixture(scope="module", params=SHIPPED)
def shipped(request):
    torch.set_num_threads(1)
    return request.param, load_model(request.param)


def test_each_shipped_model_is_64px_small_and_has_both_networks(shipped):
    name, model = shipped
    assert model.config.image_size == 64 and model.config.channels == 3
    assert model.discriminator is not None  # the discriminator pages need D
    assert (MODELS / name / "model.safetensors").stat().st_size < 15 * 2**20


def test_each_card_states_the_command_that_trained_it(shipped):
    name, model = shipped
    card = (MODELS / name / "README.md").read_text()
    assert f"dcgan train --dataset {name} --image-size 64" in card
    assert f"--steps {model.checkpoint.step}" in card
    assert "real vs real" in card and "untrained generator" in card
    assert (MODELS / name / "samples.png").exists()


def test_shipped_rooms_draw_rooms_with_and_without_windows():
    model = load_model("rooms")
    images = generate(model.generator, sample_z(128, model.config, seed=0))
    reading = read_rooms(load_instrument(default_instrument_path("rooms"), kind="rooms"), images.transpose(0, 3, 1, 2))
    windows = reading.has("window")
    assert reading.has("bed").mean() > 0.9
    assert 0.3 < windows.mean() < 0.98  # windows vary from room to room


def test_shipped_faces_vary_in_every_attribute():
    model = load_model("faces")
    images = generate(model.generator, sample_z(256, model.config, seed=0))
    reading = read_faces(load_instrument(default_instrument_path("faces"), kind="faces"), images.transpose(0, 3, 1, 2))
    for attribute, p in reading.probabilities.items():
        assert 0.25 < (p >= 0.5).mean() < 0.75, attribute  # the real renders have each about half the time
    assert (reading.turn < -0.5).any() and (reading.turn > 0.5).any()
    # not one face over and over: the per-pixel spread over samples was 59 here, and 38 for a
    # run that collapsed to one face in varying colours
    flat = images.reshape(len(images), -1).astype(np.float32)
    assert flat.std(0).mean() > 50
