"""The "Dissecting G" and "Paint with units" pages under AppTest, on a tiny 64-px rooms model and the shipped segmenter.

The model's dissection is stored beside it the way `dcgan dissect --save` writes it (dissect with
a small n, in the fixture). AppTest cannot draw on the canvas: the painted region is set where
the canvas writes it (`app_state.PAINT_REGION`). Assertions are on text, state and captions, not pixels.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from app_support import assert_clean, run_page, show_only

from dcgan_core.analysis import concept_sets
from dcgan_core.analysis.dissection import Dissection, dissect, dissection_report, random_generator
from dcgan_core.analysis.instruments import segmenter_for
from dcgan_core.analysis.interventions import insert_levels, paint
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import Checkpoint, load_model, save_checkpoint
from dcgan_core.models import Generator, ModelConfig, init_dcgan_weights
from explorer import app_state as keys
from explorer import dissection as dis

ROOT = Path(__file__).resolve().parent.parent
DISSECTION = str(ROOT / "pages" / "11_dissection.py")
PAINT = str(ROOT / "pages" / "12_paint.py")
N = 20  # samples of the stored dissection: enough to fill every table, fast on a CPU

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def store_dissection(checkpoint: Path, step: int | None = None) -> Path:
    """What `dcgan dissect --model CKPT --n 20 --save ...` writes beside the checkpoint (at another step when given)."""
    model = load_model(checkpoint)
    segmenter = segmenter_for("rooms")
    trained = dissect(model.generator, segmenter, n=N)
    random = dissect(random_generator(model.generator), segmenter, n=N, masks_from=model.generator)
    report = {"model": str(checkpoint), "step": model.checkpoint.step if step is None else step,
              **dissection_report(trained, random)}
    path = dis.report_path(checkpoint)
    path.write_text(json.dumps(report))
    return path


def tiny_rooms_g(path: Path, dataset: str = "rooms") -> None:
    """A 64-px G (ngf 8) with the paper's initial weights, its BatchNorm statistics measured on its own batches (so its
    units have a trained G's scale and an edit shows in the pixels), saved as a G-only checkpoint of `dataset`."""
    cfg = ModelConfig(image_size=64, nz=16, ngf=8, ndf=8)
    torch.manual_seed(0)
    g = Generator(cfg)
    init_dcgan_weights(g)
    norms = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.momentum = None  # cumulative: the plain mean over the batches
    with torch.no_grad():
        g.train()(torch.rand(64, cfg.nz) * 2 - 1)
    save_checkpoint(path, Checkpoint(model_config=cfg, generator=g.state_dict(), step=5,
                                     train_config={"dataset": dataset}, meta={"dataset": dataset}))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """rooms64 (a tiny 64-px rooms G, its dissection stored beside it), bare64 (the same weights, no dissection) and
    faces64 (a faces G: no segmenter exists for faces yet)."""
    models = tmp_path_factory.mktemp("models")
    tiny_rooms_g(models / "rooms64.safetensors")
    store_dissection(models / "rooms64.safetensors")
    shutil.copy(models / "rooms64.safetensors", models / "bare64.safetensors")
    tiny_rooms_g(models / "faces64.safetensors", dataset="faces")
    return models


