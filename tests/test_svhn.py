"""SVHN's cropped digits from MAT v5 files (dcgan_core.data.matfile, readers.SVHNDataset): tiny fake files written here."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from dcgan_core.data import build_dataset
from dcgan_core.data.matfile import MatFileError, read_mat_v5
from dcgan_core.data.readers import SVHNDataset

MX_CLASS = {"f8": 6, "u1": 9}  # MATLAB array classes this writer knows
MI_TYPE = {"u1": 2, "f8": 9}  # MAT storage types


def _element(kind: int, payload: bytes, order: str) -> bytes:
    return struct.pack(order + "II", kind, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def mat_matrix(name: str, array: np.ndarray, order: str = "<", stored: str | None = None) -> bytes:
    """One miMATRIX element: `array` (class from its dtype) with its data stored as `stored` (MATLAB stores small doubles as uint8)."""
    cls = MX_CLASS[array.dtype.str[1:]]
    stored = stored or array.dtype.str[1:]
    flags = _element(6, struct.pack(order + "II", cls, 0), order)
    dims = _element(5, struct.pack(order + f"{array.ndim}i", *array.shape), order)
    title = _element(1, name.encode(), order)
    data = _element(MI_TYPE[stored], np.asarray(array, dtype=order + stored).tobytes(order="F"), order)
    return _element(14, flags + dims + title + data, order)


def write_mat(path: Path, arrays: dict[str, np.ndarray], *, compress: bool = True, order: str = "<",
              stored: dict[str, str] | None = None) -> Path:
    """A MAT v5 file as MATLAB's `save` writes it (-v7: each variable zlib-compressed; -v6: not)."""
    header = b"MATLAB 5.0 MAT-file, written by tests/test_svhn.py".ljust(116) + b"\0" * 8
    header += struct.pack(order + "H", 0x0100) + (b"IM" if order == "<" else b"MI")
    body = b""
    for name, array in arrays.items():
        matrix = mat_matrix(name, array, order, (stored or {}).get(name))
        if compress:
            packed = zlib.compress(matrix)
            body += struct.pack(order + "II", 15, len(packed)) + packed
        else:
            body += matrix
    path.write_bytes(header + body)
    return path


