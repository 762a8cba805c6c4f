"""Nearest training images of generated samples (pixel L2) and where those images come from."""

import numpy as np
import pytest

from dcgan_core.analysis.neighbours import NoTrainingData, nearest_neighbours, reference_images, rms_pixel_distance
from dcgan_core.data import build_dataset
from dcgan_core.data.loading import cache_dir, materialize


def test_a_copy_of_a_training_image_finds_it_at_distance_zero():
    rng = np.random.default_rng(0)
    refs = rng.integers(0, 256, size=(50, 3, 8, 8), dtype=np.uint8)
    queries = refs[[7, 31]].copy()
    idx, dist = nearest_neighbours(queries, refs, k=3, batch_size=16)
    assert idx[:, 0].tolist() == [7, 31]
    assert dist[:, 0].tolist() == [0.0, 0.0]
    assert (np.diff(dist, axis=1) >= 0).all()


def test_neighbours_match_a_brute_force_search_across_batches():
    rng = np.random.default_rng(1)
    refs = rng.integers(0, 256, size=(37, 3, 4, 4), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(5, 3, 4, 4), dtype=np.uint8)
    idx, dist = nearest_neighbours(queries, refs, k=4, batch_size=10)
    brute = np.linalg.norm(queries.reshape(5, 1, -1).astype(float) - refs.reshape(1, 37, -1).astype(float), axis=2)
    assert np.array_equal(idx, np.argsort(brute, axis=1, kind="stable")[:, :4])
    assert np.allclose(dist, np.sort(brute, axis=1)[:, :4])


def test_neighbours_refuse_images_of_another_shape():
    with pytest.raises(ValueError, match="shape"):
        nearest_neighbours(np.zeros((1, 3, 8, 8), np.uint8), np.zeros((4, 3, 4, 4), np.uint8))


def test_rms_distance_is_per_pixel_value():
    assert rms_pixel_distance(10.0 * np.sqrt(3 * 8 * 8), (3, 8, 8)) == pytest.approx(10.0)


def test_procedural_reference_images_are_the_models_training_images():
    config = {"dataset": "rooms", "image_size": 32, "seed": 0, "dataset_size": 40}
    refs = reference_images(config, limit=10)
    expected = materialize(build_dataset("rooms", image_size=32, length=40, seed=0), progress=False)[:10].numpy()
    assert np.array_equal(refs.images, expected)
    assert "first 10 of 40" in refs.description and refs.image(0).shape == (32, 32, 3)


def test_reference_images_read_the_trainers_cache_of_the_whole_training_set():
    config = {"dataset": "rooms", "image_size": 32, "seed": 0, "dataset_size": 12}
    materialize(build_dataset("rooms", image_size=32, length=12, seed=0), cache_key="rooms-32px-seed0-n12", progress=False)
    (cached,) = cache_dir().glob("rooms-32px-seed0-n12-*.npy")
    np.save(cached, np.full((12, 3, 32, 32), 7, dtype=np.uint8))  # mark it: only a cache read returns 7s
    refs = reference_images(config, limit=5)
    assert len(refs) == 5 and (refs.images == 7).all()
    assert "first 5 of 12" in refs.description


def test_missing_training_data_is_explained():
    with pytest.raises(NoTrainingData, match="not on this machine"):
        reference_images({"dataset": "folder", "data_root": "/nonexistent/photos", "image_size": 32})
    with pytest.raises(NoTrainingData, match="train_config"):
        reference_images(None)


def test_memorisation_check_tells_copies_from_new_images(monkeypatch):
    from dcgan_core.analysis import neighbours

    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (200, 3, 8, 8), dtype=np.uint8)
    monkeypatch.setattr(neighbours, "reference_images",
                        lambda tc, limit: neighbours.ReferenceImages(train, "200 training images", 200))
    held_out = rng.integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    copies = train[:50].copy()
    copies[:, :, 0, 0] ^= 1  # a near-copy: one value off by one
    memorised = neighbours.memorisation_check(copies, held_out, {"dataset": "rooms"})
    assert memorised.near_copies == 1.0 and np.median(memorised.samples) < 1
    fresh = neighbours.memorisation_check(rng.integers(0, 256, (50, 3, 8, 8), dtype=np.uint8), held_out, {"dataset": "rooms"})
    assert fresh.near_copies < 0.1
    assert "held-out real images median" in fresh.summary()
