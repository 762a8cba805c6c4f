"""Near-duplicate removal (paper 4.1.1; issue 23, item 1): the autoencoder hash finds planted copies, re-encodes,
shifts and resizes, leaves distinct images alone, and its exclusion list makes `dcgan train` skip them."""

import json

import numpy as np
import pytest
from PIL import Image

from dcgan_core.analysis.dedup import (
    DedupConfig, aligned_distance, blur, exact_duplicates, exclusions, find_duplicates, read_crops,
)
from dcgan_core.cli import main
from dcgan_core.data import build_dataset
from dcgan_core.data.faces import render_face
from dcgan_core.data.readers import read_exclusion_list
from dcgan_core.data.rooms import render_room
from dcgan_core.safetensors_files import read_metadata
from dcgan_core.train import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")
N_DISTINCT = 24  # 12 rooms and 12 faces at 64 px
# planted duplicate -> its original
PLANTED = {"copy_of_r00.png": "r00.png", "jpeg70_of_f01.jpg": "f01.png", "shift_of_r02.png": "r02.png",
           "resize_of_f03.png": "f03.png"}
FAST = DedupConfig(threads=1, seed=0, epochs=4)


def plant(folder, name: str, original: str) -> None:
    image = Image.open(folder / original).convert("RGB")
    if name.startswith("copy"):
        (folder / name).write_bytes((folder / original).read_bytes())
    elif name.startswith("jpeg70"):
        image.save(folder / name, quality=70)
    elif name.startswith("shift"):  # 2 px right, 1 px down, the edge replicated
        a = np.pad(np.asarray(image), ((1, 0), (2, 0), (0, 0)), mode="edge")[:64, :64]
        Image.fromarray(a).save(folder / name)
    else:  # 5% smaller
        image.resize((61, 61), Image.Resampling.LANCZOS).save(folder / name)


@pytest.fixture(scope="module")
def planted_folder(tmp_path_factory):
    """24 distinct renders and one duplicate of each kind."""
    folder = tmp_path_factory.mktemp("planted")
    for i in range(N_DISTINCT // 2):
        Image.fromarray(render_room(900 + i, 64).image).save(folder / f"r{i:02d}.png")
        Image.fromarray(render_face(900 + i, 64).image).save(folder / f"f{i:02d}.png")
    for name, original in PLANTED.items():
        plant(folder, name, original)
    return folder


@pytest.fixture(scope="module")
def result(planted_folder):
    return find_duplicates(planted_folder, FAST)


def test_each_planted_duplicate_is_grouped_with_its_original(result):
    groups = sorted(sorted(g) for g in result.group_paths())
    assert groups == sorted(sorted([dup, original]) for dup, original in PLANTED.items())
    assert result.duplicates == len(PLANTED)
    assert len(result.paths) == N_DISTINCT + len(PLANTED) and result.train_steps > 0


def test_distinct_images_are_far_apart_by_the_confirm_test(planted_folder, result):
    # every confirmed pair is a planted one; the candidates the hash proposed beyond them were refused on pixels
    confirmed = {frozenset(result.paths[i] for i in pair) for pair in result.pairs}
    assert confirmed == {frozenset(p) for p in PLANTED.items()}
    assert (result.distances <= FAST.threshold).all()
    crops = read_crops(planted_folder, processes=1)
    distinct = np.array([i for i, name in enumerate(crops.paths) if name[0] in "rf" and len(name) == 7])
    a, b = np.meshgrid(distinct, distinct, indexing="ij")
    upper = a < b
    d = aligned_distance(blur(crops.pixels[a[upper]]), blur(crops.pixels[b[upper]]))
    assert d.min() > 1.5 * FAST.threshold


def test_the_exact_hash_baseline_finds_only_the_byte_copy(planted_folder):
    assert exact_duplicates(planted_folder) == [["copy_of_r00.png", "r00.png"]]


def test_exclusions_keep_the_first_path_of_each_group(result):
    # the first of each group by path stays ("copy_of_r00.png" before "r00.png"); the others are listed
    assert exclusions(result) == sorted(max(dup, original) for dup, original in PLANTED.items())


def test_dedup_command_prints_json_groups_and_writes_an_exclusion_list(planted_folder, tmp_path, capsys):
    out = tmp_path / "duplicates.txt"
    code = main(["dedup", "--data-root", str(planted_folder), "--json", "--exclude-out", str(out), "--threads", "1",
                 "--no-progress", "--exact-baseline"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert isinstance(report["groups"], list) and all(isinstance(p, str) for g in report["groups"] for p in g)
    assert len(report["groups"]) == len(PLANTED) and report["images"] == N_DISTINCT + len(PLANTED)
    assert report["exact_hash_groups"] == [["copy_of_r00.png", "r00.png"]]
    listed = read_exclusion_list(out)
    assert listed == report["exclude"] and len(listed) == len(PLANTED)
    assert out.read_text().startswith("# ")  # a comment says what made it


def test_the_exclusion_list_makes_the_training_folder_skip_the_duplicates(planted_folder, tmp_path, capsys):
    listed = tmp_path / "duplicates.txt"
    assert main(["dedup", "--data-root", str(planted_folder), "--exclude-out", str(listed), "--threads", "1",
                 "--no-progress"]) == 0
    assert "4 image(s) to remove" in capsys.readouterr().out
    full = build_dataset("folder", root=planted_folder, image_size=32)
    kept = build_dataset("folder", root=planted_folder, image_size=32, exclude=read_exclusion_list(listed))
    assert len(full) - len(kept) == len(PLANTED) == kept.excluded
    assert not {p.name for p in kept.paths} & set(read_exclusion_list(listed))
    run = tmp_path / "run"
    assert main(["train", "--dataset", "folder", "--data-root", str(planted_folder), "--exclude", str(listed),
                 "--image-size", "32", "--nz", "16", "--ngf", "8", "--ndf", "8", "--batch-size", "8", "--steps", "1",
                 "--num-workers", "0", "--device", "cpu", "--precision", "fp32", "--no-progress", "--out", str(run)]) == 0
    stored = json.loads(read_metadata(run / "checkpoints" / "last.safetensors")["train_config"])
    assert stored["exclude"] == str(listed)


def test_an_exclusion_list_for_another_folder_is_refused_by_name(planted_folder, tmp_path):
    with pytest.raises(ValueError, match="not images under .*: elsewhere/a.jpg"):
        build_dataset("folder", root=planted_folder, exclude=["r00.png", "elsewhere/a.jpg"])
    with pytest.raises(ValueError, match="applies to a folder of images"):
        build_dataset("rooms", exclude=["r00.png"])
    with pytest.raises(ValueError, match="--exclude applies to a folder of images"):
        TrainConfig(dataset="rooms", exclude=str(tmp_path / "duplicates.txt"))


def test_a_bad_folder_is_refused_in_one_line(tmp_path, capsys):
    assert main(["dedup", "--data-root", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip() == f"error: image folder {tmp_path / 'missing'} does not exist"
    (tmp_path / "notes.txt").write_text("no images here")
    assert main(["dedup", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no .jpg/.jpeg/.png/.webp files under") and "\n" not in err
