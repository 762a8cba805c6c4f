"""Per-pixel label maps of the procedural rooms and faces: exact, consistent with the boxes and
attributes the renderers already give, and without changing a single pixel of the images."""

import hashlib
from types import SimpleNamespace

import numpy as np
import pytest

from dcgan_core.data.faces import FACE_CLASSES, FacesDataset, render_face, render_faces_with_labels
from dcgan_core.data.label_maps import block_mode
from dcgan_core.data.rooms import (
    _CURTAIN,
    _NO_LABEL,
    _OCCLUDER,
    _WALL,
    _WINDOW,
    OBJECT_NAMES,
    ROOM_CLASSES,
    RoomsDataset,
    _Camera,
    _draw,
    _Scene,
    render_room,
    render_rooms_with_labels,
)

# sha256 of render_room(seed, size).image / render_face(seed, size).image, recorded from the
# renderers as committed before label maps existed (ada22e3). Shipped models, cached data sets and
# the instruments were made from these pixels: a change here is a change of data set.
ROOM_DIGESTS = {
    (0, 32): "2dd6c68fc402be46dc7a2f3eb90b9208ddb7d2fec33407878b0d6be40ab6d0fb",
    (0, 64): "d74b207e62ca8860be0de4abba8148ae60336ab90f1589b181ef95b64239fd6e",
    (1, 32): "0812320415d70f02514b7865b6c832a778e5cf5c96119e3832217e0fa7bce90e",
    (1, 64): "a80feec6b2147f6070c062d4a4048a56c752d8a1675745170dc433a361aa2dff",
    (7, 32): "0114063115d57ea4c365ae33d96767487622c5bbb8625872825b2e3f639d141e",
    (7, 64): "61289b839199551616f020a8b844e6f7da879a808edeae30a16eb6420c8797b3",
    (123, 32): "dce73f09f1158d74ede826aedfc84820a93c26b86d3073fface38a31892ad6fd",
    (123, 64): "76e5758f2c3e111845eae0d4f199d7540b4ee986572b64b0d8b53ee361a648ee",
    (4242, 32): "1935364fd829153f3de02ce86bfd248b243439cdde3a1691ebacb19589008f23",
    (4242, 64): "6d27814d8f6a61530d81069a14316ee6f1459db01371ed248b19eea3db2b9bc7",
}
FACE_DIGESTS = {
    (0, 32): "9c08ec9398d6b0572aaf4d11495484884a773bff2f35d77dca108e77c14c22a4",
    (0, 64): "72a9c2641d0914be40d39a0b2b54a475307bf9c00debc2324c601b80638d3105",
    (1, 32): "e2532800f6d9d7fd7b5ff95da6550fefd265cde50c8f31d3cd5f2aa98402d59c",
    (1, 64): "dae059412196d32765a3818c055374119eca7dd69fca2fb80d63cc97d3abd122",
    (7, 32): "a83e7368f839be6d70a1096292e4bb6ccef6e46501737568d69522667dd7d8e1",
    (7, 64): "469730119fb68d32dd96c016b9d5639c4822ed2729868c17200cff832c1e8a05",
    (123, 32): "cfad5727e58186c15eda60edd6471f2c7c33f65c3d249e46bb6558a100f71e72",
    (123, 64): "20728ff78dabd54310c10319b7b07ae3342ad2c142066e84ed3a641d09fe8179",
    (4242, 32): "87b4b4d260c5096810591e2e364acba02e67278421aef9f27630e8bfc78c4655",
    (4242, 64): "3143ef5c25130d5c8e9a40f606489b665fc705c78718e34f3d89ca190b8d5d19",
}
# render_face(3, 64, smiling=True, glasses=...): overrides go through the same drawing code.
FACE_OVERRIDE_DIGESTS = {
    True: "5eba413bd57ee014bd0547016852a8c748e2da068d5bc1b97d78c95a38511c41",
    False: "727d0f7478ae9c4826e752ba5d8382bc79f23867cc985e18b2f4cebb05cbce86",
}


def digest(image: np.ndarray) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


# --------------------------------------------------------------------------- images unchanged


