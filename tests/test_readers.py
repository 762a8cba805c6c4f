"""Readers for real data sets on local paths: every fixture is written into tmp_path."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from dcgan_core.data.readers import (
    CIFAR10_CLASSES,
    IMAGE_EXTENSIONS,
    CIFAR10Dataset,
    ImageFolderDataset,
    LSUNDataset,
    MNISTDataset,
    UnreadableImageWarning,
    center_crop_resize,
    to_tensor,
)

RED = (255, 0, 0)
BLUE = (0, 0, 255)


# --- helpers ---------------------------------------------------------------------------


def noise_image(size: tuple[int, int] = (40, 30), seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    pixels = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels if channels == 3 else pixels[:, :, 0])


def encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def write_truncated_png(path: Path) -> None:
    data = encoded(noise_image((64, 64), seed=7), "PNG")
    path.write_bytes(data[: len(data) // 2])  # header fine, pixel data cut off


def assert_valid_item(item: torch.Tensor, channels: int, image_size: int) -> None:
    assert item.dtype == torch.float32
    assert item.shape == (channels, image_size, image_size)
    assert torch.isfinite(item).all()
    assert item.min() >= -1.0 and item.max() <= 1.0


def pixels_of(item: torch.Tensor) -> np.ndarray:
    """Invert to_tensor: float (C, H, W) in [-1, 1] -> uint8 (H, W, C)."""
    return ((item + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def read_all_counting_warnings(dataset) -> tuple[list[torch.Tensor], list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # so only the dataset's own once-logic limits warnings
        items = [dataset[index] for index in range(len(dataset))]
    return items, [w for w in caught if issubclass(w.category, UnreadableImageWarning)]


# --- center_crop_resize / to_tensor ------------------------------------------------------


def test_center_crop_keeps_the_middle_of_a_wide_image():
    # 300x100: blue side bars, a red 100x100 square in the middle.
    image = Image.new("RGB", (300, 100), BLUE)
    image.paste(Image.new("RGB", (100, 100), RED), (100, 0))

    pixels = center_crop_resize(image, 16)

    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8
    red, green, blue = pixels.reshape(-1, 3).mean(axis=0)
    assert red > 240 and blue < 15 and green < 15


def test_center_crop_keeps_the_middle_of_a_tall_image():
    image = Image.new("RGB", (50, 200), BLUE)
    image.paste(Image.new("RGB", (50, 50), RED), (0, 75))

    pixels = center_crop_resize(image, 8)

    assert pixels[..., 0].min() > 230 and pixels[..., 2].max() < 25


def test_big_downscale_averages_instead_of_aliasing():
    # 1-pixel black/white stripes: a nearest-neighbour resize would give pure black or
    # white; a proper filter gives mid grey.
    stripes = np.zeros((512, 512), dtype=np.uint8)
    stripes[:, ::2] = 255
    pixels = center_crop_resize(Image.fromarray(stripes), 16, channels=1)
    assert abs(float(pixels.mean()) - 127.5) < 3
    assert pixels.max() - pixels.min() < 10


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "CMYK", "I;16", "I", "F", "YCbCr"])
def test_any_pil_mode_becomes_uint8_with_the_requested_channels(mode, channels):
    source = noise_image((30, 20), seed=1).convert(mode) if mode not in ("I;16", "I", "F") else None
    if mode == "I;16":
        source = Image.fromarray(np.full((20, 30), 40000, dtype=np.uint16))
    elif mode == "I":
        source = Image.fromarray(np.full((20, 30), 40000, dtype=np.int32))
    elif mode == "F":
        source = Image.fromarray(np.full((20, 30), 0.5, dtype=np.float32))
    assert source.mode == mode

    pixels = center_crop_resize(source, 12, channels=channels)

    assert pixels.shape == (12, 12, channels) and pixels.dtype == np.uint8


def test_sixteen_bit_images_are_scaled_not_clipped_to_white():
    sixteen_bit = Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16))  # half of 65535
    assert sixteen_bit.mode == "I;16"
    pixels = center_crop_resize(sixteen_bit, 8, channels=1)
    assert np.all(pixels == 128)


def test_transparent_pixels_become_white_not_their_hidden_colour():
    transparent_black = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert np.all(center_crop_resize(transparent_black, 4) == 255)

    opaque_red = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    assert np.all(center_crop_resize(opaque_red, 4)[0, 0] == [255, 0, 0])


def test_palette_image_uses_palette_colours_not_indices():
    palette_image = Image.new("RGB", (10, 10), RED).convert("P")
    assert palette_image.mode == "P"
    assert np.all(center_crop_resize(palette_image, 4)[..., 0] == 255)


def test_grayscale_to_three_channels_replicates_and_rgb_to_one_channel_is_luma():
    gray = Image.new("L", (10, 10), 77)
    rgb = center_crop_resize(gray, 4, channels=3)
    assert np.all(rgb == 77)

    luma = center_crop_resize(Image.new("RGB", (10, 10), RED), 4, channels=1)
    assert luma.shape == (4, 4, 1)
    assert np.all(luma == 76)  # ITU-R 601-2: 0.299 * 255


def test_center_crop_resize_rejects_bad_arguments():
    with pytest.raises(ValueError, match="channels"):
        center_crop_resize(Image.new("RGB", (4, 4)), 4, channels=2)
    with pytest.raises(ValueError, match="image_size"):
        center_crop_resize(Image.new("RGB", (4, 4)), 0)


def test_to_tensor_is_channels_first_in_minus_one_to_one():
    pixels = np.zeros((2, 3, 3), dtype=np.uint8)
    pixels[..., 0] = 255  # red channel full
    pixels[0, 1, 2] = 51  # blue of one pixel

    tensor = to_tensor(pixels)

    assert tensor.dtype == torch.float32 and tensor.shape == (3, 2, 3)
    assert torch.all(tensor[0] == 1.0)
    assert torch.all(tensor[1] == -1.0)
    assert tensor[2, 0, 1] == pytest.approx(51 / 127.5 - 1)
    with pytest.raises(TypeError, match="uint8"):
        to_tensor(pixels.astype(np.float32))


# --- ImageFolderDataset ------------------------------------------------------------------


def make_class_folders(root: Path) -> None:
    (root / "dogs" / "puppies").mkdir(parents=True)
    (root / "cats").mkdir()
    noise_image(seed=1).save(root / "cats" / "b.JPG", format="JPEG")
    noise_image(seed=2).save(root / "cats" / "a.png")
    noise_image(seed=3).save(root / "dogs" / "puppies" / "c.WebP", format="WEBP")
    noise_image(seed=4).save(root / "dogs" / "d.jpeg", format="JPEG")
    noise_image(seed=5).save(root / "loose.png")
    (root / "notes.txt").write_text("not an image")
    (root / "cats" / "._a.png").write_bytes(b"macOS resource fork, not an image")


def test_image_folder_finds_nested_images_case_insensitively_with_class_labels(tmp_path):
    make_class_folders(tmp_path)

    dataset = ImageFolderDataset(tmp_path, image_size=16)

    relative = [path.relative_to(tmp_path).as_posix() for path in dataset.paths]
    assert relative == ["cats/a.png", "cats/b.JPG", "dogs/d.jpeg", "dogs/puppies/c.WebP", "loose.png"]
    assert dataset.classes == ["cats", "dogs"]
    assert dataset.labels.dtype == np.int64
    assert dataset.labels.tolist() == [0, 0, 1, 1, -1]
    for item in dataset:
        assert_valid_item(item, 3, 16)
    assert dataset.skipped_count == 0


def test_image_folder_item_matches_center_crop_resize_of_the_file(tmp_path):
    image = noise_image((48, 32), seed=9)
    image.save(tmp_path / "only.png")

    dataset = ImageFolderDataset(tmp_path, image_size=8, channels=1)

    expected = to_tensor(center_crop_resize(image, 8, channels=1))
    assert torch.equal(dataset[0], expected)
    assert dataset.classes == [] and dataset.labels.tolist() == [-1]


def test_image_folder_applies_exif_orientation_before_cropping(tmp_path):
    # Stored sideways (60x20) with EXIF orientation 6: viewers rotate it 90 degrees
    # clockwise, so the red left half of the centre square ends up on top.
    stored = Image.new("RGB", (60, 20), (0, 255, 0))
    stored.paste(Image.new("RGB", (10, 20), RED), (20, 0))
    stored.paste(Image.new("RGB", (10, 20), BLUE), (30, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    stored.save(tmp_path / "phone.jpg", format="JPEG", quality=95, exif=exif)

    pixels = pixels_of(ImageFolderDataset(tmp_path, image_size=8)[0])

    assert pixels[:3, :, 0].min() > 200 and pixels[:3, :, 2].max() < 60  # top: red
    assert pixels[-3:, :, 2].min() > 200 and pixels[-3:, :, 0].max() < 60  # bottom: blue


def test_image_folder_skips_corrupt_files_counts_them_and_warns_once(tmp_path):
    for index in range(4):
        noise_image(seed=index).save(tmp_path / f"good_{index}.png")
    (tmp_path / "garbage.jpg").write_bytes(b"\x00this is not a jpeg at all" * 10)
    write_truncated_png(tmp_path / "truncated.png")
    (tmp_path / "empty.webp").write_bytes(b"")

    dataset = ImageFolderDataset(tmp_path, image_size=8)
    assert len(dataset) == 7
    items, skip_warnings = read_all_counting_warnings(dataset)

    assert len(skip_warnings) == 1
    assert "further" in str(skip_warnings[0].message)
    assert dataset.skipped_count == 3
    assert sorted(item for item, _ in dataset._unreadable.values()) == [
        "empty.webp",
        "garbage.jpg",
        "truncated.png",
    ]
    assert dataset.skipped_report().startswith("skipped 3 unreadable files, e.g. ")
    for item in items:
        assert_valid_item(item, 3, 8)

    # A second epoch neither re-decodes nor re-warns, and the count stays exact.
    _, second_warnings = read_all_counting_warnings(dataset)
    assert second_warnings == [] and dataset.skipped_count == 3
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_skipped_item_is_replaced_by_the_next_readable_one_wrapping_around(tmp_path):
    noise_image(seed=1).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"broken")
    (tmp_path / "c.png").write_bytes(b"broken")

    dataset = ImageFolderDataset(tmp_path, image_size=8)

    with pytest.warns(UnreadableImageWarning, match="b.png"):
        assert torch.equal(dataset[1], dataset[0])  # b, c unreadable -> wraps to a
    assert dataset.skipped_count == 2


def test_find_unreadable_scans_everything_up_front(tmp_path):
    noise_image(seed=1).save(tmp_path / "fine.png")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.jpg").write_bytes(b"garbage")
    write_truncated_png(tmp_path / "sub" / "y.png")
    dataset = ImageFolderDataset(tmp_path, image_size=8)
    seen_progress = []

    unreadable = dataset.find_unreadable(progress=lambda done, total: seen_progress.append((done, total)))

    assert [entry.item for entry in unreadable] == ["sub/x.jpg", "sub/y.png"]
    assert all(entry.error for entry in unreadable)
    assert seen_progress[-1] == (3, 3)
    assert dataset.check() == unreadable
    assert "sub/x.jpg" in dataset.skipped_report()


def test_all_corrupt_folder_raises_a_clear_error(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"nope")
    (tmp_path / "b.png").write_bytes(b"nope")
    dataset = ImageFolderDataset(tmp_path, image_size=8)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableImageWarning)
        with pytest.raises(RuntimeError, match="none of the 2 images .* could be read"):
            dataset[0]


def test_empty_or_missing_folder_raises_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .jpg/.jpeg/.png/.webp files under"):
        ImageFolderDataset(tmp_path)

    (tmp_path / "scan.bmp").write_bytes(b"BM")
    with pytest.raises(FileNotFoundError, match=r"found 1 \.bmp"):
        ImageFolderDataset(tmp_path)

    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolderDataset(tmp_path / "nowhere")


def test_image_extensions_are_lowercase_with_dots():
    assert IMAGE_EXTENSIONS == (".jpg", ".jpeg", ".png", ".webp")


# --- LSUNDataset -------------------------------------------------------------------------


@pytest.fixture
def lsun_path(tmp_path) -> Path:
    lmdb = pytest.importorskip("lmdb")
    path = tmp_path / "bedroom_train_lmdb"
    environment = lmdb.open(str(path), map_size=1 << 24)
    with environment.begin(write=True) as transaction:
        transaction.put(b"0001", encoded(noise_image((40, 30), seed=1), "WEBP"))
        transaction.put(b"0002", encoded(noise_image((30, 40), seed=2), "JPEG"))
        transaction.put(b"0003", b"\xff\xd8 corrupt jpeg")
        transaction.put(b"0004", encoded(noise_image((32, 32), seed=4), "JPEG"))
    environment.close()
    return path


def test_lsun_reads_webp_and_jpeg_values_and_skips_a_corrupt_one(lsun_path):
    dataset = LSUNDataset(lsun_path, image_size=16)

    assert len(dataset) == 4 and dataset.labels is None
    assert dataset.key(2) == b"0003"
    items, skip_warnings = read_all_counting_warnings(dataset)

    assert len(skip_warnings) == 1 and "0003" in str(skip_warnings[0].message)
    assert dataset.skipped_count == 1
    assert dataset.skipped_report().startswith("skipped 1 unreadable file, e.g. 0003: ")
    for item in items:
        assert_valid_item(item, 3, 16)
    assert torch.equal(items[2], items[3])  # the corrupt item was replaced by the next one
    assert [entry.item for entry in dataset.find_unreadable()] == ["0003"]


def test_lsun_max_images_grayscale_and_data_mdb_path(lsun_path):
    dataset = LSUNDataset(lsun_path / "data.mdb", image_size=8, channels=1, max_images=2)

    assert len(dataset) == 2
    assert_valid_item(dataset[1], 1, 8)


def test_lsun_survives_pickling_and_two_readers_of_one_database(lsun_path):
    dataset = LSUNDataset(lsun_path, image_size=8)
    first = dataset[0]

    clone = pickle.loads(pickle.dumps(dataset))  # what a spawned DataLoader worker gets
    second_reader = LSUNDataset(lsun_path, image_size=8)  # lmdb forbids a second open per process

    assert torch.equal(clone[0], first)
    assert torch.equal(second_reader[0], first)


def test_lsun_works_with_dataloader_workers(lsun_path):
    dataset = LSUNDataset(lsun_path, image_size=8)
    dataset[0]  # the parent opens its own environment before the workers fork
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadableImageWarning)
        batches = list(loader)

    assert torch.cat(batches).shape == (4, 3, 8, 8)


def test_lsun_errors_are_actionable(tmp_path, lsun_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LSUNDataset(tmp_path / "kitchen_train_lmdb")
    with pytest.raises(FileNotFoundError, match="did you mean one of: bedroom_train_lmdb"):
        LSUNDataset(tmp_path)

    monkeypatch.setitem(__import__("sys").modules, "lmdb", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install lmdb"):
        LSUNDataset(lsun_path)


# --- CIFAR10Dataset ----------------------------------------------------------------------


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) -> CIFAR rows: 1024 R, then 1024 G, then 1024 B, each row-major."""
    return np.stack(
        [np.concatenate([image[:, :, 0].ravel(), image[:, :, 1].ravel(), image[:, :, 2].ravel()]) for image in images]
    ).astype(np.uint8)


