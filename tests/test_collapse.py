"""Filter collapse over training (issue 23, item 5): dead, z-ignoring and oscillating units of G per checkpoint."""

import json

import pytest
import torch

from dcgan_core.analysis.collapse import checkpoint_files, format_collapse, measure_collapse, relative_change, unit_activity
from dcgan_core.checkpoints import Checkpoint, save_checkpoint
from dcgan_core.cli import main
from dcgan_core.latent import sample_z
from dcgan_core.models import Generator, ModelConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LAYER, DEAD, STUCK = 1, 2, 5  # layer 1's unit 2 never opens; unit 5 draws the same for every z


def wired_g(stuck_level: float) -> Generator:
    """A tiny G whose layer-1 unit DEAD is always 0 and unit STUCK always `stuck_level` (its weights are zero, so
    only BatchNorm's shift reaches the ReLU)."""
    torch.manual_seed(0)
    g = Generator(ModelConfig(image_size=32, nz=16, ngf=8, ndf=8))
    conv, bn = g.blocks[LAYER][0], g.blocks[LAYER][1]
    with torch.no_grad():
        for unit, shift in ((DEAD, -1.0), (STUCK, stuck_level)):
            conv.weight[:, unit] = 0
            bn.running_mean[unit], bn.running_var[unit] = 0.0, 1.0
            bn.weight[unit], bn.bias[unit] = 1.0, shift
    return g.eval()


def save(g: Generator, path, step: int):
    save_checkpoint(path, Checkpoint(model_config=g.config, generator=g.state_dict(), step=step,
                                     train_config={"dataset": "rooms"}))
    return path


def test_a_dead_and_a_stuck_unit_are_found_and_the_stuck_one_oscillates_when_its_mode_moves(tmp_path):
    folder = tmp_path / "run" / "snapshots"
    folder.mkdir(parents=True)
    save(wired_g(1.0), folder / "b.safetensors", step=20)  # file names out of order: rows come by step
    save(wired_g(1.0), folder / "a.safetensors", step=10)
    save(wired_g(0.1), folder / "c.safetensors", step=30)  # the stuck unit's picture jumps from 1 to 0.1
    rows = measure_collapse(checkpoint_files(tmp_path / "run"), n=32)
    assert [r.step for r in rows] == [10, 20, 30]
    layer = rows[0].layers[LAYER]
    assert layer.dead_units == [DEAD] and layer.collapsed_units == [STUCK]
    assert layer.dead == layer.collapsed == pytest.approx(1 / layer.units)
    assert layer.oscillating is None  # nothing to compare the first checkpoint with
    assert rows[1].layers[LAYER].oscillating == 0.0  # same mode as before
    assert rows[2].layers[LAYER].oscillating == pytest.approx(1 / layer.units)  # moved by 0.9 / 1.1 of its size
    assert all(r.layers[0].dead == r.layers[0].collapsed == 0 for r in rows)  # upstream of the wired units: healthy
    assert "step" in format_collapse(rows) and "layer 1" in format_collapse(rows)


def test_an_untrained_g_has_no_collapsed_units():
    torch.manual_seed(1)
    g = Generator(ModelConfig(image_size=32, nz=16, ngf=8, ndf=8)).eval()
    activity = unit_activity(g, sample_z(64, g.config, seed=0))
    assert not any(a.collapsed.any() or a.dead.any() for a in activity)


def test_relative_change_of_maps():
    a = torch.ones(2, 3, 3).numpy()
    b = a.copy()
    b[1] *= 0.1
    assert relative_change(a, b) == pytest.approx([0.0, 0.9 / 1.1])


def test_a_folder_without_two_checkpoints_is_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="fewer than two checkpoint files"):
        checkpoint_files(tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        checkpoint_files(tmp_path / "missing")


def test_collapse_command_prints_and_saves_the_report(tmp_path, capsys):
    for step in (1, 2):
        save(wired_g(1.0), tmp_path / f"s{step}.safetensors", step)
    out = tmp_path / "collapse.json"
    assert main(["collapse", str(tmp_path), "--n", "8", "--save", str(out)]) == 0
    assert "2 checkpoints of" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert [c["step"] for c in report["checkpoints"]] == [1, 2]
    assert report["checkpoints"][0]["layers"][LAYER]["dead_units"] == [DEAD]
