"""Forgetting to draw an object (paper section 6.3.1): boxes to feature positions, the fit, dropping maps,
measuring, and annotations on disk.

Generators here are tiny and untrained (64 px, ngf 8, nz 16): the tests check the
mechanics with answers known by construction, not what a trained GAN learned.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from dcgan_core.analysis import object_removal as removal
from dcgan_core.analysis.annotations import (
    AnnotationError,
    AnnotationSet,
    AnnotationStore,
    make_annotation,
    pool_z,
)
from dcgan_core.analysis.object_removal import (
    TrainingData,
    boxes_to_feature_mask,
    boxes_touch_mask,
    collect_training_data,
    fit_object_maps,
    generate_with_and_without,
)
from dcgan_core.analysis import user_data
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import Checkpoint, save_checkpoint
from dcgan_core.cli import main
from dcgan_core.data.rooms import OBJECT_NAMES
from dcgan_core.latent import sample_z
from dcgan_core.models import Generator, ModelConfig


@pytest.fixture
def g64() -> Generator:
    torch.manual_seed(0)
    return Generator(ModelConfig(image_size=64, nz=16, ngf=8, ndf=8)).eval()


@pytest.fixture
def identity(g64) -> ModelIdentity:
    return ModelIdentity.of("tiny", g64, step=2)


def note(g, index: int, boxes=(), no_object=False, seed=0, source="hand"):
    return make_annotation(seed, index, pool_z(g.config, seed, [index])[0], boxes, no_object=no_object, source=source)


# ---------------------------------------------------------------------------- boxes -> feature positions


def test_a_box_covers_the_positions_whose_cell_centres_it_contains():
    # 64-px image, 32x32 map: cell c spans [2c, 2c + 2) px, centre 2c + 1
    mask = boxes_to_feature_mask([(0, 0, 16, 8)], image_size=64, feature_size=32)
    assert mask.shape == (32, 32)
    assert mask[:4, :8].all() and mask.sum() == 4 * 8  # rows = y (0..8 px), columns = x (0..16 px)


def test_the_centre_rule_ignores_cells_a_box_edge_only_clips():
    # 16x16 map: cells of 4 px, centres at 2, 6, 10...; a box to x1 = 6 stops before the second centre
    mask = boxes_to_feature_mask([(0, 0, 6, 6)], image_size=64, feature_size=16)
    assert mask.sum() == 1 and mask[0, 0]
    touched = boxes_touch_mask([(0, 0, 6, 6)], image_size=64, feature_size=16)
    assert touched[:2, :2].all() and touched.sum() == 4  # ... but those cells are not negatives either


def test_a_box_smaller_than_a_cell_marks_the_cell_holding_its_centre():
    mask = boxes_to_feature_mask([(9.2, 21.0, 9.8, 21.6)], image_size=64, feature_size=8)  # cells of 8 px
    assert mask.sum() == 1 and mask[2, 1]


def test_boxes_map_to_every_layer_of_a_64_px_generator(g64):
    for size in g64.feature_sizes:  # 4, 8, 16, 32
        mask = boxes_to_feature_mask([(0, 0, 32, 32)], 64, size)
        assert mask.sum() == (size // 2) ** 2 and mask[: size // 2, : size // 2].all()


def test_collect_training_data_takes_positives_inside_boxes_and_negatives_outside(g64):
    notes = [note(g64, 0, [(0, 0, 16, 16)]), note(g64, 1, no_object=True)]
    data = collect_training_data(g64, notes, negatives_per_image=20, seed=0)
    layer = g64.penultimate_layer
    assert data.layer == layer and data.feature_size == 32 and data.X.shape[1] == g64.feature_channels[layer]
    assert data.n_positive == 8 * 8  # the box covers cells 0..7 in x and y
    assert data.n_negative == 40  # 20 random positions per image
    assert set(data.image[data.y == 1]) == {0}  # the "no window" image adds only negatives
    feats = removal.layer_features(g64, torch.stack([torch.tensor(n.z) for n in notes]), layer)
    first_positive = feats[0, :, 0, 0]  # position (0, 0) of image 0 is inside the box
    assert np.allclose(data.X[data.y == 1][0], first_positive)
    negatives = data.X[(data.y == 0) & (data.image == 0)]
    inside = feats[0, :, :8, :8].reshape(len(first_positive), -1).T
    assert not any(np.allclose(n, i) for n in negatives for i in inside if np.abs(i).sum() > 0)


def test_features_of_many_images_are_read_batch_by_batch_without_mixing_them_up(g64):
    notes = [note(g64, i, [(0, 0, 4, 4)]) for i in range(70)]  # 2x2 positions per image, 70 images: two batches
    data = collect_training_data(g64, notes, negatives_per_image=0)
    feats = removal.layer_features(g64, torch.stack([torch.tensor(n.z) for n in notes]), g64.penultimate_layer)
    assert np.allclose(data.X[data.image == 66], feats[66, :, :2, :2].reshape(feats.shape[1], -1).T)


def test_negatives_never_touch_a_box():
    g = Generator(ModelConfig(image_size=64, nz=16, ngf=8)).eval()
    box = (10.5, 10.5, 40.5, 40.5)
    data = collect_training_data(g, [note(g, 3, [box])], negatives_per_image=10_000)
    touched = boxes_touch_mask([box], 64, 32)
    assert data.n_negative == int((~touched).sum())
    assert data.n_positive == int(boxes_to_feature_mask([box], 64, 32).sum())


# ---------------------------------------------------------------------------- the fit


def synthetic(n_images=40, per_image=50, maps=8, on=(1, 5), off=(2,), seed=0) -> TrainingData:
    """Maps `on` fire on the object, maps `off` fire away from it, the rest is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n_images * per_image)
    x = rng.normal(size=(len(y), maps)).astype(np.float32)
    x[:, list(on)] += 3.0 * y[:, None]
    x[:, list(off)] += 3.0 * (1 - y[:, None])
    return TrainingData(X=x, y=y, image=np.repeat(np.arange(n_images), per_image), layer=3, feature_size=32)


