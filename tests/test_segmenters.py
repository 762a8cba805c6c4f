"""Segmenters: the instruments that name the class of every pixel (issue 22), trained on the renderers' label maps."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dcgan_core.analysis.instruments import (
    FaceSegmenter,
    InstrumentError,
    RoomSegmenter,
    default_instrument_path,
    load_instrument,
    save_instrument,
    segment,
)
from dcgan_core.analysis.instruments_training import (
    _label_data,
    augment,
    class_iou,
    class_weights,
    evaluate_segmenter,
    train_segmenter,
)
from dcgan_core.cli import main
from dcgan_core.data.faces import FACE_CLASSES
from dcgan_core.data.rooms import ROOM_CLASSES, render_rooms_with_labels

FRESH_SEED = 300  # data set seed used by no instrument's training (100) or report (200)
WALL, WINDOW = ROOM_CLASSES.index("wall"), ROOM_CLASSES.index("window")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class RedIsWindow(RoomSegmenter):
    """A segmenter wired by hand: window where the red channel is above mid-grey, wall elsewhere."""

    def forward(self, x):
        logits = torch.zeros(len(x), len(self.classes), *x.shape[-2:])
        logits[:, WINDOW] = 10 * x[:, 0]
        return logits


def constant(model, name: str):
    """`model` wired to call every pixel `name`: the last conv outputs a one-hot bias."""
    last = model.head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-10)
        last.bias[model.classes.index(name)] = 10
    return model.eval()


# --------------------------------------------------------------------------- networks and label maps


def test_segmenters_give_per_pixel_logits_over_their_classes():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert RoomSegmenter(width=8, fine_width=4)(x).shape == (2, len(ROOM_CLASSES), 64, 64)
    assert FaceSegmenter(width=8, fine_width=4)(x).shape == (2, len(FACE_CLASSES), 64, 64)
    assert RoomSegmenter().classes == ROOM_CLASSES and FaceSegmenter().classes == FACE_CLASSES


def test_segment_takes_uint8_or_float_and_leaves_the_mode_alone():
    model = RoomSegmenter(width=8, fine_width=4)
    model.train()
    images, _ = render_rooms_with_labels(3, seed=FRESH_SEED)
    maps = segment(model, torch.from_numpy(images))
    assert maps.shape == (3, 64, 64) and maps.dtype == np.uint8 and maps.max() < len(ROOM_CLASSES)
    assert np.array_equal(maps, segment(model, torch.from_numpy(images).float() / 127.5 - 1))
    assert np.array_equal(maps, segment(model, images.transpose(0, 2, 3, 1)))  # (N, H, W, 3), as renders come
    assert model.training  # segmented in eval mode, then put back
    assert segment(model, np.zeros((0, 3, 64, 64), np.uint8)).shape == (0, 64, 64)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        segment(model, torch.from_numpy(images).float())
    with pytest.raises(TypeError, match="RoomSegmenter or FaceSegmenter"):
        segment(torch.nn.Identity(), images)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_label_maps_come_back_at_the_images_size_and_in_place(size):
    """Known answer: left half dark, right half red; 32- and 128-px images are read at 64 px and mapped back."""
    images = np.zeros((1, 3, size, size), np.uint8)
    images[0, 0, :, size // 2 :] = 255
    expected = np.full((1, size, size), WALL, np.uint8)
    expected[0, :, size // 2 :] = WINDOW
    assert np.array_equal(segment(RedIsWindow(width=4, fine_width=2), images), expected)


# --------------------------------------------------------------------------- augmentation keeps labels aligned


def test_augment_moves_label_maps_exactly_with_the_boxes_and_the_pixels():
    x = -torch.ones(16, 3, 64, 64)
    x[:, :, 20:40, 10:30] = 1.0  # one bright window exactly filling its box and its labels
    labels = torch.full((16, 64, 64), WALL, dtype=torch.uint8)
    labels[:, 20:40, 10:30] = WINDOW
    boxes = torch.zeros(16, 6, 1, 4, dtype=torch.int16)
    boxes[:, 0, 0] = torch.tensor([10, 20, 30, 40])
    out, moved, _, moved_labels = augment(x, torch.Generator().manual_seed(0), boxes=boxes, labels=labels)
    assert moved_labels.dtype == torch.uint8 and set(moved_labels.unique().tolist()) == {WALL, WINDOW}
    assert len({tuple(b.tolist()) for b in moved[:, 0, 0]}) > 4  # the images did move, differently
    for image, (x0, y0, x1, y1), window in zip(out, moved[:, 0, 0].tolist(), moved_labels == WINDOW):
        box_mask = torch.zeros(64, 64, dtype=torch.bool)
        box_mask[y0:y1, x0:x1] = True
        assert torch.equal(window, box_mask)  # exact: the labels move as the (tested) boxes do
        ys, xs = np.nonzero(image.mean(0).numpy() > 0)
        assert abs(xs.min() - x0) <= 1 and abs(ys.min() - y0) <= 1  # and as the pixels do, up to the blur
        assert abs(xs.max() + 1 - x1) <= 1 and abs(ys.max() + 1 - y1) <= 1


def test_augment_repeats_the_border_labels_where_a_shift_uncovers_the_edge():
    """Known answer: each pixel's label is its source position; every output is a flip and shift of the grid."""
    codes = (torch.arange(64)[:, None] * 64 + torch.arange(64)[None, :]).to(torch.int32)
    out = augment(torch.zeros(8, 3, 64, 64), torch.Generator().manual_seed(3), labels=codes.expand(8, 64, 64))[3]
    grid = torch.arange(64)
    for found in out:
        matches = []
        for flip in (False, True):
            src = codes.flip(-1) if flip else codes
            for dx in range(-2, 3):
                for dy in range(-2, 3):
                    rows, cols = (grid - dy).clamp(0, 63), (grid - dx).clamp(0, 63)
                    if torch.equal(found, src[rows][:, cols]):
                        matches.append((flip, dx, dy))
        assert len(matches) == 1, matches


