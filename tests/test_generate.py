"""Batched generation for the app, walk grids and GIF export."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_core.generate import animation_gif, generate, walk_grid
from dcgan_core.images import to_uint8
from dcgan_core.latent import sample_z, walk_path
from dcgan_core.models import Generator


@pytest.fixture
def generator(tiny_config):
    return Generator(tiny_config).eval()


def test_generate_gives_uint8_pictures_equal_to_one_forward_pass(generator, tiny_config):
    z = sample_z(10, tiny_config, seed=0)
    images = generate(generator, z, batch_size=3)
    assert images.shape == (10, 32, 32, 3) and images.dtype == np.uint8
    with torch.no_grad():
        expected = to_uint8(generator(z))
    assert np.abs(images.astype(int) - expected.astype(int)).max() <= 1  # batch size does not change pictures


def test_generate_drops_feature_maps_without_changing_the_model(generator, tiny_config):
    z = sample_z(4, tiny_config, seed=0)
    before = generate(generator, z)
    dropped = generate(generator, z, drop={generator.penultimate_layer: list(range(8))})
    assert not np.array_equal(before, dropped)
    assert np.array_equal(generate(generator, z), before)


def test_bf16_previews_stay_within_a_few_levels_of_fp32(generator, tiny_config):
    z = sample_z(16, tiny_config, seed=0)
    exact = generate(generator, z).astype(int)
    for precision in ("bf16", "auto"):  # auto: bf16 only where the CPU runs it natively, else exactly fp32
        preview = generate(generator, z, precision=precision).astype(int)
        assert preview.shape == exact.shape
        assert np.abs(preview - exact).mean() < 1.5 and np.abs(preview - exact).max() <= 24
    with pytest.raises(ValueError, match="precision"):
        generate(generator, z, precision="fp8")


def test_generate_refuses_a_generator_in_training_mode(tiny_config):
    with pytest.raises(ValueError, match="eval mode"):
        generate(Generator(tiny_config).train(), sample_z(2, tiny_config, seed=0))


def test_walk_grid_has_one_row_per_segment_or_one_strip():
    frames = np.zeros((9, 8, 8, 3), dtype=np.uint8)  # 3 waypoints, 4 steps
    rows = walk_grid(frames, steps=4, layout="rows", padding=0)
    strip = walk_grid(frames, steps=4, layout="strip", padding=0)
    assert rows.shape == (2 * 8, 5 * 8, 3)
    assert strip.shape == (8, 9 * 8, 3)


def test_walk_grid_rows_share_the_waypoint_between_segments(generator, tiny_config):
    frames = generate(generator, walk_path(sample_z(3, tiny_config, seed=0), steps=2).z)
    rows = walk_grid(frames, steps=2, layout="rows", padding=0)
    assert np.array_equal(rows[:32, 64:96], frames[2])  # end of row 0
    assert np.array_equal(rows[32:, :32], frames[2])  # start of row 1


def test_gif_has_every_frame_enlarged_and_loops():
    frames = np.stack([np.full((8, 8, 3), 30 * i, dtype=np.uint8) for i in range(5)])
    gif = Image.open(io.BytesIO(animation_gif(frames, fps=10, scale=4)))
    assert gif.size == (32, 32) and gif.n_frames == 5
    assert gif.info["loop"] == 0 and gif.info["duration"] == 100


def test_gif_bounce_plays_back_without_repeating_the_ends():
    frames = np.stack([np.full((4, 4, 3), 50 * i, dtype=np.uint8) for i in range(4)])
    assert Image.open(io.BytesIO(animation_gif(frames, bounce=True))).n_frames == 6


def test_serving_speed_benchmark_prints_its_figures_and_command():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "serving_speed.py"
    out = subprocess.run(
        [sys.executable, str(script), "--image-size", "32", "--ngf", "4", "--nz", "8", "--repeats", "3", "--warmup", "1",
         "--points", "3", "--steps", "2", "--threads", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("command: python ")
    assert "one frame, batch 1:" in out.stdout and "3-point x 2-step walk:" in out.stdout and "5 frames" in out.stdout
