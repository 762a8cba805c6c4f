"""The `dcgan` command on bad input and bad luck: one line naming the file and the fix, never a traceback.

Hostile checkpoints (a 2 MB file claiming ngf=100000), corrupt and truncated ones, a full disk
or an unwritable run folder while training, garbage CIFAR-10 batches, huge images in a training
folder, and a reader that closes the pipe early (`dcgan info RUN | head`).
"""

import errno
import json
import os
import pickle
import resource
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image
from test_hardening_checkpoints import flip_a_byte, huge_config_file, write_model

from dcgan_core import checkpoints
from dcgan_core.cli import EXIT_BROKEN_PIPE, EXIT_USAGE, EXIT_WRITE_FAILED, main
from dcgan_core.checkpoints import load_checkpoint
from dcgan_core.data.readers import MAX_IMAGE_PIXELS, ImageFolderDataset, UnreadableImageWarning
from dcgan_core.files import atomic_write
from dcgan_core.safetensors_files import CHECKSUM_KEY

TINY = ["--dataset", "rooms", "--image-size", "32", "--nz", "16", "--ngf", "8", "--ndf", "8", "--batch-size", "16",
        "--dataset-size", "64", "--log-every", "2", "--sample-every", "2", "--checkpoint-every", "2",
        "--device", "cpu", "--precision", "fp32", "--no-progress"]
GIB = 2**30


