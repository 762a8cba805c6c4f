"""The procedural faces: deterministic, labelled, and the labels visible in the pixels."""

import numpy as np
import pytest
import torch

from dcgan_core.data.faces import ATTRIBUTE_NAMES, Face, FaceAttributes, FacesDataset, face_attributes, render_face

SEEDS = range(12)


def luminance(image: np.ndarray) -> np.ndarray:
    return image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def changed(a: np.ndarray, b: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """(H, W) mask of pixels whose colour differs by more than `tolerance` in some channel."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1) > tolerance


def mouth_centre_x(image: np.ndarray) -> float:
    """Mean x (0..1) of the dark red inside of an open smile: red far above green and blue, nothing else is."""
    h, w, _ = image.shape
    band = image[int(0.4 * h) : int(0.72 * h)].astype(np.float64)
    ys, xs = np.nonzero(band[..., 0] > 3.2 * band[..., 1:].max(axis=-1))
    assert len(xs) > 0, "no open mouth found"
    return (xs.mean() + 0.5) / w


def non_background_beside_neck(image: np.ndarray) -> float:
    """Fraction of pixels left and right of the neck, down to the shoulders, that are not background.

    The background is a vertical gradient, so each row's background colour is its leftmost pixel.
    """
    h, w, _ = image.shape
    rows = image[int(0.55 * h) : int(0.8 * h)]
    background = rows[:, :1]
    sides = [rows[:, int(0.15 * w) : int(0.3 * w)], rows[:, int(0.7 * w) : int(0.85 * w)]]
    return float(np.mean([changed(side, np.broadcast_to(background, side.shape), 6).mean() for side in sides]))


# --- determinism and shapes


def test_a_seed_always_draws_the_same_face():
    a, b = render_face(7), render_face(7)
    assert np.array_equal(a.image, b.image)
    assert a.attributes == b.attributes
    assert not np.array_equal(a.image, render_face(8).image)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_images_are_square_uint8_rgb_of_the_requested_size(size):
    face = render_face(3, size)
    assert isinstance(face, Face)
    assert face.image.shape == (size, size, 3)
    assert face.image.dtype == np.uint8


def test_a_seed_has_the_same_layout_at_every_size():
    big = render_face(5, 128).image.astype(np.float64)
    small = render_face(5, 32).image.astype(np.float64)
    shrunk = big.reshape(32, 4, 32, 4, 3).mean(axis=(1, 3))
    assert np.abs(shrunk - small).mean() < 6


def test_attributes_come_from_the_seed_and_overrides_replace_them():
    drawn = render_face(11).attributes
    assert drawn == face_attributes(11)
    forced = render_face(11, glasses=not drawn.glasses, turn=0.25).attributes
    assert forced == FaceAttributes(glasses=not drawn.glasses, smiling=drawn.smiling, masculine=drawn.masculine, turn=0.25)


def test_as_array_follows_attribute_names():
    attrs = FaceAttributes(glasses=True, smiling=False, masculine=True, turn=-0.5)
    assert ATTRIBUTE_NAMES == ("glasses", "smiling", "masculine", "turn")
    arr = attrs.as_array()
    assert arr.dtype == np.float32
    assert arr.tolist() == [1.0, 0.0, 1.0, -0.5]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        render_face(0, turn=1.5)
    with pytest.raises(ValueError):
        render_face(-1)


# --- overrides change only the named attribute


def test_glasses_change_only_the_eye_band():
    for seed in SEEDS:
        bare = render_face(seed, 64, glasses=False).image
        specs = render_face(seed, 64, glasses=True).image
        diff = changed(bare, specs)
        rows = np.nonzero(diff.any(axis=1))[0]
        assert 0.25 * 64 <= rows.min() and rows.max() < 0.6 * 64, f"seed {seed}: glasses reach rows {rows.min()}..{rows.max()}"
        assert np.array_equal(bare[:, :4], specs[:, :4])  # background at the left edge untouched
        assert changed(bare, specs, tolerance=40).sum() >= 30, f"seed {seed}: frames barely visible"


def test_smiling_leaves_hair_and_background_alone():
    for seed in SEEDS:
        neutral = render_face(seed, 64, smiling=False).image
        smile = render_face(seed, 64, smiling=True).image
        rows = np.nonzero(changed(neutral, smile).any(axis=1))[0]
        assert rows.min() >= 0.25 * 64  # crown of the head and everything above it unchanged
        assert np.array_equal(neutral[:, :4], smile[:, :4])


def test_the_same_person_keeps_skin_background_and_shirt_across_overrides():
    a = render_face(21, 64, masculine=True, glasses=False)
    b = render_face(21, 64, masculine=False, glasses=True)
    assert np.array_equal(a.image[:3, :3], b.image[:3, :3])  # background corner
    assert np.array_equal(a.image[-2:, 30:34], b.image[-2:, 30:34])  # shirt at the bottom centre


# --- labels are visible in the pixels


def test_a_smile_shows_white_teeth():
    for seed in SEEDS:
        # the lower half of the image: mouth and chin, below the eyes (which narrow a little in a smile)
        neutral = render_face(seed, 128, smiling=False, glasses=False).image[64:].astype(np.float64)
        smile = render_face(seed, 128, smiling=True, glasses=False).image[64:].astype(np.float64)
        # teeth: pixels that turn brighter and near-white (channels close together), whatever the lighting
        teeth = (luminance(smile) > luminance(neutral) + 25) & (np.ptp(smile, axis=-1) < 45)
        assert teeth.sum() >= 12, f"seed {seed}: {teeth.sum()} teeth pixels"


def test_long_hair_falls_beside_the_neck_where_short_hair_leaves_background():
    for seed in SEEDS:
        short = non_background_beside_neck(render_face(seed, 64, masculine=True).image)
        long = non_background_beside_neck(render_face(seed, 64, masculine=False).image)
        assert short < 0.3 and long > 0.4, f"seed {seed}: {short=:.2f} {long=:.2f}"


def test_turn_moves_the_mouth_from_the_left_edge_to_the_right():
    # turn -1 looks towards the image's left edge, so the features sit left of the head's centre.
    for seed in range(6):
        xs = [mouth_centre_x(render_face(seed, 128, turn=t, smiling=True, glasses=False).image) for t in (-1.0, -0.5, 0.0, 0.5, 1.0)]
        assert all(b > a + 0.02 for a, b in zip(xs, xs[1:])), f"seed {seed}: {xs}"
        assert xs[0] < 0.44 and xs[-1] > 0.56, f"seed {seed}: {xs}"


def test_attributes_are_balanced_and_turn_covers_its_range():
    labels = FacesDataset(length=600, seed=4).attribute_array()
    for k, name in enumerate(ATTRIBUTE_NAMES[:3]):
        assert set(np.unique(labels[:, k])) == {0.0, 1.0}
        assert 0.42 < labels[:, k].mean() < 0.58, name
    turn = labels[:, 3]
    assert turn.min() >= -1 and turn.max() <= 1
    counts, _ = np.histogram(turn, bins=4, range=(-1, 1))
    assert counts.min() > 0.18 * len(turn)
    # the binary attributes are drawn independently: every combination shows up about 1/8 of the time
    combos = np.unique(labels[:, :3] @ np.array([4, 2, 1]), return_counts=True)[1]
    assert len(combos) == 8 and combos.min() > 0.08 * len(labels)


# --- the data set


def test_dataset_items_are_the_rendered_faces_scaled_to_plus_minus_one():
    ds = FacesDataset(image_size=32, length=10, seed=3)
    assert len(ds) == 10
    x = ds[4]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    image = torch.from_numpy(ds.face(4).image).permute(2, 0, 1)
    assert torch.equal(((x + 1) * 127.5).round().to(torch.uint8), image)
    assert torch.equal(ds[-1], ds[9])
    with pytest.raises(IndexError):
        ds[10]


def test_datasets_with_different_seeds_do_not_share_faces():
    a, b = FacesDataset(length=50, seed=0), FacesDataset(length=50, seed=1)
    assert not set(map(a.seed_of, range(50))) & set(map(b.seed_of, range(50)))
    assert a.seed_of(3) == FacesDataset(length=50, seed=0).seed_of(3)
    assert not np.array_equal(a.face(0).image, b.face(0).image)


def test_attribute_array_agrees_with_the_rendered_faces():
    ds = FacesDataset(image_size=32, length=20, seed=2)
    labels = ds.attribute_array()
    assert labels.shape == (20, 4) and labels.dtype == np.float32
    for i in (0, 7, 19):
        assert np.array_equal(labels[i], ds.face(i).attributes.as_array())
    assert np.array_equal(ds.attribute_array([7, 0]), labels[[7, 0]])


def test_faces_style_script_draws_bolder_glasses_on_the_same_faces(tmp_path):
    """scripts/faces_style.py (the README's glasses experiment): the same faces, with thicker dark rims."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image

    script = Path(__file__).resolve().parents[1] / "scripts" / "faces_style.py"
    preview = ["dcgan_core.cli", "data", "preview", "--dataset", "faces", "--n", "4", "--nrow", "4"]
    env = dict(os.environ)
    runs = {}
    for name, style in (("plain", []), ("bold", ["--rim", "0.04", "--frame-colours", "3"])):
        out = tmp_path / f"{name}.png"
        done = subprocess.run([sys.executable, str(script), *style, "--", *preview, "--out", str(out)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs[name] = np.asarray(Image.open(out).convert("RGB")).astype(int)
    changed = np.abs(runs["plain"] - runs["bold"]).sum(-1) > 0
    assert 0 < changed.mean() < 0.2  # only the glasses changed, not the faces
    bad = subprocess.run([sys.executable, str(script), "--rim", "0.5", "--", *preview], capture_output=True, text=True)
    assert bad.returncode == 2 and "--rim must be in" in bad.stderr


def test_frames_keep_their_colour_on_every_skin_when_skin_contrast_is_off(monkeypatch):
    """FRAME_SKIN_CONTRAST (the data before 2026-11-30) lightens the frames of dark skin; off (the default), the
    glasses of the dark-skinned faces are black like everyone's, and nothing else changes."""
    from dcgan_core.data import faces

    def glasses_pixels(seed: int) -> np.ndarray:
        return render_face(seed, 64, glasses=True).image.astype(int) - render_face(seed, 64, glasses=False).image.astype(int)

    def skin(seed: int) -> float:  # luminance of the cheek, below the glasses
        return float(render_face(seed, 64, glasses=False).image[33:37, 28:36].mean())

    seeds = range(60)
    monkeypatch.setattr(faces, "FRAME_SKIN_CONTRAST", True)
    contrast = {s: glasses_pixels(s) for s in seeds}
    monkeypatch.setattr(faces, "FRAME_SKIN_CONTRAST", False)
    same = {s: glasses_pixels(s) for s in seeds}
    changed = [s for s in seeds if not np.array_equal(contrast[s], same[s])]
    kept = [s for s in seeds if s not in changed]
    assert changed and kept
    assert np.mean([skin(s) for s in changed]) < np.mean([skin(s) for s in kept]) - 40  # the dark-skinned faces changed
    # off, the frames of dark skin are darker than the lightened ones
    assert np.mean([same[s].sum() for s in changed]) < np.mean([contrast[s].sum() for s in changed])
