"""Latent walks: the path through waypoints, its smoothness figure and its 2-D PCA picture."""

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
