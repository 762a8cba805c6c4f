"""Latent walks: the path through waypoints, its smoothness figure and its 2-D PCA picture."""

import io
import math

import numpy as np
import pytest
import torch

from dcgan_core.latent import pca_2d, sample_z, slerp, walk_path, walk_smoothness


def test_walk_through_9_points_with_8_steps_has_65_frames_that_hit_every_waypoint(tiny_config):
    points = sample_z(9, tiny_config, seed=0)
    path = walk_path(points, steps=8)
    assert path.z.shape == (65, tiny_config.nz)
    assert torch.equal(path.z[::8], points)
    assert path.segment.tolist() == [s for s in range(8) for _ in range(8)] + [7]
    assert path.t[:9].tolist() == pytest.approx([i / 8 for i in range(8)] + [0.0])
    assert path.t[-1] == 1


def test_slerp_walk_follows_the_great_circle_and_lerp_the_straight_line(tiny_config):
    a, b = sample_z(2, tiny_config, seed=1)
    spherical = walk_path(torch.stack([a, b]), steps=4, method="slerp")
    linear = walk_path(torch.stack([a, b]), steps=4, method="lerp")
    assert torch.allclose(spherical.z[2], slerp(a, b, 0.5), atol=1e-6)
    assert torch.allclose(linear.z[2], (a + b) / 2, atol=1e-6)


def test_walk_rejects_a_single_point_and_unknown_methods(tiny_config):
    with pytest.raises(ValueError, match="at least 2 waypoints"):
        walk_path(sample_z(1, tiny_config, seed=0), steps=4)
    with pytest.raises(ValueError, match="interpolation"):
        walk_path(sample_z(3, tiny_config, seed=0), steps=4, method="cubic")


def test_smoothness_of_an_even_fade_is_one():
    frames = np.stack([np.full((4, 4, 3), 10 * i, dtype=np.uint8) for i in range(10)])
    s = walk_smoothness(frames)
    assert s.ratio == pytest.approx(1.0)
    assert s.median == pytest.approx(10.0)


def test_smoothness_points_at_a_jump():
    values = [0, 2, 4, 6, 100, 102, 104]
    frames = np.stack([np.full((4, 4, 3), v, dtype=np.uint8) for v in values])
    s = walk_smoothness(frames)
    assert s.largest_at == 3
    assert s.ratio == pytest.approx(94 / 2)


def test_smoothness_of_frozen_frames_is_one_not_nan():
    s = walk_smoothness(np.zeros((5, 4, 4, 3), dtype=np.uint8))
    assert s.ratio == 1.0 and not math.isnan(s.ratio)


def test_pca_of_points_on_a_line_puts_everything_on_the_first_axis():
    direction = torch.randn(16)
    z = torch.arange(5.0)[:, None] * direction
    coords, explained = pca_2d(z)
    assert explained[0] == pytest.approx(1.0)
    assert np.allclose(coords[:, 1], 0, atol=1e-5)  # float32 codes
    assert np.allclose(np.abs(np.diff(coords[:, 0])), direction.norm().item(), rtol=1e-5)


def test_pca_is_deterministic_and_handles_a_single_point(tiny_config):
    z = sample_z(20, tiny_config, seed=3)
    assert np.array_equal(pca_2d(z)[0], pca_2d(z.clone())[0])
    coords, explained = pca_2d(z[:1])
    assert coords.shape == (1, 2) and not coords.any() and not explained.any()


# ---------------------------------------------------------------------------- the walk as the app sends it


def walk_frames(n: int = 9, size: int = 8) -> np.ndarray:
    """uint8 (n, size, size, 3): a smooth fade from dark red to light blue, like frames of a walk."""
    t = np.linspace(0, 1, n)[:, None, None, None]
    start, end = np.array([120, 20, 20]), np.array([60, 140, 230])
    ramp = np.linspace(0, 30, size)[None, None, :, None]
    return np.clip(start + t * (end - start) + ramp, 0, 255).astype(np.uint8) * np.ones((1, size, 1, 1), dtype=np.uint8)


def test_walk_gif_plays_back_and_forth_enlarged_and_loops_forever():
    from PIL import Image

    from explorer.walk import walk_animation_gif

    gif = Image.open(io.BytesIO(walk_animation_gif(walk_frames(9), fps=10, scale=4, bounce=True)))
    assert gif.n_frames == 9 + 7  # forwards, then back without repeating either end
    assert gif.size == (32, 32) and gif.info["loop"] == 0 and gif.info["duration"] == 100


def test_walk_gif_keeps_each_frames_colours_with_one_palette():
    from PIL import Image

    from explorer.walk import walk_animation_gif

    frames = walk_frames(20)
    gif = Image.open(io.BytesIO(walk_animation_gif(frames)))
    for i in (0, 10, 19):
        gif.seek(i)
        assert np.abs(np.asarray(gif.convert("RGB"), dtype=int) - frames[i]).mean() < 4


def test_walk_gif_rejects_frames_without_a_batch_axis_and_a_zero_frame_rate():
    from explorer.walk import walk_animation_gif

    with pytest.raises(ValueError, match="expected"):
        walk_animation_gif(walk_frames(3)[0])
    with pytest.raises(ValueError, match="fps"):
        walk_animation_gif(walk_frames(3), fps=0)


def test_large_colour_pictures_go_as_near_lossless_jpeg_and_small_ones_as_exact_png():
    from PIL import Image

    from explorer.widgets import encode_picture

    grid = walk_frames(16, size=64).reshape(4, 4, 64, 64, 3).transpose(0, 2, 1, 3, 4).reshape(256, 256, 3)  # 4 x 4 frames
    data, fmt = encode_picture(grid, min_px=1024)
    assert fmt == "JPEG"
    shown = np.asarray(Image.open(io.BytesIO(data)), dtype=float)  # enlarged 4x, as show_picture sends it
    psnr = 10 * np.log10(255**2 / ((shown - grid.repeat(4, axis=0).repeat(4, axis=1)) ** 2).mean())
    assert shown.shape == (1024, 1024, 3) and psnr > 40

    small = walk_frames(1, size=8)[0]
    data, fmt = encode_picture(small, min_px=64)
    assert fmt == "PNG" and np.array_equal(np.asarray(Image.open(io.BytesIO(data)))[::8, ::8], small)
    assert encode_picture(grid, min_px=1024, lossless=True)[1] == "PNG"


def test_a_picture_shown_again_is_not_encoded_again():
    from explorer.widgets import encode_picture

    picture = walk_frames(1, size=16)[0]
    first = encode_picture(picture, min_px=64)
    assert encode_picture(picture.copy(), min_px=64)[0] is first[0]  # same content: the kept bytes
    assert encode_picture(picture, min_px=128)[0] != first[0]


def test_the_frame_change_chart_marks_each_inner_waypoint_and_the_median():
    from types import SimpleNamespace

    from explorer.charts import frame_change_figure

    walk = SimpleNamespace(smoothness=SimpleNamespace(changes=np.arange(16.0), median=7.5), waypoint_frames=[0, 4, 8, 12, 16])
    fig = frame_change_figure(walk)
    dotted = sorted(s.x0 for s in fig.layout.shapes if s.line.dash == "dot")
    assert dotted == [3.5, 7.5, 11.5]  # between frames 3|4, 7|8, 11|12: the inner waypoints, not the ends
    assert [s.y0 for s in fig.layout.shapes if s.line.dash == "dash"] == [7.5]
