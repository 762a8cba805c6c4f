"""Instruments: the classifiers that measure generated rooms and faces, and the shipped files behind them."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dcgan_core.analysis.instruments import (
    FaceInstrument,
    FaceReading,
    InstrumentError,
    RoomInstrument,
    RoomReading,
    default_instrument_path,
    load_instrument,
    read_faces,
    read_rooms,
    save_instrument,
)
from dcgan_core.analysis.instruments_training import (
    augment,
    evaluate_face_instrument,
    evaluate_room_instrument,
    room_targets,
    train_room_instrument,
)
from dcgan_core.checkpoints import Checkpoint, save_checkpoint
from dcgan_core.cli import main
from dcgan_core.data.faces import FacesDataset, render_face
from dcgan_core.data.rooms import RoomsDataset
from dcgan_core.models import build_models

FRESH_SEED = 300  # data set seed used by no instrument's training (100) or report (200)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: one thread is as fast, and polite on a busy machine


@pytest.fixture(scope="module")
def shipped_rooms() -> RoomInstrument:
    return load_instrument(default_instrument_path("rooms"), kind="rooms")


@pytest.fixture(scope="module")
def shipped_faces() -> FaceInstrument:
    return load_instrument(default_instrument_path("faces"), kind="faces")


def _uint8(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 renders -> (N, 3, H, W) uint8 tensor."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


# --------------------------------------------------------------------------- networks and readings


def test_networks_have_the_documented_shapes():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    presence, masks = RoomInstrument(width=8)(x)
    assert presence.shape == (2, 6) and masks.shape == (2, 6, 16, 16)
    out = FaceInstrument(width=8)(x)
    assert out.shape == (2, 4)
    assert out[:, 3].abs().max() <= 1  # turn is squashed by tanh


def test_read_rooms_takes_uint8_or_float_at_any_size_and_leaves_the_mode_alone():
    model = RoomInstrument(width=8)
    model.train()
    rooms = RoomsDataset(64, 3, seed=FRESH_SEED)
    as_uint8 = _uint8([rooms.room(i).image for i in range(3)])
    from_uint8 = read_rooms(model, as_uint8)
    from_float = read_rooms(model, as_uint8.float() / 127.5 - 1)
    assert isinstance(from_uint8, RoomReading) and len(from_uint8) == 3
    np.testing.assert_allclose(from_uint8.presence, from_float.presence, atol=1e-6)
    assert model.training  # read in eval mode, then put back
    for size in (32, 128):
        reading = read_rooms(model, F.interpolate(as_uint8.float(), size=size).round().to(torch.uint8))
        assert reading.presence.shape == (3, 6) and reading.masks.shape == (3, 6, 16, 16)
        assert 0 <= reading.masks.min() and reading.masks.max() <= 1
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        read_rooms(model, as_uint8.float())  # 0..255 floats are a mistake, not an image
    with pytest.raises(ValueError, match="RGB"):
        read_rooms(model, torch.zeros(1, 1, 64, 64))


def test_boxes_are_the_connected_components_of_the_mask_in_pixels():
    masks = np.zeros((2, 6, 16, 16), np.float32)
    masks[0, 0, 2:5, 3:7] = 0.9  # window cells rows 2-4, columns 3-6
    masks[0, 0, 10, 10] = 0.8  # a second, single-cell window
    masks[0, 0, 11, 11] = 0.8  # touches it only diagonally: a third one
    masks[0, 4, 0:2, 0:2] = 0.4  # a picture below the threshold
    reading = RoomReading(presence=np.zeros((2, 6), np.float32), masks=masks)
    assert reading.boxes("window") == [[(12, 8, 28, 20), (40, 40, 44, 44), (44, 44, 48, 48)], []]
    assert reading.boxes("window", image_size=128)[0][0] == (24, 16, 56, 40)
    assert reading.boxes("window", min_cells=2) == [[(12, 8, 28, 20)], []]
    assert reading.boxes("picture") == [[], []] and reading.boxes("picture", threshold=0.3) == [[(0, 0, 8, 8)], []]
    with pytest.raises(ValueError, match="window, bed"):
        reading.has("sofa")


def test_face_reading_labels_threshold_the_probabilities():
    reading = FaceReading(
        probabilities={"glasses": np.array([0.9, 0.1]), "smiling": np.array([0.5, 0.49]), "masculine": np.array([0.0, 1.0])},
        turn=np.array([-0.7, 0.2]),
    )
    labels = reading.labels()
    assert labels["glasses"].tolist() == [True, False] and labels["smiling"].tolist() == [True, False]
    assert labels["masculine"].tolist() == [False, True] and labels["turn"].tolist() == [-0.7, 0.2]


# --------------------------------------------------------------------------- ground truth and augmentation


def test_room_targets_cover_cells_and_ignore_slivers():
    boxes = torch.zeros(1, 6, 2, 4, dtype=torch.int16)
    boxes[0, 0, 0] = torch.tensor([0, 0, 8, 4])  # window: two whole cells
    boxes[0, 0, 1] = torch.tensor([62, 60, 64, 64])  # second window: half of the bottom-right cell
    boxes[0, 4, 0] = torch.tensor([20, 20, 23, 23])  # picture, 9 px^2: a sliver, not present
    boxes[0, 2, 0] = torch.tensor([20, 20, 24, 23])  # door, 12 px^2: present
    presence, cover = room_targets(boxes)
    assert presence[0].tolist() == [1, 0, 1, 0, 0, 0]
    assert cover[0, 0, 0, :3].tolist() == [1.0, 1.0, 0.0] and cover[0, 0, 15, 15] == 0.5
    assert cover[0, 0].sum() == 2.5


def test_augment_moves_boxes_with_the_pixels():
    box = torch.tensor([10, 20, 30, 40])
    x = -torch.ones(16, 3, 64, 64)
    x[:, :, 20:40, 10:30] = 1.0  # one bright object exactly filling its box
    boxes = torch.zeros(16, 6, 1, 4, dtype=torch.int16)
    boxes[:, 0, 0] = box
    out, moved, turn, _ = augment(x, torch.Generator().manual_seed(0), boxes=boxes, turn=torch.full((16,), 0.5))
    assert set(turn.tolist()) == {0.5, -0.5}  # some were flipped
    assert (moved[:, 1:] == 0).all()  # empty slots stay empty
    for image, b in zip(out, moved[:, 0]):
        ys, xs = np.nonzero(image.mean(0).numpy() > 0)
        found = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        assert (found - b).abs().max() <= 1, (found, b)


# --------------------------------------------------------------------------- files


def test_save_and_load_round_trip(tmp_path):
    model = RoomInstrument(width=8)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
    model.eval()
    path = tmp_path / "rooms.safetensors"
    save_instrument(path, model, {"held_out": {"window_presence_accuracy": 0.97}})
    back = load_instrument(path, kind="rooms")
    assert isinstance(back, RoomInstrument) and back.width == 8 and not back.training
    assert not any(p.requires_grad for p in back.parameters())
    assert back.report == {"held_out": {"window_presence_accuracy": 0.97}}
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        np.testing.assert_allclose(back(x)[0].numpy(), model(x)[0].numpy(), atol=0.05)  # fp16 weights


def test_loading_the_wrong_file_says_what_it_is(tmp_path, tiny_config):
    faces = tmp_path / "faces.safetensors"
    save_instrument(faces, FaceInstrument(width=8))
    with pytest.raises(InstrumentError, match="is a faces instrument, but a rooms instrument"):
        load_instrument(faces, kind="rooms")
    assert isinstance(load_instrument(faces), FaceInstrument)  # any kind when none is asked for

    gan = tmp_path / "gan.safetensors"
    g, d = build_models(tiny_config)
    save_checkpoint(gan, Checkpoint(tiny_config, g.state_dict(), d.state_dict()))
    with pytest.raises(InstrumentError, match="DCGAN checkpoint, not a dcgan-explorer instrument"):
        load_instrument(gan)
    junk = tmp_path / "notes.safetensors"
    junk.write_text("hello")
    with pytest.raises(InstrumentError, match="not a safetensors"):
        load_instrument(junk)
    with pytest.raises(FileNotFoundError):
        load_instrument(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="rooms, faces"):
        default_instrument_path("cats")


# --------------------------------------------------------------------------- training


def test_a_short_training_run_learns_window_presence():
    model, report = train_room_instrument(n_train=256, steps=150, batch_size=32, width=16, seed=1, n_eval=0, progress=False)
    assert report["held_out"] is None and report["training"]["steps"] == 150
    scores = evaluate_room_instrument(model, n=300, seed=FRESH_SEED)
    # About 3 rooms in 4 have a window, so saying "window" every time would score ~0.75.
    assert scores["window_presence_accuracy"] >= 0.85
    assert scores["window_presence_accuracy"] > scores["presence_base_rate"]["window"] + 0.1
    with pytest.raises(ValueError, match="must differ"):
        train_room_instrument(n_train=32, steps=1, seed=5, eval_seed=5)


# --------------------------------------------------------------------------- the shipped instruments


@pytest.mark.parametrize("kind", ["rooms", "faces"])
def test_shipped_instruments_are_small_and_carry_their_report(kind):
    path = default_instrument_path(kind)
    assert path.stat().st_size < 2_000_000
    report = load_instrument(path, kind=kind).report
    assert report["held_out"]["seed"] != report["training"]["seed"]
    # the shipped files were trained before `dcgan instruments train` replaced `python -m dcgan_core.analysis.instruments train`
    assert report["training"]["command"].startswith(("dcgan instruments train", "python -m dcgan_core.analysis.instruments train"))


def test_shipped_room_instrument_finds_windows_on_fresh_renders(shipped_rooms):
    scores = evaluate_room_instrument(shipped_rooms, n=300, seed=FRESH_SEED)
    assert scores["window_presence_accuracy"] >= 0.95
    assert scores["window_mask_iou"] >= 0.6


def test_shipped_room_instrument_reads_other_sizes_and_boxes_the_windows(shipped_rooms):
    rooms = RoomsDataset(128, 12, seed=FRESH_SEED)
    samples = [rooms.room(i) for i in range(12)]
    truth = np.array([any((b[2] - b[0]) * (b[3] - b[1]) >= 48 for b in r.window_boxes) for r in samples])
    assert truth.any() and not truth.all()
    big = _uint8([r.image for r in samples])
    for images in (big, F.interpolate(big.float(), size=32, mode="area").round().to(torch.uint8)):
        assert (read_rooms(shipped_rooms, images).has("window") == truth).all()
    reading = read_rooms(shipped_rooms, big)
    for room, found in zip(samples, reading.boxes("window", image_size=128, min_cells=2)):
        assert len(found) == len(room.window_boxes)
        for (x0, y0, x1, y1), (a0, b0, a1, b1) in zip(sorted(found), sorted(room.window_boxes)):
            overlap = max(0, min(x1, a1) - max(x0, a0)) * max(0, min(y1, b1) - max(y0, b0))
            assert overlap >= 0.5 * (a1 - a0) * (b1 - b0)


def test_shipped_face_instrument_scores_every_attribute_on_fresh_renders(shipped_faces):
    scores = evaluate_face_instrument(shipped_faces, n=300, seed=FRESH_SEED)
    assert all(acc >= 0.95 for acc in scores["accuracy"].values()), scores["accuracy"]
    assert scores["turn_mae"] < 0.15 and scores["turn_sign_accuracy"] >= 0.95


def test_shipped_face_instrument_follows_one_attribute_of_the_same_person(shipped_faces):
    seed = FacesDataset(64, 1, seed=FRESH_SEED).seed_of(0)
    pairs = {
        "glasses": (render_face(seed, 128, glasses=True), render_face(seed, 128, glasses=False)),
        "smiling": (render_face(seed, 128, smiling=True), render_face(seed, 128, smiling=False)),
        "masculine": (render_face(seed, 128, masculine=True), render_face(seed, 128, masculine=False)),
    }
    for name, (yes, no) in pairs.items():
        labels = read_faces(shipped_faces, _uint8([yes.image, no.image])).labels()
        assert labels[name].tolist() == [True, False], name
    turned = read_faces(shipped_faces, _uint8([render_face(seed, 64, turn=t).image for t in (-0.8, 0.0, 0.8)])).turn
    assert turned[0] < -0.4 and abs(turned[1]) < 0.25 and turned[2] > 0.4


def test_command_line_evaluates_a_shipped_instrument(capsys, tmp_path):
    assert main(["instruments", "evaluate", "--kind", "faces", "--n", "40", "--seed", str(FRESH_SEED + 1)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["n"] == 40 and set(scores["accuracy"]) == {"glasses", "smiling", "masculine"}
    assert main(["instruments", "evaluate", "--kind", "rooms", "--path", str(default_instrument_path("faces")), "--n", "4"]) == 2
    assert "faces instrument" in capsys.readouterr().err


def test_command_line_trains_an_instrument_and_records_the_command(capsys, tmp_path):
    out = tmp_path / "rooms.safetensors"
    argv = ["instruments", "train", "--kind", "rooms", "--out", str(out), "--steps", "2", "--n-train", "16", "--n-eval", "0",
            "--batch-size", "4", "--width", "8", "--no-progress"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out.rsplit("\nsaved ", 1)[0])
    assert report["training"]["steps"] == 2
    assert load_instrument(out, kind="rooms").report["training"]["command"] == "dcgan " + " ".join(argv)


def test_the_stress_script_prints_one_row_per_distortion(capsys):
    """scripts/instrument_stress.py (the stress table of models/instruments/README.md) on a few renders."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "instrument_stress.py"
    spec = importlib.util.spec_from_file_location("instrument_stress", path)
    stress = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stress)
    assert stress.main(["--n", "24"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0].startswith("| distortion | window")
    assert [r.split(" | ")[0][2:] for r in rows[1:]] == list(stress.distortions(0))
    clean = rows[1].split(" | ")
    assert clean[5:8] == ["100 %"] * 3  # the shipped face instrument on clean renders
    x = torch.linspace(-1, 1, 3 * 16 * 16).view(1, 3, 16, 16)
    assert torch.allclose(stress.blur(1.0)(torch.ones(1, 3, 16, 16)), torch.ones(1, 3, 16, 16))  # blur keeps flat images
    assert stress.darker(x).min() == pytest.approx(-1) and stress.darker(x).max() == pytest.approx(0.4)