@pytest.mark.parametrize("label_map", [False, True])
def test_room_images_are_byte_identical_to_the_recorded_renders(label_map):
    for (seed, size), expected in ROOM_DIGESTS.items():
        assert digest(render_room(seed, size, label_map=label_map).image) == expected, (seed, size)


@pytest.mark.parametrize("label_map", [False, True])
def test_face_images_are_byte_identical_to_the_recorded_renders(label_map):
    for (seed, size), expected in FACE_DIGESTS.items():
        assert digest(render_face(seed, size, label_map=label_map).image) == expected, (seed, size)
    for glasses, expected in FACE_OVERRIDE_DIGESTS.items():
        assert digest(render_face(3, 64, smiling=True, glasses=glasses, label_map=label_map).image) == expected


def test_asking_for_a_label_map_changes_no_box():
    for seed in (0, 7, 123):
        assert render_room(seed, 64, label_map=True).boxes == render_room(seed, 64).boxes


def test_label_maps_are_off_by_default():
    assert render_room(0, 32).label_map is None
    assert render_face(0, 32).label_map is None


# --------------------------------------------------------------------------- shape and classes


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_room_label_maps_are_uint8_class_indices_of_the_image_size(size):
    room = render_room(5, size, label_map=True)
    assert room.label_map.dtype == np.uint8
    assert room.label_map.shape == (size, size)
    assert room.label_map.max() < len(ROOM_CLASSES)


@pytest.mark.parametrize("size", [8, 32, 64, 128])
def test_face_label_maps_are_uint8_class_indices_of_the_image_size(size):
    face = render_face(5, size, label_map=True)
    assert face.label_map.dtype == np.uint8
    assert face.label_map.shape == (size, size)
    assert face.label_map.max() < len(FACE_CLASSES)


def test_class_lists_name_every_object_and_part():
    assert set(OBJECT_NAMES) <= set(ROOM_CLASSES)
    assert {"wall", "floor", "ceiling"} <= set(ROOM_CLASSES)
    assert {"background", "skin", "hair", "glasses", "eye", "mouth"} <= set(FACE_CLASSES)
    assert len(set(ROOM_CLASSES)) == len(ROOM_CLASSES) and len(set(FACE_CLASSES)) == len(FACE_CLASSES)


def test_every_room_shows_wall_floor_and_ceiling():
    for seed in range(20):
        present = set(np.unique(render_room(seed, 32, label_map=True).label_map))
        assert {ROOM_CLASSES.index(c) for c in ("wall", "floor", "ceiling")} <= present, seed


# --------------------------------------------------------------------------- known answers


def test_block_mode_takes_the_majority_and_gives_ties_to_the_higher_class():
    fine = np.array(
        [
            [0, 0, 1, 2],
            [0, 3, 2, 1],
            [4, 4, 5, 5],
            [4, 4, 5, 5],
        ],
        dtype=np.uint8,
    )
    assert block_mode(fine, 2, 6).tolist() == [[0, 2], [4, 5]]


def test_a_window_half_hidden_by_a_curtain_has_the_exact_label_map():
    # Camera at the origin, lens centred, focal 1: the square x, y in [-0.25, 0.25] at z = 1
    # projects to image fractions [0.25, 0.75], pixels 16..47 at 64 px. A curtain covers its left half.
    scene = SimpleNamespace(
        camera=_Camera(x=0.0, y=0.0, focal=1.0, u0=0.5, v0=0.5),
        vignette=0.0,
        labels=["window"],
        ops=[
            (_Scene.facing_quad(-10, 10, -10, 10, 2.0), (200, 200, 200), _NO_LABEL, _WALL),
            (_Scene.facing_quad(-0.25, 0.25, -0.25, 0.25, 1.0), (90, 150, 230), 1, _WINDOW),
            (_Scene.facing_quad(-0.25, 0.0, -0.25, 0.25, 1.0), (150, 40, 40), _OCCLUDER, _CURTAIN),
        ],
    )
    room = _draw(scene, 64, label_map=True)
    expected = np.full((64, 64), _WALL, dtype=np.uint8)
    expected[16:48, 16:32] = _CURTAIN
    expected[16:48, 32:48] = _WINDOW
    assert np.array_equal(room.label_map, expected)
    assert room.boxes["window"] == [(32, 16, 48, 48)]


