"""Hostile and damaged files: refused in one line before anything big is allocated; atomic writes leave no litter.

Checkpoints are checked from their header (config ranges, every weight's shape and dtype, the
file's length) before a tensor exists, and their tensor bytes against a stored SHA-256.
"""

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from app_support import TIMEOUT, show_only
from streamlit.testing.v1 import AppTest

from dcgan_core import checkpoints, files, safetensors_files
from dcgan_core.analysis.instruments import FaceInstrument, InstrumentError, load_instrument, save_instrument
from dcgan_core.checkpoints import Checkpoint, export_model, load_checkpoint, load_model, save_checkpoint, verify_checkpoint
from dcgan_core.files import atomic_write, remove_stale_temp_files, write_bytes_atomic
from dcgan_core.models import ModelConfig, build_models
from dcgan_core.registry import list_models
from dcgan_core.safetensors_files import CHECKSUM_KEY, CheckpointError, read_safetensors_header

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = str(ROOT / "pages" / "2_samples.py")


def write_model(path: Path, config: ModelConfig, dtype=None) -> Path:
    g, d = build_models(config)
    save_checkpoint(path, Checkpoint(model_config=config, generator=g.state_dict(), discriminator=d.state_dict()),
                    dtype=dtype)
    return path


def rewrite_header(src: Path, dst: Path, drop: tuple[str, ...] = (), **metadata_json) -> Path:
    """Copy a safetensors file with its metadata edited (values JSON-encoded) and its tensor bytes untouched."""
    raw = src.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = {k: v for k, v in header["__metadata__"].items() if k not in drop}
    meta.update({k: json.dumps(v) for k, v in metadata_json.items()})
    header["__metadata__"] = meta
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    dst.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + n :])
    return dst


def huge_config_file(tmp_path: Path, **changes) -> Path:
    """A ~2 MB fp16 checkpoint (64 px, ngf 32, ndf 16) whose header then claims another config, e.g. ngf=100000."""
    real = write_model(tmp_path / "real.safetensors", ModelConfig(image_size=64, ngf=32, ndf=16), dtype=torch.float16)
    config = {**ModelConfig(image_size=64, ngf=32, ndf=16).to_dict(), **changes}
    return rewrite_header(real, tmp_path / "huge.safetensors", model_config=config)


def flip_a_byte(path: Path, from_end: int = 100) -> None:
    raw = bytearray(path.read_bytes())
    raw[-from_end] ^= 0x40
    path.write_bytes(bytes(raw))


# ------------------------------------------------------------------------ config ranges and shapes