def test_label_maps_do_not_change_the_random_draws_of_the_other_instruments():
    x = torch.rand(6, 3, 64, 64) * 2 - 1
    plain = augment(x, torch.Generator().manual_seed(5))[0]
    labelled = augment(x, torch.Generator().manual_seed(5), labels=torch.zeros(6, 64, 64, dtype=torch.uint8))[0]
    assert torch.equal(plain, labelled)


# --------------------------------------------------------------------------- scores and weights


def test_class_iou_known_answers():
    predicted = np.array([[[0, 0], [1, 1]]])
    truth = np.array([[[0, 1], [1, 1]]])
    assert class_iou(predicted, truth, 3) == [0.5, pytest.approx(2 / 3), None]  # class 2 in neither: no score
    assert class_iou(truth, truth, 3) == [1.0, 1.0, None]
    assert class_iou(np.array([2, 2]), np.array([0, 0]), 3) == [0.0, None, 0.0]  # predicted but absent still counts
    with pytest.raises(ValueError, match="differ in size"):
        class_iou(np.zeros((1, 2, 2)), np.zeros((1, 2, 3)), 3)


def test_class_weights_are_inverse_square_root_shares_with_mean_pixel_weight_one():
    maps = torch.tensor([[0, 0, 0, 1]] * 4, dtype=torch.uint8)  # shares 0.75, 0.25, class 2 absent
    weights = class_weights(maps, 3)
    assert weights[1] / weights[0] == pytest.approx(3**0.5) and weights[2] == 0
    assert float(0.75 * weights[0] + 0.25 * weights[1]) == pytest.approx(1.0)


def test_evaluate_scores_a_segmenter_that_calls_everything_wall():
    """Known answer: wall IoU = the share of wall pixels; every other class shown is 0; nightstands (never rendered) unscored."""
    scores = evaluate_segmenter(constant(RoomSegmenter(width=4, fine_width=2), "wall"), n=12, seed=FRESH_SEED)
    assert scores["iou"]["wall"] == pytest.approx(scores["pixel_share"]["wall"], abs=1e-4)
    assert scores["pixel_accuracy"] == pytest.approx(scores["pixel_share"]["wall"], abs=1e-4)
    shown = [c for c in ROOM_CLASSES if scores["pixel_share"][c] > 0]
    assert all(scores["iou"][c] == 0 for c in shown if c != "wall")
    assert all(scores["iou"][c] is None for c in ROOM_CLASSES if c not in shown)
    assert scores["mean_iou"] == pytest.approx(scores["iou"]["wall"] / len(shown), abs=1e-4)


# --------------------------------------------------------------------------- files