def run_cli(*args: str, memory_limit: int | None = None, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    """`dcgan ARGS` in a fresh process, optionally under an address-space limit (what a small server gives it)."""
    def limit():
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    return subprocess.run([sys.executable, "-m", "dcgan_core.cli", *args], preexec_fn=limit, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=300)


def error_line(stderr: str) -> str:
    """The single line a failed command printed on stderr."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A 2-step run folder: checkpoints/last.safetensors with optimizer state (resumable)."""
    run = tmp_path_factory.mktemp("tiny") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DCGAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        assert main(["train", *TINY, "--steps", "2", "--out", str(run)]) == 0
    return run


def copy_of(run: Path, dst: Path) -> Path:
    (dst / "checkpoints").mkdir(parents=True)
    (dst / "checkpoints" / "last.safetensors").write_bytes((run / "checkpoints" / "last.safetensors").read_bytes())
    return dst


# ------------------------------------------------------------------------ hostile checkpoints


def test_a_2mb_checkpoint_claiming_ngf_100000_is_refused_in_one_line_under_1gb_of_memory(tmp_path):
    huge = huge_config_file(tmp_path, ngf=100000)
    result = run_cli("sample", "--model", str(huge), "--out", str(tmp_path / "g.png"), memory_limit=GIB)
    assert result.returncode == EXIT_USAGE
    line = error_line(result.stderr)
    assert str(huge) in line and "ngf must be between 1 and 1024, got 100000" in line
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("command", ["info", "eval", "export", "probe", "arithmetic", "resume", "init-from"])
def test_every_command_that_loads_a_model_refuses_an_impossible_config_in_one_line(tmp_path, capsys, command):
    huge = huge_config_file(tmp_path, ngf=100000)
    if command == "resume":
        (tmp_path / "run" / "checkpoints").mkdir(parents=True)
        huge.rename(tmp_path / "run" / "checkpoints" / "last.safetensors")
    argv = {
        "info": ["info", str(huge)],
        "eval": ["eval", "--model", str(huge), "--n", "8"],
        "export": ["export", str(huge), "--out", str(tmp_path / "out.safetensors")],
        "probe": ["probe", "--model", str(huge), "--n-train", "8", "--n-test", "8"],
        "arithmetic": ["arithmetic", "--model", str(huge), "--draws", "1", "--pool", "8"],
        "resume": ["train", "--resume", str(tmp_path / "run"), "--no-progress"],
        "init-from": ["train", *TINY, "--image-size", "64", "--ngf", "32", "--ndf", "16", "--nz", "100", "--steps", "1",
                      "--init-from", str(huge), "--out", str(tmp_path / "fine_tune")],
    }[command]
    assert main(argv) == EXIT_USAGE
    assert "ngf must be between 1 and 1024, got 100000" in error_line(capsys.readouterr().err)


def test_sample_refuses_a_checkpoint_with_a_flipped_byte(tiny_run, tmp_path, capsys):
    run = copy_of(tiny_run, tmp_path / "run")
    flip_a_byte(run / "checkpoints" / "last.safetensors")
    assert main(["sample", "--model", str(run), "--out", str(tmp_path / "g.png")]) == EXIT_USAGE
    line = error_line(capsys.readouterr().err)
    assert "last.safetensors: tensor data does not match its checksum: the file is corrupt" in line
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == EXIT_USAGE
    assert "does not match its checksum" in error_line(capsys.readouterr().err)


def test_info_reports_a_truncated_checkpoint_as_not_resumable_and_says_why(tiny_run, tmp_path, capsys):
    run = copy_of(tiny_run, tmp_path / "run")
    path = run / "checkpoints" / "last.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert main(["info", str(run)]) == EXIT_USAGE
    out = capsys.readouterr()
    info = json.loads(out.out)
    assert info["step"] == 2 and info["resumable"] is False and info["intact"] is False
    assert "damaged or truncated" in info["problem"] and "damaged or truncated" in error_line(out.err)


def test_info_says_whether_the_tensor_data_was_verified(tiny_run, tmp_path, capsys):
    assert main(["info", str(tiny_run)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["intact"] and info["resumable"] and info["checksum"].endswith("(verified)")
    old = write_model(tmp_path / "old.safetensors", load_checkpoint(tiny_run / "checkpoints" / "last.safetensors").model_config)
    from test_hardening_checkpoints import rewrite_header

    rewrite_header(old, old, drop=(CHECKSUM_KEY,))
    assert main(["info", str(old)]) == 0
    assert json.loads(capsys.readouterr().out)["checksum"].startswith("none (written before checksums")


def test_info_piped_into_a_reader_that_closes_early_exits_quietly(tiny_run):
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` having read its line and gone
    try:
        result = run_cli("info", str(tiny_run), stdout=write_end)
    finally:
        os.close(write_end)
    assert result.returncode == EXIT_BROKEN_PIPE
    assert result.stderr == ""


# ------------------------------------------------------------------------ a run folder that cannot be written


@pytest.mark.parametrize("code, fix", [(errno.ENOSPC, "free some space on the disk of"), (errno.EROFS, "make")])
def test_a_failed_checkpoint_write_ends_training_in_one_line_and_keeps_the_last_checkpoint(
        tmp_path, capsys, monkeypatch, code, fix):
    run = tmp_path / "run"
    real_write, calls = checkpoints.write_bytes_atomic, []

    def disk_fills_on_the_second_checkpoint(path, data):
        calls.append(path)
        if len(calls) == 1:
            return real_write(path, data)
        with atomic_write(path) as f:
            f.write(data[: len(data) // 2])
            raise OSError(code, os.strerror(code))

    monkeypatch.setattr(checkpoints, "write_bytes_atomic", disk_fills_on_the_second_checkpoint)
    assert main(["train", *TINY, "--steps", "4", "--out", str(run)]) == EXIT_WRITE_FAILED
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot write {run / 'checkpoints' / 'last.safetensors'} ({os.strerror(code)}) at step 4")
    assert f"{fix} {run}" in last and f"continue from the last checkpoint (step 2, intact) with `dcgan train --resume {run}`" in last
    assert load_checkpoint(run / "checkpoints" / "last.safetensors").step == 2
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["last.safetensors"]  # no temp file left
    monkeypatch.undo()  # space freed: the run continues
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 0


def test_a_folder_where_a_sample_grid_must_go_is_named_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "samples" / "step_000002.png").mkdir(parents=True)  # as root, chmod cannot make a folder unwritable
    assert main(["train", *TINY, "--steps", "2", "--out", str(run)]) == EXIT_WRITE_FAILED
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"cannot write {run / 'samples' / 'step_000002.png'} (Is a directory)" in last
    assert "move the folder" in last and "no checkpoint was written yet" in last


# ------------------------------------------------------------------------ data


def test_garbage_cifar_batches_are_named_with_the_fix_in_one_line(tmp_path, capsys):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(b"<html>404 Not Found</html>" * 40)
    argv = ["data", "preview", "--dataset", "cifar10", "--data-root", str(tmp_path), "--out", str(tmp_path / "p.png")]
    assert main(argv) == EXIT_USAGE
    line = error_line(capsys.readouterr().err)
    assert f"{folder / 'data_batch_1'} is not a CIFAR-10 python batch file" in line
    assert "download cifar-10-python.tar.gz" in line and "extract it" in line


def test_a_cifar_batch_that_is_a_pickle_of_something_else_is_named_too(tmp_path, capsys):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        (folder / name).write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    assert main(["train", "--dataset", "cifar10", "--data-root", str(tmp_path), "--image-size", "32", "--steps", "1",
                 "--out", str(tmp_path / "run"), "--no-progress", "--device", "cpu"]) == EXIT_USAGE
    assert "it holds a list, not a dict" in error_line(capsys.readouterr().err.strip().splitlines()[-1])


def png_declaring(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header (IHDR) claims width x height: cheap to write, ruinous to decode."""
    import io

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(buf, format="PNG")
    raw = bytearray(buf.getvalue())
    ihdr = raw.index(b"IHDR")
    raw[ihdr + 4 : ihdr + 12] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    raw[ihdr + 17 : ihdr + 21] = zlib.crc32(bytes(raw[ihdr : ihdr + 17])).to_bytes(4, "big")
    return bytes(raw)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL's own, at 89 MP; ours is lower
def test_a_huge_image_in_a_training_folder_is_skipped_from_its_header_and_counted(tmp_path):
    Image.new("RGB", (40, 30), (10, 200, 10)).save(tmp_path / "a_fine.png")
    (tmp_path / "b_huge.png").write_bytes(png_declaring(13_000, 13_000))  # 169 megapixels
    with Image.open(tmp_path / "b_huge.png") as im:
        assert im.size == (13_000, 13_000)  # PIL believes the header
    ds = ImageFolderDataset(tmp_path, image_size=32)
    with pytest.warns(UnreadableImageWarning, match=r"b_huge.png \(13000x13000 pixels, more than the 40 megapixels"):
        image = ds[1]
    assert image.shape == (3, 32, 32) and ds.skipped_count == 1
    assert "downscale it or remove it" in ds.skipped_report()
    from dcgan_core.analysis.units import MAX_UPLOAD_PIXELS

    assert MAX_UPLOAD_PIXELS == MAX_IMAGE_PIXELS  # one bound for uploads and training images