@pytest.mark.parametrize("changes, complaint", [
    (dict(ngf=100000), "ngf must be between 1 and 1024, got 100000"),
    (dict(nz=1e9), "nz must be a whole number, got 1000000000.0"),
    (dict(image_size=4096), "image_size must be one of"),
])
def test_an_impossible_config_is_refused_before_any_network_is_built(tmp_path, monkeypatch, changes, complaint):
    path = huge_config_file(tmp_path, **changes)
    assert 1.5e6 < path.stat().st_size < 3e6
    monkeypatch.setattr(checkpoints, "Generator", None)  # building a network (even on meta) would now fail loudly
    with pytest.raises(CheckpointError, match=complaint) as e:
        load_model(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_weights_of_another_width_than_the_config_are_refused_from_the_header(tmp_path, tiny_config):
    wide = write_model(tmp_path / "wide.safetensors", ModelConfig(image_size=32, nz=16, ngf=16, ndf=8))
    lying = rewrite_header(wide, tmp_path / "lying.safetensors", model_config=tiny_config.to_dict())
    with pytest.raises(CheckpointError, match=r"weight generator\.blocks\.0\.0\.weight has shape \(16, 64, 4, 4\) "
                       r"but its stored model config .* needs \(16, 32, 4, 4\)"):
        load_checkpoint(lying)


def test_a_float_weight_stored_as_integers_is_refused(tmp_path, tiny_config):
    g, _ = build_models(tiny_config)
    sd = g.state_dict()
    sd["blocks.0.0.weight"] = torch.zeros_like(sd["blocks.0.0.weight"], dtype=torch.int32)
    save_checkpoint(tmp_path / "ints.safetensors", Checkpoint(model_config=tiny_config, generator=sd))
    with pytest.raises(CheckpointError, match="generator.blocks.0.0.weight is stored as I32"):
        load_checkpoint(tmp_path / "ints.safetensors")


def test_a_generator_only_file_still_loads(tmp_path, tiny_config):
    g, _ = build_models(tiny_config)
    save_checkpoint(tmp_path / "g.safetensors", Checkpoint(model_config=tiny_config, generator=g.state_dict()))
    assert load_model(tmp_path / "g.safetensors").discriminator is None


@pytest.fixture
def huge_beside_fine(tmp_path, monkeypatch) -> Path:
    """A models folder with a file whose config says ngf=100000 beside a fine model, and nothing else shown."""
    models = tmp_path / "models"
    models.mkdir()
    huge_config_file(tmp_path, ngf=100000).rename(models / "huge.safetensors")
    write_model(models / "fine.safetensors", ModelConfig(image_size=32, nz=16, ngf=8, ndf=8))
    show_only(models, monkeypatch, tmp_path)
    return models


def test_list_models_reports_an_impossible_config_as_a_problem(huge_beside_fine):
    entries, problems = list_models()
    assert [e.name for e in entries] == ["fine"]
    assert len(problems) == 1 and "huge.safetensors" in problems[0] and "ngf must be between 1 and 1024" in problems[0]


# ------------------------------------------------------------------------ checksums and truncation


def test_every_checkpoint_written_carries_the_sha256_of_its_tensor_bytes(tmp_path, tiny_config):
    path = write_model(tmp_path / "m.safetensors", tiny_config)
    header = read_safetensors_header(path)
    assert header.metadata[CHECKSUM_KEY] == hashlib.sha256(path.read_bytes()[header.data_start :]).hexdigest()
    assert load_checkpoint(path).checksum == header.metadata[CHECKSUM_KEY] == verify_checkpoint(path)


def test_an_exported_model_carries_a_checksum_too(tmp_path, tiny_config):
    src = write_model(tmp_path / "full.safetensors", tiny_config)
    export_model(src, tmp_path / "shipped.safetensors")
    assert verify_checkpoint(tmp_path / "shipped.safetensors") is not None


def test_a_flipped_byte_in_the_tensor_data_is_refused_as_corrupt(tmp_path, tiny_config):
    path = write_model(tmp_path / "m.safetensors", tiny_config)
    flip_a_byte(path)
    message = "tensor data does not match its checksum: the file is corrupt; re-export it or use an earlier checkpoint"
    with pytest.raises(CheckpointError, match=message):
        load_model(path)
    with pytest.raises(CheckpointError, match=message):
        verify_checkpoint(path)


def test_a_file_without_a_checksum_still_loads_and_says_it_was_not_verified(tmp_path, tiny_config):
    path = write_model(tmp_path / "m.safetensors", tiny_config)
    old = rewrite_header(path, tmp_path / "old.safetensors", drop=(CHECKSUM_KEY,))
    assert load_checkpoint(old).checksum is None and verify_checkpoint(old) is None
    assert torch.equal(load_checkpoint(old).generator["blocks.0.0.weight"], load_checkpoint(path).generator["blocks.0.0.weight"])


def test_the_shipped_models_verify_with_a_checksum_or_from_before_checksums(tmp_path):
    rooms = ROOT / "models" / "rooms" / "model.safetensors"  # exported 2026-12-03: carries one
    assert verify_checkpoint(rooms) == read_safetensors_header(rooms).metadata[CHECKSUM_KEY]
    assert verify_checkpoint(ROOT / "models" / "faces" / "model.safetensors") is None  # older: loads without one


def test_a_truncated_file_is_refused_from_its_size_before_tensors_are_read(tmp_path, tiny_config, monkeypatch):
    path = write_model(tmp_path / "m.safetensors", tiny_config)
    raw = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    monkeypatch.setattr(safetensors_files, "st_load", None)  # the tensors are never parsed
    with pytest.raises(CheckpointError, match=r"cut.safetensors is damaged or truncated: its header promises [\d,]+ bytes"):
        load_checkpoint(tmp_path / "cut.safetensors")


# ------------------------------------------------------------------------ instruments


def test_an_instrument_whose_architecture_does_not_fit_its_weights_is_refused_before_building(tmp_path):
    save_instrument(tmp_path / "faces.safetensors", FaceInstrument(width=4))
    rewrite_header(tmp_path / "faces.safetensors", tmp_path / "wide.safetensors", architecture={"width": 100000})
    with pytest.raises(InstrumentError, match="has shape .* but its stored instrument architecture needs"):
        load_instrument(tmp_path / "wide.safetensors")


def test_a_corrupt_instrument_is_refused_by_its_checksum(tmp_path):
    save_instrument(tmp_path / "faces.safetensors", FaceInstrument(width=4))
    assert isinstance(load_instrument(tmp_path / "faces.safetensors", kind="faces"), FaceInstrument)
    flip_a_byte(tmp_path / "faces.safetensors", from_end=10)
    with pytest.raises(InstrumentError, match="does not match its checksum"):
        load_instrument(tmp_path / "faces.safetensors")


# ------------------------------------------------------------------------ the app


def test_the_app_warns_about_an_impossible_config_and_keeps_working(huge_beside_fine):
    at = AppTest.from_file(SAMPLES, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("huge.safetensors" in w.value and "ngf must be between 1 and 1024" in w.value for w in at.sidebar.warning)
    assert not at.error and at.image  # the good model still draws


def test_the_app_shows_an_error_for_weights_that_do_not_fit_their_config(tmp_path, monkeypatch, tiny_config):
    models = tmp_path / "models"
    models.mkdir()
    wide = write_model(tmp_path / "wide.safetensors", ModelConfig(image_size=32, nz=16, ngf=16, ndf=8))
    rewrite_header(wide, models / "misfit.safetensors", model_config=tiny_config.to_dict())
    show_only(models, monkeypatch, tmp_path)
    at = AppTest.from_file(SAMPLES, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Could not load model **misfit**" in e.value and "has shape" in e.value for e in at.error)


# ------------------------------------------------------------------------ atomic writes


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_writer_killed_mid_write_leaves_a_temp_file_that_the_next_write_removes(tmp_path, monkeypatch):
    target = tmp_path / "last.safetensors"
    script = ("import os, signal, sys\nfrom dcgan_core.files import atomic_write\n"
              "with atomic_write(sys.argv[1]) as f:\n    f.write(b'half a checkpoint')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    assert subprocess.run([sys.executable, "-c", script, str(target)]).returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".last.safetensors.") and left[0].endswith(".tmp")
    assert not target.exists()  # the kill left the old state: no file, not half a file
    monkeypatch.setattr(files, "DEAD_WRITER_IDLE_SECONDS", 0)  # don't wait a minute for the writer to count as gone
    write_bytes_atomic(tmp_path / "other.bin", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.bin"]


def test_only_stale_temp_files_are_removed(tmp_path):
    now = time.time()
    dead, alive = _dead_pid(), os.getpid()

    def temp(name: str, age: float) -> Path:
        p = tmp_path / name
        p.write_bytes(b"partial")
        os.utime(p, (now - age, now - age))
        return p

    gone = [temp(f".a.png.{dead}.abcd_123.tmp", 120), temp(".b.json.x1y2z3w4.tmp", 2 * 3600), temp(f".c.npy.{alive}.qwertyui.tmp", 2 * 3600)]
    kept = [temp(f".d.png.{dead}.abcdefgh.tmp", 5),  # writer gone, but touched 5 s ago: maybe another machine's
            temp(f".e.png.{alive}.abcdefgh.tmp", 120),  # a live writer (this process)
            temp(".notes.tmp", 2 * 3600),  # not an atomic-write temp name
            temp("visible.12345678.tmp", 2 * 3600)]
    assert sorted(remove_stale_temp_files(tmp_path, now=now)) == sorted(gone)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in gone)


def test_a_failed_write_names_the_target_and_leaves_no_temp_file(tmp_path):
    import errno

    with pytest.raises(OSError) as e, atomic_write(tmp_path / "x.bin") as f:
        f.write(b"some")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "x.bin")
    assert list(tmp_path.iterdir()) == []
