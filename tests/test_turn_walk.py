"""The turn vector (paper Fig. 8): a face walked along the learned turn axis turns its head and stays the same person.

Small pieces on plain numbers; the measurement itself on the shipped faces model and the shipped face instrument
(a few seconds: 2,000 faces read once per module to find the axis).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from app_support import assert_clean, run_page
from PIL import Image

from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
from dcgan_core.analysis.turn_walk import WalkReading, pixel_blend, spearman, turn_axis, turn_walk, walk_codes
from dcgan_core.checkpoints import load_model
from dcgan_core.cli import main
from dcgan_core.latent import sample_z

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "13_turn_walk.py")


def test_the_walk_is_centred_on_the_face_in_equal_steps_along_the_axis():
    z, axis = torch.zeros(4), np.array([2.0, 0, 0, 0], dtype=np.float32)
    codes = walk_codes(z, axis, frames=5, span=1.0)
    assert codes[:, 0].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0] and codes[:, 1:].abs().sum() == 0
    with pytest.raises(ValueError, match="at least 3 frames"):
        walk_codes(z, axis, frames=2)


def test_the_pixel_walk_blends_the_two_end_images():
    black, white = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 200, np.uint8)
    frames = pixel_blend(black, white, frames=5)
    assert frames.shape == (5, 2, 2, 3) and frames[:, 0, 0, 0].tolist() == [0, 50, 100, 150, 200]


def test_spearman_is_1_for_a_head_that_only_turns_right():
    assert spearman([-0.9, -0.5, 0.0, 0.3, 0.8]) == pytest.approx(1.0)
    assert spearman([0.8, 0.3, 0.0]) == pytest.approx(-1.0)
    assert spearman([0.0, 0.5, 0.5, 1.0]) == pytest.approx(np.corrcoef([0, 1, 2, 3], [0, 1.5, 1.5, 3])[0, 1])
    assert np.isnan(spearman([0.2, 0.2, 0.2]))


def test_a_reading_counts_steps_turning_right_and_frames_keeping_each_attribute():
    reading = WalkReading(
        "z", np.array([-0.5, -0.2, -0.3, 0.1, 0.4]),
        {"glasses": np.array([1, 1, 1, 1, 1], bool), "masculine": np.array([0, 1, 1, 1, 1], bool)},
        reference={"glasses": True, "masculine": True},
    )
    assert reading.monotonic_share == 0.75  # one of the four steps turns back left
    assert reading.kept == {"glasses": 1.0, "masculine": 0.8}
    assert not reading.person_kept  # masculine in 80% of frames, under the 90% asked


@pytest.fixture(scope="module")
def faces():
    model = load_model("faces")
    instrument = load_instrument(default_instrument_path("faces"), kind="faces")
    return model, instrument, turn_axis(model.generator, instrument)


def test_on_the_shipped_faces_model_face_0_turns_right_at_every_step_and_keeps_glasses_and_sex(faces):
    model, instrument, axis = faces
    assert axis.n_left > 100 and axis.n_right > 100
    walk = turn_walk(model.generator, instrument, axis, sample_z(1, model.config, seed=0)[0], discriminator=model.discriminator)
    assert walk.latent.monotonic_share == 1.0 and walk.latent.spearman == pytest.approx(1.0)
    assert walk.latent.turn[0] < -0.5 and walk.latent.turn[-1] > 0.3  # from looking left to looking right
    assert walk.latent.kept["glasses"] == 1.0 and walk.latent.kept["masculine"] == 1.0
    assert np.array_equal(walk.pixel_images[0], walk.latent_images[0])  # both walks share their ends
    assert walk.pixels.inner_d_real < walk.latent.inner_d_real  # D finds the ghosted blends less like its faces


def test_dcgan_turn_prints_the_figures_of_both_walks_and_draws_them(tmp_path, capsys):
    out = tmp_path / "turn.png"
    assert main(["turn", "--model", "faces", "--seed", "0", "--frames", "7", "--json", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["faces"] == 1 and result["axis"]["pool"] == 2000
    for space in ("z", "pixels"):
        walk = result["walks"][0][space]
        assert len(walk["turn"]) == 7 and set(walk["kept"]) == {"glasses", "smiling", "masculine"}
        assert -1 <= walk["spearman"] <= 1 and 0 <= walk["monotonic_share"] <= 1
    assert Image.open(out).size == (7 * 64 + 8 * 2, 2 * 64 + 3 * 2)  # two rows of 7 frames, 2-px gaps


def test_dcgan_turn_refuses_a_too_short_walk_in_one_line(capsys):
    assert main(["turn", "--model", "faces", "--frames", "2", "--axis-pool", "300"]) == 2
    err = capsys.readouterr().err
    assert err == "error: a walk needs at least 3 frames, got 2\n"


def test_the_page_shows_both_walks_and_their_figures():
    at = run_page(PAGE, model="faces")
    assert_clean(at)
    assert at.title[0].value == "Turn vector"
    captions = "\n".join([c.value for c in at.caption] + [c for img in at.image for c in img.captions])
    assert "In z: face 0 of seed 0 plus t x turn vector" in captions and "In pixels: a linear blend" in captions
    table = "\n".join(m.value for m in at.markdown)
    assert "| walk in z (the model) | 100% | +1.00 |" in table and "| pixel blend of the two end images |" in table
    assert "dcgan turn --model faces --seed 0 --frames 9 --span 1" in captions