@pytest.fixture
def models_dir(tiny_models, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DCGAN_CONCEPTS_DIR", str(tmp_path / "concepts"))
    return show_only(tiny_models, monkeypatch, tmp_path)


def texts(at) -> str:
    return "\n".join([c.value for c in at.caption] + [m.value for m in at.markdown] + [i.value for i in at.info]
                     + [c for img in at.image for c in img.captions])


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# ---------------------------------------------------------------------------- Dissecting G


def test_a_stored_dissection_shows_the_summary_and_the_contrast_with_a_random_g(models_dir):
    at = run_page(DISSECTION, **{keys.MODEL: "rooms64"})
    assert_clean(at)
    assert "rooms64.dissection.json" in texts(at) and f"n = {N}" in texts(at)
    assert len(at.dataframe) == 2  # the per-class contrast and the class's ranked units
    contrast = at.dataframe[0].value
    assert "wall" in set(contrast["class"]) and {"best IoU", "random G's best IoU", "ratio"} <= set(contrast.columns)
    assert at.selectbox(key=keys.DISSECT_CLASS).value in set(contrast["class"])
    assert {"Best layer", "Best IoU", "Random G's best", "Ratio"} <= set(metrics(at))
    assert not at.button  # no dissect button: the stored one is used


def test_the_per_unit_view_shows_top_activations_the_unit_removed_and_its_iou_per_class(models_dir):
    at = run_page(DISSECTION, **{keys.MODEL: "rooms64", keys.DISSECT_CLASS: "wall"})
    assert_clean(at)
    layer = at.selectbox(key=keys.DISSECT_LAYER_PREFIX + "wall").value
    unit_box = at.selectbox(key=f"{keys.DISSECT_UNIT_PREFIX}wall_{layer}")
    other = unit_box.options[3]
    unit_box.set_value(int(other.split()[1])).run()  # options read "unit 17 · wall IoU 0.123"
    assert_clean(at)
    captions = texts(at)
    assert f"Unit {other.split()[1]} of layer {layer}: best class" in captions
    assert "top activations, on-region outlined" in captions and f"unit {other.split()[1]} removed" in captions
    assert "difference" in captions


def test_the_ranked_units_follow_the_class_and_layer(models_dir):
    at = run_page(DISSECTION, **{keys.MODEL: "rooms64", keys.DISSECT_CLASS: "wall"})
    at.selectbox(key=keys.DISSECT_LAYER_PREFIX + "wall").set_value(0).run()
    assert_clean(at)
    ranked = at.dataframe[1].value
    assert len(ranked) == dis.TABLE_UNITS and list(ranked["IoU"]) == sorted(ranked["IoU"], reverse=True)
    assert "units of layer 0 whose on-region best matches wall" in texts(at)


def test_without_a_stored_dissection_the_page_dissects_on_demand(models_dir):
    at = run_page(DISSECTION, **{keys.MODEL: "bare64"})
    assert_clean(at)
    assert any("dcgan dissect --model bare64 --save" in i.value for i in at.info)
    assert not at.dataframe
    at.session_state[keys.DISSECT_N] = 200
    at.button(key=keys.DISSECT_RUN).click().run()
    assert_clean(at)
    assert "computed here (n = 200)" in texts(at)
    assert len(at.dataframe) == 2
    at.run()  # a rerun reuses the dissection (cached), without the button
    assert_clean(at)
    assert "computed here (n = 200)" in texts(at)


def test_a_stored_dissection_of_another_step_is_ignored(models_dir, tmp_path, monkeypatch):
    folder = tmp_path / "stale"
    folder.mkdir()
    shutil.copy(models_dir / "bare64.safetensors", folder / "stale64.safetensors")
    store_dissection(folder / "stale64.safetensors", step=999)
    monkeypatch.setenv("DCGAN_MODELS_DIR", str(folder))
    at = run_page(DISSECTION, **{keys.MODEL: "stale64"})
    assert_clean(at)
    assert "was made at step 999, not this checkpoint's 5; it is ignored" in texts(at)
    assert at.button(key=keys.DISSECT_RUN)  # offered as if there were none
    at = run_page(PAINT, **{keys.MODEL: "stale64"})
    assert_clean(at)
    assert any("Painting needs a dissection of stale64" in i.value for i in at.info)


@pytest.mark.parametrize("page", [DISSECTION, PAINT], ids=["dissection", "paint"])
def test_a_model_without_a_segmenter_gets_one_line(models_dir, page):
    at = run_page(page, **{keys.MODEL: "faces64"})
    assert_clean(at)
    (line,) = [i.value for i in at.info]
    assert line.startswith("Model faces64 cannot be dissected: no faces-segmenter instrument is shipped yet") and "\n" not in line


# ---------------------------------------------------------------------------- Paint with units


def region(size: int = 64) -> np.ndarray:
    painted = np.zeros((size, size), bool)
    painted[8:24, 8:40] = True
    return painted


def painted_page(**state):
    """The paint page on rooms64's sample 0, painting walls (what the tiny G draws most) at layer 1, the region painted."""
    at = run_page(PAINT, **{keys.MODEL: "rooms64", keys.PAINT_CLASS: "wall", keys.PAINT_LAYER_PREFIX + "wall": 1, **state})
    assert_clean(at)
    at.session_state[keys.PAINT_REGION] = region()
    at.run()
    assert_clean(at)
    assert "512 px painted" in texts(at)
    return at


def apply(at):
    next(b for b in at.button if b.key == keys.PAINT_APPLY).click().run()
    assert_clean(at)
    return at


def test_paint_starts_on_a_sample_with_after_equal_to_before(models_dir):
    at = run_page(PAINT, **{keys.MODEL: "rooms64"})
    assert_clean(at)
    assert "No edit yet: after is before." in texts(at)
    classes = at.selectbox(key=keys.PAINT_CLASS)
    assert classes.value == ("window" if "window" in classes.options else classes.options[0])  # the tiny G draws no windows
    before, after = at.image[-3].value, at.image[-2].value
    assert before == after and "after 0 edits" in texts(at)


def test_applying_a_painted_region_changes_the_picture_and_reports_the_class_share(models_dir):
    at = apply(painted_page())
    text = texts(at)
    assert "wall pixels in the region:" in text and "→" in text
    assert "Edit 1: insert wall: 20 units of layer 1 at strength 3" in text and "512 px" in text
    assert at.image[-3].value != at.image[-2].value  # before != after
    assert at.session_state[keys.PAINT_REGION] is None  # the canvas starts empty on the edited picture


def test_edits_stack_then_undo_and_reset_take_them_back(models_dir):
    at = apply(painted_page())
    after_one = at.image[-2].value
    at.session_state[keys.PAINT_MODE] = "remove"
    at.session_state[keys.PAINT_REGION] = region()
    at.run()
    apply(at)
    text = texts(at)
    assert "Edit 1: insert wall" in text and "Edit 2: remove wall: 20 units" in text and "after 2 edits" in text
    next(b for b in at.button if b.key == keys.PAINT_UNDO).click().run()
    assert_clean(at)
    assert "Edit 2: remove wall" not in texts(at) and at.image[-2].value == after_one
    next(b for b in at.button if b.key == keys.PAINT_RESET).click().run()
    assert_clean(at)
    assert "No edit yet: after is before." in texts(at) and at.image[-3].value == at.image[-2].value


def test_apply_without_a_region_says_so_in_one_line(models_dir):
    at = run_page(PAINT, **{keys.MODEL: "rooms64"})
    apply(at)
    assert any(i.value == "Nothing applied: nothing is painted: paint a region on the picture first." for i in at.info)
    assert "No edit yet" in texts(at)


def test_each_picture_keeps_its_own_edits(models_dir):
    at = apply(painted_page())
    at.number_input(key=keys.PAINT_INDEX).set_value(1).run()
    assert_clean(at)
    assert "sample #1 of seed 0" in texts(at) and "No edit yet" in texts(at)
    at.number_input(key=keys.PAINT_INDEX).set_value(0).run()
    assert "Edit 1: insert wall" in texts(at)


def test_apply_edits_in_one_pass_equals_the_library_paint_for_one_edit(models_dir):
    model = load_model(models_dir / "rooms64.safetensors")
    trained = Dissection.from_dict(json.loads(dis.report_path(model.path).read_text())["trained"])
    report = dis.Report(trained, None, "test", "test")
    z = torch.rand(2, model.config.nz) * 2 - 1
    edit = dis.make_edit(report, "wall", 1, 5, region(), "insert", 2.0)
    ours = dis.apply_edits(model.generator, z, [edit], report)
    theirs = paint(model.generator, z, 1, list(edit.units), region=region(), mode="insert",
                   on_level=insert_levels(trained, "wall", 1), strength=2.0)
    assert torch.equal(ours, theirs)


def test_a_saved_code_can_be_painted_on(models_dir):
    model = load_model(models_dir / "rooms64.safetensors")
    codes = torch.rand(3, model.config.nz) * 2 - 1
    identity = ModelIdentity.of("rooms64", model.generator, model.checkpoint.step)
    path = concept_sets.concept_set_path("rooms64", "my rooms")
    concept_sets.save_concept_set(path, concept_sets.ConceptSet("my rooms", codes, identity))
    at = painted_page(**{keys.PAINT_SAVED: path.stem, keys.PAINT_CODE: 2})  # the picker lists the sets' file stems
    assert "code #2 of your saved set 'my rooms'" in texts(at)
    before = at.image[-3].value
    apply(at)
    assert "Edit 1: insert wall" in texts(at) and at.image[-3].value == before != at.image[-2].value