def test_the_fit_finds_the_maps_that_fire_on_the_object():
    fit = fit_object_maps(synthetic())
    assert set(fit.maps_above(0.5)) == {1, 5}  # relative weights: the largest |weight| is 1
    assert fit.relative_weights[2] < -0.5 and fit.weights[2] < 0
    assert np.abs(fit.relative_weights).max() == 1.0
    assert list(fit.top_maps(2)) == list(np.argsort(-fit.weights)[:2])
    assert fit.accuracy is not None and fit.accuracy > 0.95 and fit.balanced_accuracy > 0.95
    assert fit.n_images == 40 and fit.n_test_images == 8  # a fifth of the images held out


def test_maps_above_a_threshold_come_largest_first():
    fit = fit_object_maps(synthetic())
    above = fit.maps_above(0.0)
    assert (np.diff(fit.weights[above]) <= 0).all() and (fit.weights[above] > 0).all()
    assert set(above) == set(np.flatnonzero(fit.weights > 0))  # relative or not, 0 is the paper's rule
    assert len(fit.maps_above(1.0)) == 0


def test_held_out_accuracy_splits_by_image_not_by_position():
    data = synthetic(n_images=20)
    train, test = removal._held_out_split(data, 0.2, seed=0)
    assert not set(data.image[train]) & set(data.image[test])
    assert len(set(data.image[test])) == 4


def test_the_fit_without_boxes_says_what_to_do():
    data = synthetic()
    only_negatives = TrainingData(data.X, np.zeros_like(data.y), data.image, 3, 32)
    with pytest.raises(ValueError, match="draw at least one box"):
        fit_object_maps(only_negatives)


def test_too_few_images_give_no_held_out_accuracy_but_still_weights():
    fit = fit_object_maps(synthetic(n_images=3))
    assert fit.accuracy is None and fit.n_test_images == 0 and fit.weights.shape == (8,)


# ---------------------------------------------------------------------------- dropping maps


