"""The vector arithmetic page under AppTest: pick exemplars by clicking, get the Fig. 7 result and its
measurement, save and load concept sets (and refuse one made for other weights); on the "Concept axes and directions"
page, axes, learned directions and the benchmark.

Models are untrained tiny generators saved straight to checkpoints (no training needed: the page's
mechanics do not depend on what the faces look like). AppTest asserts on text and state, not pixels.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from app_support import TIMEOUT, assert_clean, run_page, show_only
from streamlit.testing.v1 import AppTest

from dcgan_core.analysis import concept_sets
from dcgan_core.analysis.concept_sets import ConceptSet
from dcgan_core.analysis.user_data import model_identity
from dcgan_core.checkpoints import Checkpoint, load_model, save_checkpoint
from dcgan_core.latent import sample_z
from dcgan_core.models import Generator, ModelConfig

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "7_vector_arithmetic.py")
AXES = str(ROOT / "pages" / "8_concept_axes.py")  # axes, learned directions and the benchmark
HOME = str(ROOT / "explorer" / "Home.py")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def save_tiny(path: Path, image_size: int, dataset: str, seed: int) -> None:
    cfg = ModelConfig(image_size=image_size, nz=16, ngf=8, ndf=8)
    torch.manual_seed(seed)
    g = Generator(cfg)
    save_checkpoint(path, Checkpoint(model_config=cfg, generator=g.state_dict(), step=5, train_config={"dataset": dataset},
                                     meta={"dataset": dataset}))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """faces_a, faces_b (64 px, same z size, other weights) and rooms (32 px)."""
    models = tmp_path_factory.mktemp("models")
    save_tiny(models / "faces_a.safetensors", 64, "faces", seed=0)
    save_tiny(models / "faces_b.safetensors", 64, "faces", seed=1)
    save_tiny(models / "rooms.safetensors", 32, "rooms", seed=2)
    return models


@pytest.fixture
def models_dir(tiny_models, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DCGAN_CONCEPTS_DIR", str(tmp_path / "concepts"))
    return show_only(tiny_models, monkeypatch, tmp_path)


def run(model: str = "faces_a", page: str = PAGE) -> AppTest:
    return run_page(page, model=model)


def captions(at: AppTest) -> str:
    return "\n".join([c.value for c in at.caption] + [c for img in at.image for c in img.captions])


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def pick(at: AppTest, slot: int, indices: list[int], model: str = "faces_a") -> AppTest:
    """Make `slot` active and click `indices` on the grid (seed 0)."""
    at.segmented_control(key="arith_active").set_value(slot).run()
    revision = at.session_state["arith_revision"] if "arith_revision" in at.session_state else 0
    at.pills(key=f"arith_pick_{model}_{slot}_0_{revision}").set_value(indices).run()
    return at


def filled(model: str = "faces_a", page: str = PAGE, **state) -> AppTest:
    """The page with A, B, C already holding samples 0-2, 3-5 and 6-8 of seed 0 (as clicking them would)."""
    z = sample_z(9, ModelConfig(image_size=64, nz=16, ngf=8, ndf=8), seed=0).numpy()
    at = AppTest.from_file(page, default_timeout=TIMEOUT)
    at.session_state["model"] = model
    at.session_state[f"arith_slots_{model}"] = [[{"z": z[i], "seed": 0, "index": i} for i in range(3 * s, 3 * s + 3)] for s in range(3)]
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def slot_sizes(at: AppTest, model: str = "faces_a") -> list[int]:
    return [len(s) for s in at.session_state[f"arith_slots_{model}"]]


def test_page_runs_and_asks_for_three_exemplars_per_concept(models_dir):
    at = run()
    assert_clean(at)
    assert at.title[0].value == "Vector arithmetic"
    assert any("Pick at least 3 exemplars for each concept" in i.value for i in at.info)
    assert "#0" in captions(at) and "#31" in captions(at)


def test_page_runs_from_the_navigation(models_dir):
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    at.session_state["model"] = "faces_a"
    at.run()
    at.switch_page(str(Path("..") / "pages" / "7_vector_arithmetic.py")).run()
    assert_clean(at)
    assert at.title[0].value == "Vector arithmetic"


def test_clicking_samples_fills_the_slots_and_gives_the_measured_result(models_dir):
    at = run()
    pick(at, 0, [0, 1, 2])
    pick(at, 1, [3, 4, 5])
    assert not at.get("markdown") or "Instrument, 9 images" not in markdown(at)
    pick(at, 2, [6, 7, 8])
    assert_clean(at)
    assert slot_sizes(at) == [3, 3, 3]
    assert "Y = man with glasses − man without glasses + woman without glasses in the centre" in captions(at)
    assert "uniform noise ±0.25" in captions(at)
    verdicts = [m.value for m in at.markdown if m.value.startswith("**Instrument")]
    assert verdicts[0].startswith("**Instrument, 9 images:** ") and "/9" in verdicts[0]
    assert verdicts[1].startswith("**Instrument, 1 image:** ")  # the pixel-space result, read the same way
    assert "mean image A − B + C, clipped to 0..255" in captions(at)
    means = next(c for c in captions(at).splitlines() if c.startswith("Instrument on each G(mean z): "))
    assert re.search(r"A [MW]S?G?[←→]?, B [MW]S?G?[←→]?, C [MW]S?G?[←→]?\.", means)  # each mean read, e.g. "A WS, B W, C M."


def test_clicking_a_sample_again_takes_it_out_and_remove_and_clear_work(models_dir):
    at = pick(run(), 0, [0, 1, 2, 3])
    at.pills(key="arith_pick_faces_a_0_0_0").set_value([0, 2, 3]).run()
    assert [p["index"] for p in at.session_state["arith_slots_faces_a"][0]] == [0, 2, 3]
    at.pills(key="arith_remove_0_0").set_value(1).run()  # the second exemplar: #2
    assert_clean(at)
    assert [p["index"] for p in at.session_state["arith_slots_faces_a"][0]] == [0, 3]
    at.button(key="arith_clear_0").click().run()
    assert slot_sizes(at) == [0, 0, 0]


def test_noise_scale_changes_the_caption(models_dir):
    at = filled()
    at.slider(key="arith_scale").set_value(0.5).run()
    assert_clean(at)
    assert "uniform noise ±0.5" in captions(at)


def test_a_saved_set_loads_back_into_another_slot(models_dir, tmp_path):
    at = pick(run(), 0, [4, 9, 11])
    at.text_input(key="arith_name_faces_a_0_widget").input("man with glasses").run()
    at.button(key="arith_save_button").click().run()
    assert_clean(at)
    assert any("Saved 3 exemplars of 'man with glasses'" in s.value for s in at.success)
    assert (tmp_path / "concepts" / "faces_a" / "man_with_glasses.json").is_file()
    at.segmented_control(key="arith_active").set_value(2).run()
    at.selectbox(key="arith_saved").set_value("man_with_glasses.json")
    at.button(key="arith_load_button").click().run()
    assert_clean(at)
    slots = at.session_state["arith_slots_faces_a"]
    assert [p["index"] for p in slots[2]] == [4, 9, 11]
    assert all((a["z"] == b["z"]).all() for a, b in zip(slots[0], slots[2]))
    assert at.session_state["arith_name_faces_a_2"] == "man with glasses"


def set_file_of(models_dir: Path, model: str) -> bytes:
    """A downloaded concept set of 3 exemplars made with `model`."""
    loaded = load_model(models_dir / f"{model}.safetensors")
    made = ConceptSet("neutral woman", sample_z(3, loaded.config, seed=7), model_identity(model, loaded), ((7, 0), (7, 1), (7, 2)))
    return concept_sets.concept_set_to_json(made).encode()


def test_an_uploaded_set_of_this_model_fills_the_active_slot(models_dir):
    at = run()
    at.file_uploader(key="arith_upload_0").upload("nw.json", set_file_of(models_dir, "faces_a"), "application/json").run()
    assert_clean(at)
    assert any("Loaded 3 exemplars of 'neutral woman' from nw.json into slot A" in s.value for s in at.success)
    assert [(p["seed"], p["index"]) for p in at.session_state["arith_slots_faces_a"][0]] == [(7, 0), (7, 1), (7, 2)]


def test_a_set_made_for_another_model_is_refused_with_a_message(models_dir, tmp_path):
    at = run("faces_b")
    at.file_uploader(key="arith_upload_0").upload("nw.json", set_file_of(models_dir, "faces_a"), "application/json").run()
    assert not at.exception
    message = next(e.value for e in at.error)
    assert "was made for model faces_a" in message and "not for model faces_b" in message and "Pick faces_a" in message
    assert slot_sizes(at, "faces_b") == [0, 0, 0]
    folder = tmp_path / "concepts" / "faces_b"  # the same file copied into this model's folder by hand
    folder.mkdir(parents=True)
    (folder / "nw.json").write_bytes(set_file_of(models_dir, "faces_a"))
    at.run()
    at.button(key="arith_load_button").click().run()
    assert "not for model faces_b" in next(e.value for e in at.error)


def page_text(at: AppTest) -> str:
    """Everything the page says in words: titles, text, captions, messages and widget labels."""
    parts = [e.value for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "success") for e in at.get(kind)]
    parts += [w.label for kind in ("button", "toggle", "text_input", "selectbox", "segmented_control") for w in at.get(kind)]
    return "\n".join(parts) + "\n" + captions(at)


def test_on_a_rooms_model_the_page_offers_the_faces_model_first_and_shows_no_rooms_as_faces(models_dir):
    at = run("rooms")
    assert_clean(at)
    title, reason, switch = list(at.main.children.values())[:3]  # nothing before the reason and the switch
    assert title.value == "Vector arithmetic"
    assert "does not draw them" in reason.value and "rooms" in reason.value
    assert switch.label == "Switch to the **faces_a** model"
    text = page_text(at)
    assert not at.image, "no samples of rooms under face concepts"
    for face_word in ("woman", "smiling", "random faces", "glasses"):
        assert face_word not in text.replace("(glasses, smiles, sex, head turn)", ""), face_word


def test_on_a_rooms_model_the_arithmetic_still_runs_when_asked_with_neutral_names(models_dir):
    at = run("rooms")
    at.toggle(key="arith_anyway").set_value(True).run()
    assert not at.exception
    assert any("rooms" in w.value and "grain of salt" in w.value for w in at.warning)
    pick(at, 0, [0, 1, 2], model="rooms")
    assert slot_sizes(at, "rooms") == [3, 0, 0]  # the arithmetic itself works on any model
    assert [at.text_input(key=f"arith_name_rooms_{i}_widget").value for i in range(3)] == ["concept A", "concept B", "concept C"]
    assert "random faces" not in page_text(at)


def test_the_one_click_demo_fills_the_glasses_equation_and_says_what_rate_to_expect(models_dir):
    at = run()
    assert at.selectbox(key="arith_fill").value == "glasses"
    assert any("about 8 draws in 10" in c.value for c in at.caption)


def test_one_click_switches_from_a_rooms_model_to_a_faces_model(models_dir):
    at = run("rooms")
    assert at.button(key="arith_switch").label == "Switch to the **faces_a** model"
    at.button(key="arith_switch").click().run()
    assert_clean(at)
    assert at.session_state["model"] == "faces_a"
    assert at.selectbox(key="model_widget").value == "faces_a"  # the sidebar says so too
    assert not any("grain of salt" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "arith_switch"]  # nothing to switch to any more


def test_instrument_labels_are_on_for_a_faces_model_picked_after_one_they_are_off_for(models_dir):
    at = run_page(PAGE, model="rooms", arith_anyway=True)
    assert at.toggle(key="arith_badges_rooms").value is False  # readings of rooms would mean little
    at.session_state["model"] = "faces_a"  # picked in the sidebar
    at.run()
    assert at.toggle(key="arith_badges_faces_a").value is True
    assert any(c.value.startswith("Labels: M man") for c in at.caption)


def test_two_slots_define_an_axis(models_dir):
    at = filled(page=AXES)
    at.selectbox(key="arith_axis_from").set_value("slot:0")
    at.selectbox(key="arith_axis_to").set_value("slot:2")
    at.slider(key="arith_axis_steps").set_value(5).run()
    assert_clean(at)
    assert "from mean(A: man with glasses (3)) to mean(C: woman without glasses (3)), 5 steps" in captions(at)
    assert "plus t × axis" in captions(at) and "Mean instrument turn per column" in captions(at)


def test_learned_directions_are_fitted_on_request(models_dir):
    at = run(page=AXES)
    assert "Fitted on" not in captions(at)
    at.selectbox(key="arith_dir_n").set_value(500)
    at.button(key="arith_fit_button").click().run()
    assert_clean(at)
    assert "Fitted on 500 labelled samples of seed 0" in captions(at)
    fitted = [s.key for s in at.slider if s.key.startswith("arith_dir_amount_")]
    if fitted:  # an untrained model may draw no attribute the instrument can tell apart
        assert "How each attribute lies in z (500 samples of seed 0)" in captions(at)
        assert "Labels changed by the 8 neighbours' noise" in captions(at)
        assert at.get("plotly_chart")  # linear separability and convexity per attribute
        at.slider(key=fitted[0]).set_value(2.0).run()
        assert_clean(at)
        assert "before (top) and after (bottom)" in captions(at)
    else:
        assert "Not fitted" in captions(at)


def test_the_benchmark_runs_on_request_and_reads_each_equation_against_its_ceilings():
    import json

    at = run_page(AXES, model="faces")  # the shipped faces model: the instrument finds every concept in it
    assert "arith_bench_chart" not in [c.key for c in at.get("plotly_chart")]
    at.selectbox(key="arith_bench_draws").set_value(20)
    at.button(key="arith_bench_button").click().run(timeout=180)
    assert_clean(at)
    text = markdown(at)
    assert re.search(r"man with glasses - man without glasses \+ woman without glasses = woman with glasses\*\*: \d+% of 20 draws", text)
    assert re.search(r"mean\(looking left\) reads left and mean\(looking right\) reads right\*\*: \d+% of 20 draws", text)
    assert "20 draws per equation, 3 exemplars per concept from a pool of 1000 samples" in captions(at)
    chart = next(c for c in at.get("plotly_chart") if c.key == "arith_bench_chart")
    bars = {t["name"]: t["y"] for t in json.loads(chart.proto.spec)["data"]}
    assert len(bars) == 7 and all(len(v) == 2 for v in bars.values())  # smile and glasses
    whiskers = {t["name"]: t.get("error_y", {}).get("array") for t in json.loads(chart.proto.spec)["data"]}
    rate = bars["in z (measured)"][1]
    assert whiskers["in z (measured)"][1] == pytest.approx((rate * (1 - rate) / 20) ** 0.5)  # one standard error over 20 draws
    assert whiskers["ceiling: any linear z"] is None  # 4,000 draws: no whisker worth drawing
    assert all(0.75 < v < 0.92 for v in bars["ceiling: any linear z"])  # the protocol's ceiling on a linear z (about 83%)
    assert all(a > b for a, b in zip(bars["ceiling: one z axis per attribute"], bars["ceiling: any linear z"]))


def test_the_benchmark_is_not_offered_for_a_model_the_face_instrument_cannot_read(models_dir):
    at = run_page(AXES, model="rooms", arith_anyway=True)
    assert_clean(at)
    assert not [b for b in at.button if b.key == "arith_bench_button"]
    assert any("The benchmark reads every result with the face instrument: pick a 64-px faces model" in i.value for i in at.info)


def test_a_learned_direction_moves_your_saved_faces(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_CONCEPTS_DIR", str(tmp_path / "concepts"))
    faces = load_model("faces")  # the shipped model: the instrument tells its attributes apart
    codes = sample_z(2, faces.config, seed=77)
    concept_sets.save_concept_set(concept_sets.concept_set_path("faces", "my faces"),
                                  ConceptSet("my faces", codes, model_identity("faces", faces)))
    at = run_page(AXES, model="faces", arith_dir_saved="my_faces")
    at.selectbox(key="arith_dir_n").set_value(500)
    at.button(key="arith_fit_button").click().run()
    at.slider(key="arith_dir_amount_glasses").set_value(2.0).run()
    assert_clean(at)
    assert "your saved codes 'my faces' (2 of 2), before (top) and after (bottom): glasses +2" in captions(at)