# --------------------------------------------------------------------------- consistency with boxes


def class_pixels(label_map: np.ndarray, classes: tuple[str, ...], name: str) -> np.ndarray:
    return label_map == classes.index(name)


def test_every_object_box_contains_pixels_of_its_class_and_no_pixel_lies_far_outside_the_boxes():
    """Boxes round an object's extent per row and column, the map per pixel: they agree within 1 px."""
    for seed in range(40):
        room = render_room(seed, 64, label_map=True)
        for name in OBJECT_NAMES:
            pixels = class_pixels(room.label_map, ROOM_CLASSES, name)
            near_a_box = np.zeros_like(pixels)
            for x0, y0, x1, y1 in room.boxes[name]:
                assert pixels[y0:y1, x0:x1].any(), (seed, name)
                near_a_box[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1] = True
            assert not (pixels & ~near_a_box).any(), (seed, name)


def test_a_single_window_spans_its_box_within_a_pixel():
    checked = 0
    for seed in range(60):
        room = render_room(seed, 64, label_map=True)
        if len(room.window_boxes) != 1:
            continue
        ys, xs = np.nonzero(class_pixels(room.label_map, ROOM_CLASSES, "window"))
        extent = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert max(abs(a - b) for a, b in zip(extent, room.window_boxes[0])) <= 1, seed
        checked += 1
    assert checked >= 15


# --------------------------------------------------------------------------- consistency with face attributes


@pytest.mark.parametrize("size", [32, 64])
def test_glasses_pixels_appear_exactly_when_the_face_wears_glasses(size):
    for seed in range(15):
        with_glasses = render_face(seed, size, glasses=True, label_map=True)
        without = render_face(seed, size, glasses=False, label_map=True)
        glasses = class_pixels(with_glasses.label_map, FACE_CLASSES, "glasses")
        assert glasses.sum() >= 8, seed
        assert not class_pixels(without.label_map, FACE_CLASSES, "glasses").any(), seed
        # Same person: every pixel labelled glasses is one the glasses changed.
        changed = (with_glasses.image != without.image).any(axis=-1)
        assert not (glasses & ~changed).any(), seed


def test_only_masculine_faces_have_facial_hair_and_every_face_has_skin_hair_and_eyes():
    for seed in range(15):
        feminine = render_face(seed, 64, masculine=False, label_map=True).label_map
        assert not class_pixels(feminine, FACE_CLASSES, "facial_hair").any(), seed
        for name in ("background", "clothes", "skin", "hair", "eye"):
            assert class_pixels(feminine, FACE_CLASSES, name).any(), (seed, name)


def test_a_smile_shows_more_mouth_than_a_closed_mouth():
    for seed in range(10):
        smile = render_face(seed, 64, smiling=True, glasses=False, label_map=True).label_map
        neutral = render_face(seed, 64, smiling=False, glasses=False, label_map=True).label_map
        assert class_pixels(smile, FACE_CLASSES, "mouth").sum() > class_pixels(neutral, FACE_CLASSES, "mouth").sum(), seed


# --------------------------------------------------------------------------- data set helpers


def test_room_batches_match_the_data_set_items():
    images, maps = render_rooms_with_labels(3, seed=2, image_size=32)
    assert images.shape == (3, 3, 32, 32) and maps.shape == (3, 32, 32) and maps.dtype == np.uint8
    room = RoomsDataset(image_size=32, length=3, seed=2).room(1, label_map=True)
    assert np.array_equal(images[1], room.image.transpose(2, 0, 1))
    assert np.array_equal(maps[1], room.label_map)


def test_face_batches_match_the_data_set_items():
    images, maps = render_faces_with_labels(3, seed=2, image_size=32)
    assert images.shape == (3, 3, 32, 32) and maps.shape == (3, 32, 32) and maps.dtype == np.uint8
    face = FacesDataset(image_size=32, length=3, seed=2).face(1, label_map=True)
    assert np.array_equal(images[1], face.image.transpose(2, 0, 1))
    assert np.array_equal(maps[1], face.label_map)
