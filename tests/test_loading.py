"""Batches in an order that depends only on (seed, step); rendered data cached on disk."""

import pytest
import torch
from torch.utils.data import Dataset

from dcgan_core.data import build_dataset
from dcgan_core.data.loading import InMemoryBatches, StreamingBatches, batch_indices, cache_dir, materialize, render_workers


class Numbered(Dataset):
    """Item i is an image filled with the value i / 100 - 1, so a batch shows which items it holds."""

    def __len__(self):
        return 40

    def __getitem__(self, i):
        return torch.full((1, 4, 4), i / 100 - 1)


def test_each_epoch_visits_every_image_once_in_a_new_order():
    epoch0 = torch.cat([batch_indices(40, 8, seed=1, step=s) for s in range(5)])
    epoch1 = torch.cat([batch_indices(40, 8, seed=1, step=s) for s in range(5, 10)])
    assert sorted(epoch0.tolist()) == list(range(40)) == sorted(epoch1.tolist())
    assert not torch.equal(epoch0, epoch1)


def test_batch_order_is_a_function_of_seed_and_step():
    assert torch.equal(batch_indices(40, 8, seed=1, step=7), batch_indices(40, 8, seed=1, step=7))
    assert not torch.equal(batch_indices(40, 8, seed=1, step=7), batch_indices(40, 8, seed=2, step=7))


def test_a_data_set_smaller_than_a_batch_is_refused():
    with pytest.raises(ValueError, match="fewer than one batch"):
        batch_indices(10, 16, seed=0, step=0)


def test_in_memory_and_streamed_batches_agree_and_resume_mid_stream():
    images = materialize(Numbered(), progress=False)
    mem = InMemoryBatches(images, 8, seed=3, device=torch.device("cpu"))
    stream = StreamingBatches(Numbered(), 8, seed=3, device=torch.device("cpu"), num_workers=0)
    from_start = [b for _, b in zip(range(7), mem.iterate(0))]
    from_step_4 = [b for _, b in zip(range(3), stream.iterate(4))]
    for a, b in zip(from_start[4:], from_step_4):
        assert torch.allclose(a, b, atol=1 / 255)


def test_rendered_data_is_cached_on_disk_and_reused():
    rooms = build_dataset("rooms", image_size=32, length=20, seed=5)
    first = materialize(rooms, cache_key="rooms-test", progress=False)
    cached = list(cache_dir().glob("rooms-test-*.npy"))
    assert len(cached) == 1
    assert first.dtype == torch.uint8 and first.shape == (20, 3, 32, 32)
    assert torch.equal(materialize(rooms, cache_key="rooms-test", progress=False), first)
    expected = torch.from_numpy(rooms.room(3).image).permute(2, 0, 1)
    assert torch.equal(first[3], expected)


def test_worker_processes_render_the_same_images_as_one_process():
    rooms = build_dataset("rooms", image_size=32, length=23, seed=5)
    serial = materialize(rooms, progress=False, workers=1)
    parallel = materialize(rooms, progress=False, workers=2, chunk=4)  # 6 tasks over 2 processes, last one short
    assert torch.equal(parallel, serial)


def test_render_workers_reads_the_environment(monkeypatch):
    monkeypatch.setenv("DCGAN_RENDER_WORKERS", "3")
    assert render_workers() == 3
    monkeypatch.setenv("DCGAN_RENDER_WORKERS", "many")
    with pytest.raises(ValueError, match="DCGAN_RENDER_WORKERS must be a whole number"):
        render_workers()
    monkeypatch.delenv("DCGAN_RENDER_WORKERS")
    assert 1 <= render_workers() <= 16


def test_a_damaged_cache_is_rendered_again():
    rooms = build_dataset("rooms", image_size=32, length=10, seed=5)
    first = materialize(rooms, cache_key="rooms-bad", progress=False)
    path = next(cache_dir().glob("rooms-bad-*.npy"))
    path.write_bytes(b"garbage")
    assert torch.equal(materialize(rooms, cache_key="rooms-bad", progress=False), first)


def test_build_dataset_names_the_choices_and_the_missing_path():
    with pytest.raises(ValueError, match="choose one of rooms, faces"):
        build_dataset("imagenet")
    with pytest.raises(ValueError, match="--data-root"):
        build_dataset("mnist")
    with pytest.raises(ValueError, match="RGB"):
        build_dataset("faces", channels=1)
