"""Concept vectors: the paper's arithmetic and noise on known vectors, concept sets on disk and the
model they belong to, learned directions, and the benchmark on a model whose answer is known.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from concept_support import GlassesAtEitherEnd, StripesGenerator, StripesInstrument
import torch
from torch import nn

from dcgan_core.analysis import arithmetic, arithmetic_benchmark, concept_sets, directions, equations, labelling
from dcgan_core.analysis.concept_sets import ConceptSet, ConceptSetError
from dcgan_core.analysis.instruments import FaceInstrument, save_instrument
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import Checkpoint, generator_fingerprint, save_checkpoint
from dcgan_core.cli import main
from dcgan_core.models import Generator, ModelConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def identity(nz: int = 4, fingerprint: str = "aa" * 32, name: str = "faces") -> ModelIdentity:
    return ModelIdentity(name=name, fingerprint=fingerprint, nz=nz, z_prior="uniform", step=10)


# ---------------------------------------------------------------------------- arithmetic and noise


def test_arithmetic_is_mean_a_minus_mean_b_plus_mean_c():
    a = torch.tensor([[1.0, 0.0], [3.0, 0.0], [2.0, 3.0]])  # mean (2, 1)
    b = torch.tensor([[0.0, 1.0], [0.0, 3.0], [0.0, 2.0]])  # mean (0, 2)
    c = torch.tensor([[5.0, 5.0], [-5.0, -1.0]])  # mean (0, 2): sets may differ in size
    assert torch.allclose(arithmetic.concept_arithmetic(a, b, c), torch.tensor([2.0, 1.0]))


def test_arithmetic_takes_concept_sets_and_refuses_mixed_sizes():
    me = identity(nz=2)
    a, b, c = (ConceptSet(n, torch.full((3, 2), v), me) for n, v in (("a", 1.0), ("b", 0.5), ("c", 0.25)))
    assert torch.allclose(arithmetic.concept_arithmetic(a, b, c), torch.tensor([0.75, 0.75]))
    with pytest.raises(ValueError, match="different sizes"):
        arithmetic.concept_arithmetic(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 5))


def test_noisy_neighbours_are_uniform_within_the_scale_and_follow_their_seed():
    y = torch.tensor([0.5, -0.5, 0.0])
    around = arithmetic.noisy_neighbours(y, n=2000, scale=0.25, seed=3)
    noise = around - y
    assert around.shape == (2000, 3)
    assert noise.abs().max() <= 0.25 and noise.abs().max() > 0.249  # fills [-0.25, 0.25]
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.25 / 3**0.5) < 0.005  # uniform: std = scale / sqrt(3)
    assert torch.equal(around, arithmetic.noisy_neighbours(y, n=2000, scale=0.25, seed=3))
    assert not torch.equal(around, arithmetic.noisy_neighbours(y, n=2000, scale=0.25, seed=4))


def test_noisy_neighbours_do_not_clip_unless_asked():
    y = torch.tensor([1.0, -1.0])
    assert arithmetic.noisy_neighbours(y, n=500, seed=0).abs().max() > 1.2  # the paper does not clip
    assert arithmetic.noisy_neighbours(y, n=500, seed=0, clip=1.0).abs().max() <= 1.0


def test_arithmetic_codes_put_y_in_the_centre_of_nine():
    y = torch.tensor([0.1, 0.2, 0.3])
    codes = arithmetic.arithmetic_codes(y, scale=0.25, seed=0)
    assert codes.shape == (9, 3) and arithmetic.CENTRE == 4
    assert torch.equal(codes[4], y)
    others = torch.cat([codes[:4], codes[5:]])
    assert torch.equal(others, arithmetic.noisy_neighbours(y, 8, 0.25, seed=0))


def test_pixel_arithmetic_works_on_mean_images_and_clips():
    a = np.array([[[[200, 10, 0]]], [[[100, 10, 0]]]], np.uint8)  # two 1x1 images, mean (150, 10, 0)
    b = np.array([[[[100, 50, 0]]]], np.uint8)
    c = np.array([[[[0, 20, 255]]]], np.uint8)
    out = arithmetic.pixel_arithmetic(a, b, c)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 3)
    assert out[0, 0].tolist() == [50, 0, 255]  # 150-100+0; 10-50+20 clipped to 0; 0-0+255
    assert arithmetic.mean_image(a)[0, 0].tolist() == [150, 10, 0]


# ---------------------------------------------------------------------------- axes


def test_axis_strip_runs_from_one_mean_to_the_other():
    left, right = torch.tensor([[-1.0, 0.0], [-0.5, 0.0]]), torch.tensor([[1.0, 1.0]])
    strip = arithmetic.axis_strip(left, right, steps=5)
    assert torch.allclose(strip[0], torch.tensor([-0.75, 0.0])) and torch.allclose(strip[-1], torch.tensor([1.0, 1.0]))
    assert torch.allclose(arithmetic.concept_axis(left, right), torch.tensor([1.75, 1.0]))
    beyond = arithmetic.axis_strip(left, right, steps=3, extend=1.0)  # t = -1, 0.5, 2
    assert torch.allclose(beyond[0], torch.tensor([-2.5, -1.0]))


def test_along_axis_adds_each_amount_to_each_code():
    z = torch.zeros(2, 3)
    out = arithmetic.along_axis(z, torch.tensor([1.0, 0.0, 0.0]), [-1.0, 0.0, 2.0])
    assert out.shape == (2, 3, 3)
    assert out[1, :, 0].tolist() == [-1.0, 0.0, 2.0] and not out[..., 1:].any()


# ---------------------------------------------------------------------------- concept sets on disk


def test_save_and_load_round_trip_keeps_codes_bit_for_bit(tmp_path):
    z = torch.rand(3, 4)
    made = ConceptSet("smiling woman", z, identity(), sources=((0, 3), (0, 7), (5, 1)))
    path = tmp_path / "sets" / "smiling_woman.json"
    concept_sets.save_concept_set(path, made)
    back = concept_sets.load_concept_set(path, expect=identity())
    assert torch.equal(back.z, z) and back.name == "smiling woman" and back.sources == made.sources and back.model == made.model
    assert json.loads(path.read_text())["format"] == concept_sets.FORMAT
    assert [p.name for p in path.parent.iterdir()] == ["smiling_woman.json"]  # no temp file left behind


def test_a_set_made_for_other_weights_is_refused_naming_both_models(tmp_path):
    path = tmp_path / "set.json"
    concept_sets.save_concept_set(path, ConceptSet("neutral man", torch.rand(3, 4), identity(name="faces")))
    other = identity(name="faces", fingerprint="bb" * 32)
    with pytest.raises(ConceptSetError, match="was made for model faces .* not for model faces") as e:
        concept_sets.load_concept_set(path, expect=other)
    assert "pick the samples again" in str(e.value)


def test_a_set_of_another_z_size_is_refused(tmp_path):
    path = tmp_path / "set.json"
    concept_sets.save_concept_set(path, ConceptSet("neutral man", torch.rand(3, 4), identity(nz=4)))
    with pytest.raises(ConceptSetError, match="holds 4-d codes .* takes 100-d codes"):
        concept_sets.load_concept_set(path, expect=identity(nz=100, name="rooms"))


def test_damaged_and_foreign_files_are_refused_with_their_path(tmp_path):
    (tmp_path / "cut.json").write_text('{"format": "dcgan-explorer-concepts/1", "name": "x", "z": [[0.1')
    (tmp_path / "other.json").write_text('{"boxes": []}')
    with pytest.raises(ConceptSetError, match="cut.json is not JSON"):
        concept_sets.load_concept_set(tmp_path / "cut.json")
    with pytest.raises(ConceptSetError, match="other.json is not a concept set"):
        concept_sets.load_concept_set(tmp_path / "other.json")


def test_fingerprint_follows_the_weights_and_survives_fp16_export():
    cfg = ModelConfig(image_size=32, nz=16, ngf=8, ndf=8)
    g = Generator(cfg).eval()
    fp = generator_fingerprint(g)
    exported = Generator(cfg).eval()
    exported.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in g.state_dict().items()})
    assert generator_fingerprint(exported) == fp  # a shipped fp16 copy is the same model
    assert generator_fingerprint(Generator(cfg).eval()) != fp  # other weights are not


def test_set_files_live_under_the_concepts_folder_whatever_the_name(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_CONCEPTS_DIR", str(tmp_path))
    path = concept_sets.concept_set_path("faces", "../../etc/passwd")
    assert path.parent == tmp_path / "faces" and path.name == "etc_passwd.json"
    with pytest.raises(ConceptSetError, match="cannot name a file"):
        concept_sets.concept_set_path("faces", "../")


# ---------------------------------------------------------------------------- learned directions


def test_fit_directions_recovers_a_known_hyperplane_and_reports_held_out_accuracy():
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, (1500, 16))
    w = rng.normal(size=16)
    w /= np.linalg.norm(w)
    labels = {"smiling": z @ w > 0, "turn": np.tanh(3 * z[:, 0]), "glasses": np.zeros(1500, bool)}
    fitted = directions.fit_directions(z, labels, seed=0)
    smiling = fitted.directions["smiling"]
    assert np.isclose(np.linalg.norm(smiling.normal), 1.0) and smiling.normal @ w > 0.95
    assert smiling.accuracy > 0.95 and smiling.n_test == 375
    assert fitted.directions["turn"].normal[0] > 0.95  # points towards looking right
    assert fitted.skipped["glasses"].startswith("0 of 1500 samples read as glasses")  # all alike: nothing to separate


def test_project_out_leaves_a_unit_direction_orthogonal_to_the_held_ones():
    rng = np.random.default_rng(1)
    d, h1, h2 = (rng.normal(size=8) for _ in range(3))
    h1, h2 = h1 / np.linalg.norm(h1), h2 / np.linalg.norm(h2)
    out = directions.project_out(d, [h1, h2])
    assert np.isclose(np.linalg.norm(out), 1.0) and abs(out @ h1) < 1e-9 and abs(out @ h2) < 1e-9
    single = directions.project_out(d, h1)  # InterFaceGAN: n1 - (n1 . n2) n2, normalised
    expected = d - (d @ h1) * h1
    assert np.allclose(single, expected / np.linalg.norm(expected))
    with pytest.raises(ValueError, match="span"):
        directions.project_out(h1, [h1])


def test_move_along_adds_amount_times_the_direction():
    z = torch.zeros(2, 3)
    assert directions.move_along(z, np.array([0.0, 1.0, 0.0]), 1.5)[:, 1].tolist() == [1.5, 1.5]
    assert directions.move_along(z, np.array([0.0, 1.0, 0.0]), [-1.0, 1.0]).shape == (2, 2, 3)


def test_reading_summary_tells_each_attribute_by_its_majority():
    labels = {"glasses": np.array([True] * 9), "smiling": np.array([False] * 8 + [True]),
              "masculine": np.zeros(9, bool), "turn": np.array([-0.9] * 2 + [0.0] * 7)}
    assert labelling.reading_summary(labels) == (
        "9/9 with glasses · 8/9 neutral · 9/9 feminine · turn: 2 left, 7 frontal, 0 right"
    )


def test_exemplars_can_be_limited_to_samples_the_instrument_is_sure_of():
    samples = labelling.LabelledSamples(
        z=np.zeros((3, 2), np.float32), probabilities={"glasses": np.array([0.95, 0.6, 0.05])}, turn=np.array([-0.9, 0.0, 0.9])
    )
    sure = arithmetic_benchmark.exemplar_labels(samples, confidence=0.9)
    assert sure["glasses"].tolist() == [1, -1, 0]
    assert equations.Concept("glasses", {"glasses": True}).select(sure).tolist() == [True, False, False]
    assert equations.Concept("no glasses", {"glasses": False}).select(sure).tolist() == [False, False, True]
    assert equations.Concept("glasses", {"glasses": True}).select(samples.labels()).tolist() == [True, True, False]
    assert equations.TURN_RIGHT.select(sure).tolist() == [False, False, True]


# ---------------------------------------------------------------------------- the benchmark on a model with a known answer


def test_benchmark_finds_the_woman_with_glasses_when_z_encodes_the_attributes():
    report = arithmetic_benchmark.arithmetic_benchmark(StripesGenerator().eval(), StripesInstrument(), draws=30, pool=400, seed=0)
    by_name = {r.name: r for r in report.results}
    assert set(by_name) == {"smile", "glasses", "turn"} and not any(r.skipped for r in report.results)
    glasses = by_name["glasses"]
    assert glasses.draws == 30 and glasses.rates()["majority"] >= 0.8
    assert glasses.rates()["c_alone"] <= 0.2  # without A - B, the woman has no glasses
    assert glasses.kept_by_mean == {"man with glasses": 1.0, "man without glasses": 1.0, "woman without glasses": 1.0}  # z is linear here
    assert glasses.exemplars["man with glasses"] > 50
    assert 0 < glasses.chance < 0.5
    assert by_name["turn"].rates()["majority"] >= 0.8
    assert "glasses" in arithmetic_benchmark.format_benchmark(report)
    assert "averaging keeps the concept: mean(man with glasses) 100%" in arithmetic_benchmark.format_benchmark(report)
    sure = arithmetic_benchmark.arithmetic_benchmark(StripesGenerator().eval(), StripesInstrument(), draws=30, pool=400, seed=0, confidence=0.99)
    glasses_sure = next(r for r in sure.results if r.name == "glasses")
    assert glasses_sure.exemplars["man with glasses"] < glasses.exemplars["man with glasses"]  # unsure ones left out


def test_benchmark_shows_when_averaging_loses_a_concept():
    report = arithmetic_benchmark.arithmetic_benchmark(StripesGenerator().eval(), GlassesAtEitherEnd(), draws=30, pool=400, seed=0)
    glasses = next(r for r in report.results if r.name == "glasses")
    assert glasses.kept_by_mean["man with glasses"] < 0.5  # means of +z0 and -z0 glasses fall between, where there are none
    assert glasses.kept_by_mean["man without glasses"] > 0.9  # the middle region is one piece
    assert glasses.rates()["majority"] < 0.5


def test_benchmark_skips_an_equation_without_exemplars_and_says_why():
    class NoGlasses(StripesInstrument):
        def forward(self, x):
            out = super().forward(x)
            out[:, 0] = -10.0
            return out

    report = arithmetic_benchmark.arithmetic_benchmark(StripesGenerator().eval(), NoGlasses(), draws=3, pool=100, seed=0)
    glasses = next(r for r in report.results if r.name == "glasses")
    assert glasses.draws == 0 and "'man with glasses' (0)" in glasses.skipped
    assert next(r for r in report.results if r.name == "smile").draws == 3


def tiny_faces_files(tmp_path, image_size: int) -> list[str]:
    """`dcgan arithmetic` arguments naming an untrained faces model and an untrained face instrument, saved in tmp_path."""
    cfg = ModelConfig(image_size=image_size, nz=16, ngf=8, ndf=8)
    model = tmp_path / "tiny.safetensors"
    save_checkpoint(model, Checkpoint(model_config=cfg, generator=Generator(cfg).state_dict(), meta={"dataset": "faces"}))
    instrument = tmp_path / "faces.safetensors"
    save_instrument(instrument, FaceInstrument(width=4))
    return ["--model", str(model), "--instrument", str(instrument)]


def test_dcgan_arithmetic_command_prints_the_table(tmp_path, capsys):
    code = main(["arithmetic", *tiny_faces_files(tmp_path, 32), "--draws", "2", "--pool", "64"])
    out = capsys.readouterr()
    assert code == 0
    assert "equation" in out.out and "majority" in out.out and "turn" in out.out
    assert "32-px model of faces" in out.err  # warned: the instrument reads 64-px faces


def test_benchmarks_over_several_seeds_are_summarised_per_equation():
    reports = [arithmetic_benchmark.arithmetic_benchmark(StripesGenerator().eval(), StripesInstrument(), draws=20, pool=400, seed=s) for s in (0, 1)]
    text = arithmetic_benchmark.format_seeds(reports)
    glasses = next(line for line in text.splitlines() if line.startswith("glasses"))
    rates = [r.rates()["majority"] for rep in reports for r in rep.results if r.name == "glasses"]
    assert glasses.startswith(f"glasses   {rates[0]:.0%}, {rates[1]:.0%}: mean {sum(rates) / 2:.0%} (s.e. ")
    assert "ceiling (any linear z)" in glasses and "over seeds 0, 1" in text
    with pytest.raises(ValueError, match="no benchmarks"):
        arithmetic_benchmark.format_seeds([])


def test_dcgan_arithmetic_over_several_seeds_ends_with_the_summary(tmp_path, capsys):
    assert main(["arithmetic", *tiny_faces_files(tmp_path, 64), "--draws", "2", "--pool", "64", "--seed", "3", "4"]) == 0
    out = capsys.readouterr()
    assert out.out.count("vector arithmetic on") == 3  # a table per seed, then the summary
    assert "over seeds 3, 4" in out.out and "seed 4: labelling a pool" in out.err


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000])
def test_json_nested_past_the_recursion_limit_is_refused_naming_the_file(text):
    with pytest.raises(ConceptSetError, match=r"^deep.json is nested too deeply to be a concept set$"):
        concept_sets.concept_set_from_json(text, where="deep.json")


def test_a_deep_or_oversized_structure_in_a_concept_set_is_a_one_line_refusal():
    good = ConceptSet("smiling woman", torch.rand(2, 4), identity()).to_dict()
    for change in (
        {"z": json.loads("[" * 900 + "]" * 900)},  # parses, but no (k, nz) array
        {"model": {"a": json.loads('{"a": ' * 900 + "1" + "}" * 900)}},
        {"sources": [[1, 2]] * 2},  # not {"seed", "index"} objects
    ):
        with pytest.raises(ConceptSetError) as e:
            concept_sets.concept_set_from_json(json.dumps({**good, **change}), where="odd.json")
        assert str(e.value).startswith("odd.json ") and "\n" not in str(e.value)
    with pytest.raises(ConceptSetError, match="^long.json is not JSON"):
        concept_sets.concept_set_from_json('{"z": ' + "9" * 5000 + "}", where="long.json")