def fake_svhn(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X (32, 32, 3, n) uint8 whose image i is filled with i, y (n, 1) double cycling 1..10."""
    images = np.broadcast_to(np.arange(n, dtype=np.uint8), (32, 32, 3, n)).copy()
    images[0, 1, 2, :] = 200  # one marked pixel: row 0, column 1, blue
    labels = (np.arange(n) % 10 + 1).astype(np.float64).reshape(n, 1)
    return images, labels


def write_svhn(folder: Path, n_train: int = 20, n_test: int = 10, **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train_32x32.mat", n_train), ("test_32x32.mat", n_test)):
        images, labels = fake_svhn(n)
        write_mat(folder / name, {"X": images, "y": labels}, **kw)
    return folder


@pytest.mark.parametrize("compress", [True, False])
def test_arrays_come_back_in_their_shape_class_and_column_order(tmp_path, compress):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    y = np.array([[1.5], [-2.0]])
    arrays = read_mat_v5(write_mat(tmp_path / "a.mat", {"X": x, "y": y}, compress=compress))
    assert arrays["X"].dtype == np.uint8 and np.array_equal(arrays["X"], x)
    assert arrays["y"].dtype == np.float64 and np.array_equal(arrays["y"], y)


def test_doubles_stored_as_bytes_and_big_endian_files_read_the_same(tmp_path):
    y = np.array([[10.0], [1.0], [3.0]])
    little = read_mat_v5(write_mat(tmp_path / "a.mat", {"y": y}, stored={"y": "u1"}))["y"]
    big = read_mat_v5(write_mat(tmp_path / "b.mat", {"y": y}, order=">", compress=False))["y"]
    assert little.dtype == big.dtype == np.float64
    assert np.array_equal(little, y) and np.array_equal(big, y)


def test_svhn_labels_10_are_the_digit_0_and_images_are_hwc(tmp_path):
    ds = SVHNDataset(write_svhn(tmp_path / "svhn"), train=True)
    assert len(ds) == 20 and ds.classes == [str(d) for d in range(10)]
    assert ds.labels.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] * 2  # y cycles 1..10
    assert ds.images.shape == (20, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.images[7, 5, 5].tolist() == [7, 7, 7] and ds.images[7, 0, 1].tolist() == [7, 7, 200]
    item = ds[3]
    assert item.shape == (3, 32, 32) and float(item.min()) >= -1 and float(item.max()) <= 1


def test_build_dataset_reads_the_test_split_from_a_parent_folder(tmp_path):
    write_svhn(tmp_path / "data" / "svhn", n_test=12)
    ds = build_dataset("svhn", root=tmp_path / "data", train=False, image_size=64)
    assert len(ds) == 12 and ds[0].shape == (3, 64, 64)


def test_a_missing_file_says_where_to_get_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no train_32x32.mat under .*ufldl.stanford.edu"):
        SVHNDataset(tmp_path / "empty")


def test_a_truncated_file_is_an_error_naming_it(tmp_path):
    path = write_mat(tmp_path / "train_32x32.mat", dict(zip("Xy", fake_svhn(4))), compress=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(MatFileError, match="train_32x32.mat: a data element claims .* bytes but .* follow"):
        SVHNDataset(tmp_path)


def test_a_compressed_element_claiming_more_than_deflate_can_hold_is_refused_before_allocating(tmp_path):
    lie = struct.pack("<II", 14, 2**31)  # a miMATRIX tag claiming 2 GiB, then nothing
    packed = zlib.compress(lie)
    path = tmp_path / "lie.mat"
    write_mat(path, {})
    path.write_bytes(path.read_bytes() + struct.pack("<II", 15, len(packed)) + packed)
    with pytest.raises(MatFileError, match="claims 2,147,483,648 bytes, more than its"):
        read_mat_v5(path)


def test_dimensions_that_disagree_with_the_data_are_refused(tmp_path):
    matrix = bytearray(mat_matrix("X", np.zeros((2, 2), dtype=np.uint8)))
    dims_at = 8 + 16 + 8  # matrix tag, array flags element, dimensions tag
    matrix[dims_at : dims_at + 8] = struct.pack("<2i", 2000, 2000)
    path = write_mat(tmp_path / "a.mat", {}, compress=False)
    path.write_bytes(path.read_bytes() + bytes(matrix))
    with pytest.raises(MatFileError, match=r"X claims shape \(2000, 2000\) \(4000000 values\) but holds 4 values"):
        read_mat_v5(path)


def test_labels_outside_1_to_10_and_other_files_are_refused(tmp_path):
    images, labels = fake_svhn(3)
    write_mat(tmp_path / "train_32x32.mat", {"X": images, "y": labels + 20})
    with pytest.raises(ValueError, match="labels must be whole digits 1..10"):
        SVHNDataset(tmp_path)
    (tmp_path / "train_32x32.mat").write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512) + b"\x89HDF\r\n")
    with pytest.raises(MatFileError, match="is a MAT v7.3 \\(HDF5\\) file"):
        SVHNDataset(tmp_path)
    (tmp_path / "train_32x32.mat").write_bytes(b"PK\x03\x04" + b"\0" * 200)
    with pytest.raises(MatFileError, match="not a MATLAB 5.0 MAT-file"):
        SVHNDataset(tmp_path)


def test_the_feature_probe_reads_svhn_with_its_digit_classes(tmp_path):
    from dcgan_core.analysis.feature_probe import LabelDraws, load_probe_data

    write_svhn(tmp_path / "svhn", n_train=30, n_test=10)
    data = load_probe_data("svhn", root=tmp_path / "svhn", image_size=32, n_train=30, n_test=10)
    assert data.classes == [str(d) for d in range(10)] and data.train.images.shape == (30, 3, 32, 32)
    assert sorted(data.train.labels.tolist()) == sorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 0] * 3)
    assert np.bincount(data.train.labels[LabelDraws(total=20).indices(data.train.labels, data.classes, 0)]).tolist() == [2] * 10
