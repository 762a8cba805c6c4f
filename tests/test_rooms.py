"""The procedural bedrooms: deterministic, well-formed, and with windows that are really there."""

import numpy as np
import pytest
import torch

from dcgan_core.data.rooms import OBJECT_NAMES, WINDOW, Room, RoomsDataset, render_room

SEEDS = range(120)


@pytest.fixture(scope="module")
def rooms64() -> list[Room]:
    return [render_room(seed, 64) for seed in SEEDS]


def sky_colored(image: np.ndarray) -> np.ndarray:
    """Pixels in the colours windows are painted with: bright, clearly blue daylight."""
    r, g, b = (image[..., c].astype(int) for c in range(3))
    return (b >= 140) & (b - r >= 30) & (b >= g)


def test_same_seed_gives_identical_pixels_and_boxes():
    a, b = render_room(7, 64), render_room(7, 64)
    assert np.array_equal(a.image, b.image)
    assert a.boxes == b.boxes


def test_different_seeds_give_different_rooms():
    images = [render_room(seed, 32).image for seed in range(5)]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j])


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_images_are_square_uint8_rgb_of_the_requested_size(size):
    room = render_room(3, size)
    assert room.image.dtype == np.uint8
    assert room.image.shape == (size, size, 3)


def test_too_small_image_size_is_rejected():
    with pytest.raises(ValueError, match="at least 16"):
        render_room(0, 8)


def test_every_object_name_is_a_key_and_boxes_lie_inside_the_image(rooms64):
    for room in rooms64:
        assert set(room.boxes) == set(OBJECT_NAMES)
        assert room.window_boxes is room.boxes[WINDOW]
        for boxes in room.boxes.values():
            for x0, y0, x1, y1 in boxes:
                assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64


def test_every_room_has_a_bed(rooms64):
    assert all(len(room.boxes["bed"]) == 1 for room in rooms64)


def test_other_furniture_varies_between_rooms(rooms64):
    for name in ("door", "lamp", "picture", "rug"):
        share = np.mean([bool(room.boxes[name]) for room in rooms64])
        assert 0.15 < share < 0.85, name


def test_window_counts_are_mostly_one_with_zero_and_two_common():
    counts = np.bincount([len(render_room(seed, 32).window_boxes) for seed in range(300)], minlength=3)
    assert counts.sum() == 300 and len(counts) == 3  # never more than two windows
    zero, one, two = counts / 300
    assert 0.15 < zero < 0.35
    assert 0.4 < one < 0.65
    assert 0.15 < two < 0.35


def test_windows_are_big_enough_to_learn_at_64_px(rooms64):
    sizes = np.array([(x1 - x0, y1 - y0) for room in rooms64 for x0, y0, x1, y1 in room.window_boxes])
    assert len(sizes) > 80
    assert np.mean((sizes >= 8).all(axis=1)) > 0.85
    assert (sizes >= 5).all()


def test_window_boxes_hold_the_sky_and_little_sky_is_elsewhere(rooms64):
    inside = outside = inside_total = outside_total = 0
    for room in rooms64:
        sky = sky_colored(room.image)
        in_window = np.zeros(sky.shape, bool)
        for x0, y0, x1, y1 in room.window_boxes:
            in_window[y0:y1, x0:x1] = True
        inside += sky[in_window].sum()
        inside_total += in_window.sum()
        outside += sky[~in_window].sum()
        outside_total += (~in_window).sum()
    assert inside / inside_total > 0.4  # panes; the rest is frame, mullions, sill, clouds
    assert outside / outside_total < 0.01


def test_rooms_without_windows_show_no_sky(rooms64):
    windowless = [room for room in rooms64 if not room.window_boxes]
    assert windowless
    assert all(sky_colored(room.image).mean() < 0.01 for room in windowless)


def test_layout_is_the_same_at_every_size_so_boxes_scale():
    for seed in range(25):
        small, large = render_room(seed, 64), render_room(seed, 128)
        for name in OBJECT_NAMES:
            assert len(small.boxes[name]) == len(large.boxes[name]), (seed, name)
            for box64, box128 in zip(small.boxes[name], large.boxes[name]):
                assert max(abs(2 * a - b) for a, b in zip(box64, box128)) <= 2, (seed, name, box64, box128)


def test_dataset_items_are_scaled_images_of_the_rooms_behind_them():
    data = RoomsDataset(image_size=32, length=10, seed=2)
    assert len(data) == 10
    x = data[4]
    assert x.dtype == torch.float32 and x.shape == (3, 32, 32)
    assert x.min() >= -1 and x.max() <= 1
    image = data.room(4).image
    assert torch.allclose(x, torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1)
    assert np.array_equal(render_room(data.seed_of(4), 32).image, image)


def test_dataset_index_out_of_range_raises_index_error():
    data = RoomsDataset(image_size=16, length=3)
    with pytest.raises(IndexError):
        data[3]
    with pytest.raises(IndexError):
        data.room(-4)
    assert torch.equal(data[-1], data[2])


def test_datasets_with_different_seeds_share_no_rooms():
    a, b = RoomsDataset(length=1000, seed=0), RoomsDataset(length=1000, seed=1)
    assert not {a.seed_of(i) for i in range(1000)} & {b.seed_of(i) for i in range(1000)}
    assert not torch.equal(a[0], b[0])
