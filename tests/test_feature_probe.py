"""The feature probe (paper section 5.1, Table 1): feature sizes, the pooling, the exact SVM speed-up, beating chance, the CLI, stored results, few-label draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dcgan_core.analysis.feature_probe import (
    LabelDraws,
    ProbeSettings,
    file_sha256,
    load_probe_data,
    load_stored_probe,
    pixel_features,
    probe_feature_size,
    probe_features,
    probe_score,
    run_probe,
    span_coordinates,
    stored_probe_path,
)
from dcgan_core.checkpoints import Checkpoint, save_checkpoint
from dcgan_core.cli import main
from dcgan_core.data.faces import FacesDataset
from dcgan_core.features import every_layer_maps
from dcgan_core.models import Discriminator, Generator, ModelConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("size, maps", [(32, (16, 8, 4)), (64, (32, 16, 8, 4)), (128, (64, 32, 16, 8, 4))])
def test_feature_size_for_each_image_size(size, maps):
    cfg = ModelConfig(image_size=size, ndf=2, ngf=2, nz=4)
    d = Discriminator(cfg).eval()
    assert d.feature_sizes == maps
    widths = [2 * 2**i for i in range(len(maps))]
    assert probe_feature_size(cfg) == sum(widths) * 16
    assert probe_features(d, torch.zeros(3, 3, size, size)).shape == (3, sum(widths) * 16)


def test_the_paper_sized_d_gives_15360_features_at_64_px():
    assert probe_feature_size(ModelConfig(image_size=64, ndf=64)) == (64 + 128 + 256 + 512) * 16


def test_features_are_each_layer_max_pooled_to_4x4_and_concatenated(tiny_config):
    d = Discriminator(tiny_config).eval()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        feats = every_layer_maps(d, images)
    expected = torch.cat([F.adaptive_max_pool2d(f, 4).flatten(1) for f in feats], 1)
    assert torch.allclose(torch.from_numpy(probe_features(d, images)), expected, atol=1e-6)
    assert torch.equal(feats[-1].flatten(1), expected[:, -8 * 4 * 16 :])  # the last layer is 4x4 already


def test_span_coordinates_keep_every_inner_product():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(20, 300)).astype(np.float32), rng.normal(size=(5, 300)).astype(np.float32)
    p, q = span_coordinates(train, test)
    a = np.hstack([train, np.ones((20, 1))])
    b = np.hstack([test, np.ones((5, 1))])
    assert p.shape[1] <= 20
    assert np.allclose(p @ p.T, a @ a.T, rtol=1e-4, atol=1e-2)
    assert np.allclose(q @ p.T, b @ a.T, rtol=1e-4, atol=1e-2)


def test_faces_labels_are_the_drawn_attributes():
    data = load_probe_data("faces", task="attributes", image_size=32, n_train=30, n_test=10, seed=7)
    attrs = FacesDataset(image_size=32, length=40, seed=7).attribute_array()
    expected = 4 * attrs[:, 0] + 2 * attrs[:, 1] + attrs[:, 2]
    assert data.train.labels.tolist() == expected[:30].astype(int).tolist()
    assert data.test.labels.tolist() == expected[30:].astype(int).tolist()
    assert data.train.images.shape == (30, 3, 32, 32) and data.train.images.dtype == np.uint8
    assert len(data.classes) == 8 and data.classes[7] == "glasses, smiling, masculine"


def test_the_probe_beats_chance_on_a_small_procedural_task():
    data = load_probe_data("faces", task="glasses", image_size=32, n_train=240, n_test=120)
    torch.manual_seed(0)
    d = Discriminator(ModelConfig(image_size=32, ndf=8, ngf=8, nz=16)).eval()
    report = run_probe(d, data, feature_sets=("trained D", "raw pixels"), C=1e-3)
    by_name = {s.features: s for s in report.scores}
    assert by_name["trained D"].accuracy > data.chance + 0.15
    assert by_name["trained D"].confusion.sum() == 120 and by_name["trained D"].confusion.shape == (2, 2)
    assert "chance (majority class)" in report.table() and "raw pixels" in report.table()


def test_c_is_picked_on_a_validation_split_when_not_given():
    data = load_probe_data("faces", task="glasses", image_size=32, n_train=80, n_test=20)
    report = run_probe(Discriminator(ModelConfig(image_size=32, ndf=4)).eval(), data, feature_sets=("raw pixels",))
    score = report.scores[0]
    assert set(score.validation) == {1e-6, 1e-5, 1e-4, 1e-3}
    assert score.C == max(score.validation, key=lambda c: (score.validation[c], -c))  # best, ties to the smaller C


def write_class_folders(root, per_class: int = 12) -> None:
    for name, colour in (("blue", (20, 40, 220)), ("red", (220, 30, 20))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (40, 30), tuple(c + i for c in colour)).save(root / name / f"{i}.png")
    Image.new("RGB", (40, 30), (0, 255, 0)).save(root / "loose.png")  # no class: left out


def test_an_image_folder_with_one_subfolder_per_class(tmp_path):
    write_class_folders(tmp_path / "pics")
    data = load_probe_data("folder", root=tmp_path / "pics", image_size=32, n_train=16, n_test=8)
    assert data.classes == ["blue", "red"] and len(data.train) == 16 and len(data.test) == 8
    assert set(np.concatenate([data.train.labels, data.test.labels])) == {0, 1}
    report = run_probe(Discriminator(ModelConfig(image_size=32, ndf=4)).eval(), data, feature_sets=("raw pixels",), C=1e-3)
    assert report.scores[0].accuracy == 1.0


def test_unknown_data_sets_tasks_and_missing_paths_say_what_to_do():
    with pytest.raises(ValueError, match="labelled data set"):
        load_probe_data("lsun", image_size=32)
    with pytest.raises(ValueError, match="tasks attributes, glasses"):
        load_probe_data("faces", task="windows", image_size=32)
    with pytest.raises(ValueError, match="--data-root"):
        load_probe_data("cifar10", image_size=32)


def test_pixels_are_flattened_in_the_model_range():
    x = np.array([[[[0, 255]]]], dtype=np.uint8)
    assert pixel_features(x).tolist() == [[-1.0, 1.0]]


def test_dcgan_probe_prints_the_table(tmp_path, capsys):
    cfg = ModelConfig(image_size=32, nz=8, ngf=4, ndf=4)
    torch.manual_seed(0)
    g, d = Generator(cfg), Discriminator(cfg)
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, Checkpoint(model_config=cfg, generator=g.state_dict(), discriminator=d.state_dict(), step=5))
    code = main(["probe", "--model", str(path), "--task", "glasses", "--n-train", "40", "--n-test", "20", "--C", "0.001"])
    out = capsys.readouterr().out
    assert code == 0
    assert "faces glasses (2 classes)" in out and "trained D" in out and "random D" in out and "raw pixels" in out


def test_dcgan_probe_without_a_discriminator_is_a_one_line_error(tmp_path, capsys):
    cfg = ModelConfig(image_size=32, nz=8, ngf=4, ndf=4)
    path = tmp_path / "g_only.safetensors"
    save_checkpoint(path, Checkpoint(model_config=cfg, generator=Generator(cfg).state_dict()))
    assert main(["probe", "--model", str(path)]) == 2
    assert "holds no discriminator" in capsys.readouterr().err


def test_progress_callbacks_follow_the_features_then_the_svm_fits():
    data = load_probe_data("faces", task="glasses", image_size=32, n_train=40, n_test=20)
    d = Discriminator(ModelConfig(image_size=32, ndf=4)).eval()
    images, fits = [], []
    probe_score("trained D", d, data, progress=lambda done, total: images.append((done, total)),
                fit_progress=lambda done, total: fits.append((done, total)))
    assert images[-1] == (60, 60) and [t for _, t in images] == [60] * len(images)
    assert fits == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]  # C picked from 4 values, then the final fit


def test_dcgan_probe_save_keeps_the_result_with_its_settings_and_weights(tmp_path, capsys):
    cfg = ModelConfig(image_size=32, nz=8, ngf=4, ndf=4)
    folder = tmp_path / "tiny"
    save_checkpoint(folder / "model.safetensors",
                    Checkpoint(model_config=cfg, generator=Generator(cfg).state_dict(), discriminator=Discriminator(cfg).state_dict(), step=5))
    out = folder / "probe.json"
    assert stored_probe_path(folder / "model.safetensors") == out
    assert main(["probe", "--model", str(folder), "--task", "glasses", "--n-train", "40", "--n-test", "20", "--C", "0.001",
                 "--save", str(out)]) == 0
    printed = capsys.readouterr().out
    stored = load_stored_probe(out)
    assert stored.settings == ProbeSettings("faces", "glasses", None, 40, 20, 0.001)
    assert stored.step == 5 and stored.checkpoint_sha256 == file_sha256(folder / "model.safetensors")
    assert stored.command == f"dcgan probe --model {folder} --dataset faces --task glasses --n-train 40 --n-test 20 --C 0.001 --save {out}"
    assert [s.features for s in stored.report.scores] == ["trained D", "random D", "raw pixels"]
    assert stored.report.table() in printed  # the same numbers as printed
    assert stored.matches(ProbeSettings("faces", "glasses", None, 40, 20, 0.001), file_sha256(folder / "model.safetensors"))
    assert not stored.matches(ProbeSettings("faces", "glasses", None, 40, 20), stored.checkpoint_sha256)  # C auto


def test_a_damaged_stored_probe_is_a_value_error_naming_the_file(tmp_path):
    (tmp_path / "probe.json").write_text('{"command": "dcgan probe", "report": ' + "[" * 100_000)
    with pytest.raises(ValueError, match="probe.json is not a stored probe result"):
        load_stored_probe(tmp_path / "probe.json")


def test_the_shipped_faces_probe_matches_the_shipped_weights_and_the_page_defaults():
    from pathlib import Path

    models = Path(__file__).resolve().parents[1] / "models"
    stored = load_stored_probe(models / "faces" / "probe.json")
    assert stored.matches(ProbeSettings("faces", "attributes"), file_sha256(models / "faces" / "model.safetensors"))
    assert stored.command == "dcgan probe --model faces --dataset faces --save models/faces/probe.json"
    trained, random_d, pixels = (s.accuracy for s in stored.report.scores)
    assert trained > random_d > stored.report.chance and trained > pixels


# ----------------------------------------------------------------------------- few labels, repeated draws (paper: 400 per class, SVHN 1000)


def tiny_checkpoint(tmp_path):
    cfg = ModelConfig(image_size=32, nz=8, ngf=4, ndf=4)
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, Checkpoint(model_config=cfg, generator=Generator(cfg).state_dict(),
                                     discriminator=Discriminator(cfg).state_dict(), step=5))
    return path


LABELS = np.array([0] * 10 + [1] * 6 + [2] * 8)  # a pool of 24 images in 3 classes
CLASSES = ["a", "b", "c"]


def test_a_per_class_draw_takes_the_same_number_of_each_class_and_repeats_exactly():
    draws = LabelDraws(per_class=4, repeats=3, seed=5)
    first = draws.indices(LABELS, CLASSES, 0)
    assert np.bincount(LABELS[first]).tolist() == [4, 4, 4]
    assert np.array_equal(first, LabelDraws(per_class=4, repeats=3, seed=5).indices(LABELS, CLASSES, 0))  # seeded
    assert not np.array_equal(first, draws.indices(LABELS, CLASSES, 1))  # each repeat is a new draw
    assert not np.array_equal(first, LabelDraws(per_class=4, seed=6).indices(LABELS, CLASSES, 0))


def test_labels_in_all_are_split_evenly_and_the_remainder_goes_one_per_class():
    picked = LabelDraws(total=10, seed=0).indices(LABELS, CLASSES, 0)
    assert sorted(np.bincount(LABELS[picked]).tolist()) == [3, 3, 4]
    assert LabelDraws(total=10, repeats=10).describe(3, 24) == "10 draws of 3-4 labels per class (10 in all) from a pool of 24 training images"


def test_a_class_with_too_few_images_is_one_line_saying_how_many_it_has():
    with pytest.raises(ValueError) as caught:
        LabelDraws(per_class=7).indices(LABELS, CLASSES, 0)
    message = str(caught.value)
    assert message == ("class 'b' has 6 images in the training pool of 24; 7 labels per class needs 7 of each "
                       "(raise --n-train or ask for fewer labels)")


def test_repeats_need_a_label_budget():
    with pytest.raises(ValueError, match="--repeats needs --per-class or --labels"):
        LabelDraws(repeats=3)


def test_repeated_draws_give_a_mean_and_a_standard_deviation():
    data = load_probe_data("faces", task="glasses", image_size=32, n_train=60, n_test=40)
    d = Discriminator(ModelConfig(image_size=32, ndf=4)).eval()
    report = run_probe(d, data, feature_sets=("raw pixels",), C=1e-3, draws=LabelDraws(per_class=4, repeats=4, seed=1))
    score = report.scores[0]
    assert len(score.draw_accuracies) == 4 and score.draw_C == [1e-3] * 4
    assert score.accuracy == pytest.approx(np.mean(score.draw_accuracies))
    assert score.accuracy_std == pytest.approx(np.std(score.draw_accuracies, ddof=1)) and score.accuracy_std > 0
    assert score.confusion.sum() == 4 * 40  # summed over the draws
    assert f"{100 * score.accuracy:.1f} ± {100 * score.accuracy_std:.1f}%" in report.table()


def test_dcgan_probe_prints_mean_and_std_for_trained_d_random_d_and_pixels(tmp_path, capsys):
    code = main(["probe", "--model", str(tiny_checkpoint(tmp_path)), "--task", "glasses", "--n-train", "40", "--n-test", "20",
                 "--C", "0.001", "--per-class", "5", "--repeats", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "3 draws of 5 labels per class (10 in all) from a pool of 40 training images; 20 test images" in out
    rows = {line.split("  ")[0]: line for line in out.splitlines() if "±" in line and "%" in line}
    assert set(rows) == {"trained D", "random D", "raw pixels"}
    assert all(line.count("±") == 2 for line in rows.values())  # accuracy and error


def test_dcgan_probe_with_too_few_images_of_a_class_is_a_one_line_error(tmp_path, capsys):
    code = main(["probe", "--model", str(tiny_checkpoint(tmp_path)), "--task", "glasses", "--n-train", "40", "--n-test", "20",
                 "--per-class", "39"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: class ") and "images in the training pool of 40; 39 labels per class needs 39 of each" in err


def test_a_saved_repeated_probe_keeps_its_draws_and_the_command_that_made_them(tmp_path, capsys):
    out = tmp_path / "probe.json"
    model = tiny_checkpoint(tmp_path)
    assert main(["probe", "--model", str(model), "--task", "glasses", "--n-train", "40", "--n-test", "20", "--C", "0.001",
                 "--labels", "8", "--repeats", "2", "--no-baselines", "--save", str(out)]) == 0
    stored = load_stored_probe(out)
    assert stored.settings.draws == LabelDraws(total=8, repeats=2, seed=20_001)
    assert stored.command.endswith("--labels 8 --repeats 2 --no-baselines --save " + str(out))
    assert stored.report.draws == stored.settings.draws and len(stored.report.scores[0].draw_accuracies) == 2
    assert stored.report.table() in capsys.readouterr().out