def test_save_and_load_round_trip(tmp_path):
    model = RoomSegmenter(width=8, fine_width=4)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
    model.eval()
    path = tmp_path / "rooms-segmenter.safetensors"
    save_instrument(path, model, {"held_out": {"mean_iou": 0.9}})
    back = load_instrument(path, kind="rooms-segmenter")
    assert isinstance(back, RoomSegmenter) and (back.width, back.fine_width) == (8, 4) and not back.training
    assert not any(p.requires_grad for p in back.parameters())
    assert back.report == {"held_out": {"mean_iou": 0.9}}
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        np.testing.assert_allclose(back(x).numpy(), model(x).numpy(), atol=0.1)  # fp16 weights
    assert default_instrument_path("rooms-segmenter").name == "rooms-segmenter.safetensors"


def test_malformed_segmenter_files_are_refused_with_the_reason(tmp_path):
    model = RoomSegmenter(width=8, fine_width=4)
    good = tmp_path / "rooms.safetensors"
    save_instrument(good, model)
    with pytest.raises(InstrumentError, match="is a rooms-segmenter instrument, but a faces-segmenter instrument"):
        load_instrument(good, kind="faces-segmenter")

    class OtherClasses(RoomSegmenter):  # a file from a renderer with a class renamed
        classes = ("sofa", *ROOM_CLASSES[1:])

    renamed = tmp_path / "renamed.safetensors"
    save_instrument(renamed, OtherClasses(width=8, fine_width=4))
    with pytest.raises(InstrumentError, match="trained for the classes sofa, floor.*train it again"):
        load_instrument(renamed)

    wider = tmp_path / "wider.safetensors"
    model.architecture = lambda: {"width": 16, "fine_width": 4, "classes": list(ROOM_CLASSES)}  # header lies about the weights
    save_instrument(wider, model)
    with pytest.raises(InstrumentError, match="shape"):
        load_instrument(wider)

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InstrumentError):
        load_instrument(truncated)


# --------------------------------------------------------------------------- training


def test_a_tiny_training_run_lowers_the_loss_on_fresh_renders():
    model, report = train_segmenter(n_train=32, steps=40, batch_size=8, width=8, seed=1, n_eval=0, progress=False)
    assert report["held_out"] is None and report["training"]["class_weights"]["nightstand"] == 0  # never rendered
    torch.manual_seed(1)  # the untrained network _fit started from
    untrained = RoomSegmenter(width=8).eval()
    images, truth = _label_data("rooms-segmenter", 24, FRESH_SEED, progress=False)
    x = images.float() / 127.5 - 1
    with torch.no_grad():
        before, after = (F.cross_entropy(m(x), truth.long()).item() for m in (untrained, model))
    assert after < 0.85 * before  # 2.60 -> 2.01 when written
    with pytest.raises(ValueError, match="must differ"):
        train_segmenter(n_train=8, steps=1, seed=5, eval_seed=5)
    with pytest.raises(ValueError, match="unknown segmenter kind"):
        train_segmenter("rooms", n_train=8, steps=1)


def test_command_line_trains_and_evaluates_a_segmenter(capsys, tmp_path):
    out = tmp_path / "seg.safetensors"
    argv = ["instruments", "train", "--kind", "rooms-segmenter", "--out", str(out), "--steps", "2", "--n-train", "8",
            "--n-eval", "4", "--batch-size", "4", "--width", "4", "--no-progress"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out.rsplit("\nsaved ", 1)[0])
    assert report["training"]["steps"] == 2 and set(report["held_out"]["iou"]) == set(ROOM_CLASSES)
    assert load_instrument(out, kind="rooms-segmenter").report["training"]["command"] == "dcgan " + " ".join(argv)
    assert main(["instruments", "evaluate", "--kind", "rooms-segmenter", "--path", str(out), "--n", "4", "--seed",
                 str(FRESH_SEED)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["n"] == 4 and scores["seed"] == FRESH_SEED and 0 <= scores["mean_iou"] <= 1
    assert main(["instruments", "evaluate", "--kind", "rooms", "--path", str(out), "--n", "4"]) == 2
    assert "rooms-segmenter instrument, but a rooms instrument" in capsys.readouterr().err


def test_the_shipped_rooms_segmenter_reads_fresh_renders_at_its_targets():
    """Issue 22's targets on renders no file was trained or scored on (seed 321): mean IoU >= 0.85, windows >= 0.80.
    300 renders, not the card's 2,000: the mean moves by about a point between sets of this size."""
    from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
    from dcgan_core.analysis.instruments_training import evaluate_segmenter

    model = load_instrument(default_instrument_path("rooms-segmenter"), kind="rooms-segmenter")
    report = evaluate_segmenter(model, n=300, seed=321)
    assert report["iou"]["window"] >= 0.80
    assert report["mean_iou"] >= 0.84, report["iou"]  # 0.855 on 2,000 renders of seed 200