def test_dropping_zeroes_the_chosen_maps_of_the_penultimate_layer_only(g64):
    z = sample_z(4, g64.config, seed=0)
    layer, maps = g64.penultimate_layer, [0, 3]
    weights_before = {k: v.clone() for k, v in g64.state_dict().items()}
    before, after = generate_with_and_without(g64, z, layer, maps)
    assert before.shape == after.shape == (4, 64, 64, 3) and (before != after).any()
    with torch.no_grad():
        _, plain = g64(z, return_features=True)
        images, dropped = g64(z, drop={layer: maps}, return_features=True)
    assert dropped[layer][:, maps].abs().sum() == 0 and plain[layer][:, maps].abs().sum() > 0
    kept = [m for m in range(g64.feature_channels[layer]) if m not in maps]
    assert torch.equal(dropped[layer][:, kept], plain[layer][:, kept])
    for earlier in range(layer):
        assert torch.equal(dropped[earlier], plain[earlier])
    assert all(torch.equal(v, weights_before[k]) for k, v in g64.state_dict().items()), "the model was changed"
    assert not g64.training


def test_dropping_no_maps_changes_nothing(g64):
    before, after = generate_with_and_without(g64, sample_z(2, g64.config, seed=1), g64.penultimate_layer, [])
    assert np.array_equal(before, after)


def test_the_random_control_draws_distinct_maps_reproducibly():
    a = removal.random_maps(64, 10, seed=3)
    assert len(set(a)) == 10 and a.max() < 64
    assert np.array_equal(a, removal.random_maps(64, 10, seed=3)) and not np.array_equal(a, removal.random_maps(64, 10, seed=4))
    with pytest.raises(ValueError):
        removal.random_maps(8, 9)


# ---------------------------------------------------------------------------- instrument: auto-annotate and measure