def write_cifar_python(folder: Path, per_batch: int = 3, seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Write batches like the real ones (dict of bytes keys, protocol 2); return what was written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in [f"data_batch_{n}" for n in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        labels = [int(label) for label in rng.integers(0, 10, size=per_batch)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": cifar_rows(images),
            b"filenames": [f"img_{i}.png".encode() for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = (images, labels)
    meta = {b"label_names": [name.encode() for name in CIFAR10_CLASSES], b"num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return written


def test_cifar_python_batches_keep_pixel_order_and_labels(tmp_path):
    written = write_cifar_python(tmp_path / "cifar-10-batches-py")

    train = CIFAR10Dataset(tmp_path, train=True)  # the parent folder is fine too
    test = CIFAR10Dataset(tmp_path / "cifar-10-batches-py", train=False)

    assert len(train) == 15 and len(test) == 3
    assert train.classes == CIFAR10_CLASSES and train.classes[0] == "airplane"
    expected_train_labels = sum((written[f"data_batch_{n}"][1] for n in range(1, 6)), [])
    assert train.labels.dtype == np.int64 and train.labels.tolist() == expected_train_labels
    assert test.labels.tolist() == written["test_batch"][1]

    first_image = written["data_batch_1"][0][0]
    assert np.array_equal(pixels_of(train[0]), first_image)
    assert np.array_equal(pixels_of(train[3]), written["data_batch_2"][0][0])
    assert np.array_equal(pixels_of(test[2]), written["test_batch"][0][2])
    # Spelled out: row[1] is the red value of pixel (row 0, column 1); row[1024] is green of (0, 0).
    row = cifar_rows(first_image[None])[0]
    assert pixels_of(train[0])[0, 1, 0] == row[1]
    assert pixels_of(train[0])[0, 0, 1] == row[1024]
    assert pixels_of(train[0])[1, 0, 2] == row[2048 + 32]


@pytest.mark.parametrize("style", ["numpy 1.x (the real files)", "protocol 5"])
def test_cifar_pickles_from_other_numpy_versions_and_protocols_load(tmp_path, style):
    folder = tmp_path / "cifar-10-batches-py"
    written = write_cifar_python(folder)
    images, labels = written["test_batch"]
    batch = {b"labels": labels, b"data": cifar_rows(images)}
    if style == "protocol 5":
        payload = pickle.dumps(batch, protocol=5)
        assert b"_frombuffer" in payload
    else:
        payload = pickle.dumps(batch, protocol=2).replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        assert b"numpy.core.multiarray\n_reconstruct" in payload
    (folder / "test_batch").write_bytes(payload)

    dataset = CIFAR10Dataset(folder, train=False)

    assert np.array_equal(pixels_of(dataset[0]), images[0])
    assert dataset.labels.tolist() == labels


def test_cifar_resizes_and_converts_on_request(tmp_path):
    write_cifar_python(tmp_path / "cifar-10-batches-py")

    dataset = CIFAR10Dataset(tmp_path, train=False, image_size=64, channels=1)

    assert_valid_item(dataset[0], 1, 64)


def test_cifar_binary_version_is_read_too(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    written = {}
    for name in [f"data_batch_{n}.bin" for n in range(1, 6)] + ["test_batch.bin"]:
        images = rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=2).astype(np.uint8)
        records = np.concatenate([labels[:, None], cifar_rows(images)], axis=1)
        (folder / name).write_bytes(records.tobytes())
        written[name] = (images, labels)
    (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_CLASSES) + "\n\n")

    dataset = CIFAR10Dataset(tmp_path, train=False)

    assert dataset.classes == CIFAR10_CLASSES
    assert dataset.labels.tolist() == written["test_batch.bin"][1].tolist()
    assert np.array_equal(pixels_of(dataset[1]), written["test_batch.bin"][0][1])


class RunsAShellCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("payload", ["os.system", "eval"])
def test_malicious_cifar_pickle_is_refused_and_not_executed(tmp_path, payload):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_python(folder)
    marker = tmp_path / "pwned"
    evil = RunsAShellCommand(marker) if payload == "os.system" else CallsEval()
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": evil, b"labels": []}, protocol=2))

    with pytest.raises(pickle.UnpicklingError, match="refusing to load global .*data_batch_3"):
        CIFAR10Dataset(tmp_path)
    assert not marker.exists()


def test_cifar_missing_files_are_named(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_python(folder)
    (folder / "data_batch_5").unlink()

    with pytest.raises(FileNotFoundError, match="missing data_batch_5"):
        CIFAR10Dataset(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"expected cifar-10-batches-py/ \(data_batch_1"):
        CIFAR10Dataset(empty)
    (empty / "cifar-10-python.tar.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="extract it"):
        CIFAR10Dataset(empty)


def test_cifar_wrong_data_shape_is_a_clear_error(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_python(folder)
    bad = {b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}
    (folder / "test_batch").write_bytes(pickle.dumps(bad, protocol=2))

    with pytest.raises(ValueError, match=r"test_batch: b'data' must be a uint8 array of shape \(N, 3072\)"):
        CIFAR10Dataset(folder, train=False)


# --- MNISTDataset ------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    magic = (0x08 << 8) | array.ndim
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, split: str, count: int, compress: bool, dot_spelling: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    separator = "." if dot_spelling else "-"
    for stem, kind, array in ((f"{split}-images", "idx3", images), (f"{split}-labels", "idx1", labels)):
        name = f"{stem}{separator}{kind}-ubyte"
        if compress:
            with gzip.open(folder / f"{name}.gz", "wb") as file:
                file.write(idx_bytes(array))
        else:
            (folder / name).write_bytes(idx_bytes(array))
    return images, labels


def test_mnist_reads_plain_and_gzipped_idx_files(tmp_path):
    train_images, train_labels = write_mnist(tmp_path, "train", 6, compress=False, seed=1)
    test_images, test_labels = write_mnist(tmp_path, "t10k", 4, compress=True, seed=2)

    train = MNISTDataset(tmp_path, train=True, image_size=28)
    test = MNISTDataset(tmp_path, train=False, image_size=28)

    assert len(train) == 6 and len(test) == 4
    assert train.classes == [str(digit) for digit in range(10)]
    assert train.labels.dtype == np.int64 and train.labels.tolist() == train_labels.tolist()
    assert test.labels.tolist() == test_labels.tolist()
    assert np.array_equal(pixels_of(train[5])[:, :, 0], train_images[5])
    assert np.array_equal(pixels_of(test[0])[:, :, 0], test_images[0])


def test_mnist_default_size_dot_spelling_raw_subfolder_and_three_channels(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", "t10k", 3, compress=False, dot_spelling=True)

    gray = MNISTDataset(tmp_path, train=False)
    rgb = MNISTDataset(tmp_path, train=False, channels=3)

    assert_valid_item(gray[0], 1, 32)
    item = rgb[0]
    assert_valid_item(item, 3, 32)
    assert torch.equal(item[0], item[1]) and torch.equal(item[1], item[2])


def test_mnist_bad_magic_number_names_the_file(tmp_path):
    write_mnist(tmp_path, "train", 2, compress=False)
    # The labels file where the images file should be: a classic mix-up.
    (tmp_path / "train-images-idx3-ubyte").write_bytes((tmp_path / "train-labels-idx1-ubyte").read_bytes())

    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: bad magic number 0x00000801"):
        MNISTDataset(tmp_path)


def test_mnist_truncated_and_mismatched_files_are_refused(tmp_path):
    write_mnist(tmp_path, "train", 3, compress=False)
    images_path = tmp_path / "train-images-idx3-ubyte"
    complete = images_path.read_bytes()
    images_path.write_bytes(complete[:-100])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: file is truncated"):
        MNISTDataset(tmp_path)

    images_path.write_bytes(complete)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(2, dtype=np.uint8)))
    with pytest.raises(ValueError, match="has 2 labels but .* has 3 images"):
        MNISTDataset(tmp_path)


def test_mnist_corrupt_gzip_and_missing_files_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        MNISTDataset(tmp_path)

    write_mnist(tmp_path, "train", 2, compress=True)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz"):
        MNISTDataset(tmp_path)