class FakeRoomInstrument(nn.Module):
    """Reads a room the way a test wants: a window where the image's top-left quadrant is bright,
    covering mask rows 2-3, columns 4-7 (pixels x 16-32, y 8-16); a bed always."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        n = x.shape[0]
        window = x[:, :, :32, :32].mean((1, 2, 3)) > x.mean((1, 2, 3))
        presence = torch.full((n, len(OBJECT_NAMES)), -10.0)
        presence[:, OBJECT_NAMES.index("window")] = torch.where(window, 10.0, -10.0)
        presence[:, OBJECT_NAMES.index("bed")] = 10.0
        masks = torch.full((n, len(OBJECT_NAMES), 16, 16), -10.0)
        masks[window, OBJECT_NAMES.index("window"), 2:4, 4:8] = 10.0
        return presence, masks


def test_auto_annotate_uses_the_instrument_boxes_and_marks_them(g64):
    z = pool_z(g64.config, 0, range(12))
    notes = removal.auto_annotate(g64, FakeRoomInstrument(), z, "window", seed=0)
    assert len(notes) == 12 and all(a.source == "instrument" for a in notes)
    with_window = [a for a in notes if a.boxes]
    assert with_window and all(a.boxes == ((16.0, 8.0, 32.0, 16.0),) for a in with_window)
    assert all(a.no_object for a in notes if not a.boxes)
    assert [a.index for a in notes] == list(range(12)) and notes[5].z == tuple(z[5].tolist())


def test_measure_removal_compares_fitted_and_random_drops(g64):
    z = sample_z(40, g64.config, seed=2)
    layer = g64.penultimate_layer
    r = removal.measure_removal(g64, FakeRoomInstrument(), z, layer, [0, 1, 2], "window", random_control_seed=0)
    assert r.n == 40 and len(r.fitted.maps) == len(r.random.maps) == 3
    assert 0 <= r.presence_before["window"] <= 1 and r.presence_before["bed"] == 1.0
    assert r.fitted.kept["bed"] == 1.0 and r.random.kept["bed"] == 1.0
    assert r.fitted.pixel_change > 0
    assert [row["condition"] for row in r.rows()] == ["no drop", "fitted maps dropped", "random maps dropped (control, mean of 5 draws)"]
    nothing = removal.measure_removal(g64, FakeRoomInstrument(), z, layer, [], "window")
    assert nothing.fitted.pixel_change == 0 and nothing.fitted.removed in (0.0, None)


def test_measure_needs_an_object_the_instrument_knows(g64):
    with pytest.raises(ValueError, match="measures window"):
        removal.measure_removal(g64, FakeRoomInstrument(), sample_z(2, g64.config), 3, [0], "ceiling fan")


# ---------------------------------------------------------------------------- annotations


def test_make_annotation_orders_clips_and_drops_clicks(g64):
    a = note(g64, 0, [(40, 50, 10, 15), (-3, 60, 5, 70), (20, 20, 21, 21)], no_object=True)
    assert a.boxes == ((10.0, 15.0, 40.0, 50.0), (0.0, 60.0, 5.0, 64.0))  # the 1-px click is gone
    assert not a.no_object  # boxes win


def test_annotations_are_saved_per_model_and_object_and_read_back(tmp_path, g64, identity):
    store = AnnotationStore(tmp_path)
    store.put(identity, "window", [note(g64, 7, [(10, 15, 40, 50)])])
    store.put(identity, "window", [note(g64, 9, no_object=True)])
    store.put(identity, "bed", [note(g64, 7, [(0, 30, 50, 64)])])
    again = AnnotationStore(tmp_path).load(identity, "window")  # a new session, or a reload
    assert [(a.index, a.boxes, a.no_object) for a in again.images] == [(7, ((10.0, 15.0, 40.0, 50.0),), False), (9, (), True)]
    assert again.n_boxes == 1 and again.n_images == 2
    data = json.loads(store.path(identity, "window").read_text())
    assert data["model"]["fingerprint"] == identity.fingerprint and data["object"] == "window"
    assert data["images"][0]["seed"] == 0 and len(data["images"][0]["z"]) == 16 and data["images"][0]["boxes"] == [[10, 15, 40, 50]]
    assert AnnotationStore(tmp_path).load(identity, "bed").n_boxes == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written atomically: no temp file left


def test_saved_z_regenerates_the_same_image(tmp_path, g64, identity):
    store = AnnotationStore(tmp_path)
    store.put(identity, "window", [note(g64, 4, [(0, 0, 8, 8)])])
    z = AnnotationStore(tmp_path).load(identity, "window").z()
    assert torch.equal(z[0], pool_z(g64.config, 0, [4])[0])


def test_two_tabs_editing_different_images_keep_both(tmp_path, g64, identity):
    tab_a, tab_b = AnnotationStore(tmp_path), AnnotationStore(tmp_path)
    tab_a.load(identity, "window"), tab_b.load(identity, "window")  # both opened on an empty set
    tab_a.put(identity, "window", [note(g64, 0, [(0, 0, 10, 10)])])
    tab_b.put(identity, "window", [note(g64, 1, [(5, 5, 20, 20)])])
    assert [a.index for a in tab_a.load(identity, "window").images] == [0, 1]


def test_an_image_with_its_boxes_deleted_is_no_longer_annotated(tmp_path, g64, identity):
    store = AnnotationStore(tmp_path)
    store.put(identity, "window", [note(g64, 0, [(0, 0, 10, 10)])])
    assert store.put(identity, "window", [note(g64, 0, [])]).n_images == 0


def test_instrument_made_annotations_can_be_removed_alone(tmp_path, g64, identity):
    store = AnnotationStore(tmp_path)
    store.put(identity, "window", [note(g64, 0, [(0, 0, 10, 10)]), note(g64, 1, [(0, 0, 8, 8)], source="instrument")])
    left = store.remove_source(identity, "window", "instrument")
    assert [(a.index, a.source) for a in left.images] == [(0, "hand")]


def test_file_names_come_from_the_model_not_from_raw_input(tmp_path, g64):
    odd = ModelIdentity.of("../../etc/passwd me", g64)
    path = AnnotationStore(tmp_path).path(odd, "window")
    assert path.parent == tmp_path and "/" not in path.name and ".." not in path.name
    with pytest.raises(AnnotationError):
        AnnotationStore(tmp_path).path(odd, "../window")


def test_the_annotations_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_ANNOTATIONS_DIR", str(tmp_path / "notes"))
    assert AnnotationStore().root == tmp_path / "notes"
    monkeypatch.delenv("DCGAN_ANNOTATIONS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_data.annotations_dir() == tmp_path / "data" / "dcgan-explorer" / "annotations"


def test_the_fingerprint_follows_the_weights_and_survives_an_fp16_export(tmp_path, g64):
    from dcgan_core.checkpoints import generator_fingerprint, load_model

    fp = generator_fingerprint(g64)
    cfg = g64.config
    save_checkpoint(tmp_path / "half.safetensors", Checkpoint(cfg, g64.state_dict()), dtype=torch.float16)
    assert generator_fingerprint(load_model(tmp_path / "half.safetensors").generator) == fp
    other = Generator(cfg).eval()
    assert generator_fingerprint(other) != fp


def export(g, identity, notes) -> str:
    return AnnotationSet(model=identity, object_name="window", images=tuple(notes)).to_json()


def test_an_export_imports_into_the_same_model(tmp_path, g64, identity):
    text = export(g64, identity, [note(g64, 2, [(1, 2, 30, 40)]), note(g64, 3, no_object=True)])
    store = AnnotationStore(tmp_path / "elsewhere")
    merged, n = store.import_json(identity, "window", text)
    assert n == 2 and merged.n_boxes == 1 and store.load(identity, "window") == merged


def test_an_import_for_another_model_is_refused(tmp_path, g64, identity):
    other = ModelIdentity.of("other", Generator(g64.config).eval(), step=5)
    text = export(g64, other, [note(g64, 2, [(1, 2, 30, 40)])])
    with pytest.raises(AnnotationError, match="drawn on model other .*the model in use is model tiny"):
        AnnotationStore(tmp_path).import_json(identity, "window", text)
    assert not AnnotationStore(tmp_path).path(identity, "window").exists()


def test_an_import_for_another_object_is_refused(tmp_path, g64, identity):
    text = AnnotationSet(model=identity, object_name="bed", images=(note(g64, 0, [(0, 0, 9, 9)]),)).to_json()
    with pytest.raises(AnnotationError, match="bed annotations.*object in use is window"):
        AnnotationStore(tmp_path).import_json(identity, "window", text)


@pytest.mark.parametrize(
    "box, problem",
    [
        ([30, 10, 20, 40], "not a box inside"),  # x1 < x0
        ([10, 10, 80, 40], "not a box inside"),  # outside the 64-px image
        ([-1, 10, 20, 40], "not a box inside"),
        ([10, 10, 20], "not four numbers"),
        ([10, "10", 20, 40], "not four numbers"),
        ([10, math.nan, 20, 40], "not four numbers"),
        ([10, 10, True, 40], "not four numbers"),
    ],
)
def test_an_import_with_malformed_boxes_is_refused_naming_the_box(tmp_path, g64, identity, box, problem):
    data = json.loads(export(g64, identity, [note(g64, 2, [(1, 2, 30, 40)])]))
    data["images"][0]["boxes"].append(box)
    with pytest.raises(AnnotationError, match=f"image 0 \\(seed 0 #2\\), box 1: .*{problem}"):
        AnnotationStore(tmp_path).import_json(identity, "window", json.dumps(data))


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda d: d.update(format="something else"), "not a dcgan-explorer annotations file"),
        (lambda d: d["images"][0].update(z=[0.0] * 3), "z must be a list of 16 finite numbers"),
        (lambda d: d["images"][0].update(no_object=True), "marked as having no object but has 1 boxes"),
        (lambda d: d["images"][0].update(source="guess"), "source must be one of"),
        (lambda d: d["images"].append(dict(d["images"][0])), "appears twice"),
        (lambda d: d["model"].update(image_size=32), "64-px images"),
        (lambda d: d.update(images={}), "'images' must be a list"),
    ],
)
def test_an_import_with_a_bad_structure_is_refused(tmp_path, g64, identity, change, problem):
    data = json.loads(export(g64, identity, [note(g64, 2, [(1, 2, 30, 40)])]))
    change(data)
    with pytest.raises(AnnotationError, match=problem):
        AnnotationStore(tmp_path).import_json(identity, "window", json.dumps(data))


def test_an_import_that_is_not_json_is_refused(tmp_path, identity):
    with pytest.raises(AnnotationError, match="not valid JSON"):
        AnnotationStore(tmp_path).import_json(identity, "window", b"\x89PNG not json")


def test_a_damaged_saved_file_is_reported_with_its_path(tmp_path, g64, identity):
    store = AnnotationStore(tmp_path)
    store.path(identity, "window").write_text("{ half a file")
    with pytest.raises(AnnotationError, match="move the file away"):
        store.load(identity, "window")


# ---------------------------------------------------------------------------- command line


def test_the_measure_command_fits_on_an_annotations_file_and_prints_the_table(tmp_path, g64, identity, capsys):
    ckpt = tmp_path / "tiny.safetensors"
    save_checkpoint(ckpt, Checkpoint(g64.config, g64.state_dict(), step=2))
    notes = [note(g64, i, [(8 * (i % 4), 8, 8 * (i % 4) + 20, 40)]) for i in range(8)] + [note(g64, 8, no_object=True)]
    file = tmp_path / "notes.json"
    file.write_text(AnnotationSet(model=ModelIdentity.of("tiny", g64, 2), object_name="window", images=tuple(notes)).to_json())
    code = main(["forget", "measure", "--model", str(ckpt), "--annotations", str(file), "--n", "20", "--top-k", "4",
                 "--grid", str(tmp_path / "grid.png")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "9 images, 8 boxes" in out and "maps dropped: 4 of 8" in out and "random maps dropped (control, mean of 5 draws)" in out
    assert (tmp_path / "grid.png").is_file()


def test_the_measure_command_refuses_annotations_of_other_weights(tmp_path, g64, capsys):
    ckpt = tmp_path / "tiny.safetensors"
    save_checkpoint(ckpt, Checkpoint(g64.config, g64.state_dict(), step=2))
    other = ModelIdentity.of("tiny", Generator(g64.config).eval(), 9)
    file = tmp_path / "notes.json"
    file.write_text(AnnotationSet(model=other, object_name="window", images=(note(g64, 0, [(0, 0, 9, 9)]),)).to_json())
    assert main(["forget", "measure", "--model", str(ckpt), "--annotations", str(file)]) == 2
    assert "drawn on model tiny" in capsys.readouterr().err


def deeply_nested(kind: str, depth: int) -> str:
    """JSON nested `depth` levels: "list" is [[[...]]], "dict" is {"a": {"a": ...}}."""
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("text", ["[" * 100_000, deeply_nested("list", 100_000), deeply_nested("dict", 100_000)])
def test_json_nested_past_the_recursion_limit_is_refused_naming_the_file(tmp_path, identity, text):
    with pytest.raises(AnnotationError, match=r"^upload.json is nested too deeply to be an annotations file$"):
        AnnotationStore(tmp_path).import_json(identity, "window", text, where="upload.json")


def test_a_deep_structure_inside_a_valid_looking_file_is_a_one_line_refusal(tmp_path, g64, identity):
    data = json.loads(export(g64, identity, [note(g64, 2, [(1, 2, 30, 40)])]))
    data["model"]["name"] = json.loads(deeply_nested("list", 900))  # parses, but may be too deep to quote in a message
    with pytest.raises(AnnotationError) as e:
        AnnotationSet.from_json(json.dumps(data), where="deep.json")
    assert "\n" not in str(e.value)


def test_a_number_too_long_to_read_is_refused_naming_the_file(tmp_path, identity):
    with pytest.raises(AnnotationError, match="^long.json is not valid JSON"):
        AnnotationSet.from_json('{"object": ' + "9" * 5000 + "}", where="long.json")
