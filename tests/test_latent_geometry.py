"""How attributes lie in z: linear and convex for a stand-in that spells z out, not for one with two glasses regions."""

from __future__ import annotations

import pytest
from concept_support import GlassesAtEitherEnd, GlassesInStripes, StripesGenerator, StripesInstrument

from dcgan_core.analysis.latent_geometry import attribute_geometry, format_geometry
from dcgan_core.cli import main


def by_name(rows):
    return {r.name: r for r in rows}


def test_attributes_that_are_half_spaces_of_z_are_linear_and_survive_averaging():
    rows = by_name(attribute_geometry(StripesGenerator().eval(), StripesInstrument(), n=1200, lines=40, means=100))
    assert set(rows) == {"glasses", "smiling", "masculine", "turn"}
    glasses = rows["glasses"]
    assert glasses.linear >= 0.97 and glasses.kept_yes == 1.0 and glasses.kept_no == 1.0
    assert 0.3 <= glasses.flips_per_line <= 0.7  # a line crosses the one boundary when its ends differ: about half the time
    assert 0.4 <= glasses.share <= 0.6
    assert glasses.smooth >= 0.9  # what is linear, a network learns too
    # the neighbour noise moves a code across a flat boundary as often as the half-space along the fitted normal predicts
    assert glasses.noise_flips_linear > 0.02 and abs(glasses.noise_flips - glasses.noise_flips_linear) < 0.04
    assert "glasses" in format_geometry(list(rows.values())) and "kept yes" in format_geometry(list(rows.values()))


def test_glasses_in_two_regions_are_lost_by_averaging_and_crossed_twice():
    rows = by_name(attribute_geometry(StripesGenerator().eval(), GlassesAtEitherEnd(), n=1200, lines=40, means=100, smooth=False))
    glasses = rows["glasses"]
    assert glasses.kept_yes < 0.6  # a mean of codes from both regions falls between them
    assert glasses.kept_no > 0.9
    assert glasses.linear < 0.7 and glasses.quadratic > 0.9  # |z0| > 0.5 is a quadratic boundary
    assert glasses.flips_per_line > 0.7
    assert rows["masculine"].kept_yes == 1.0  # the other attributes are untouched


def test_glasses_in_thin_slabs_of_z_flip_under_the_neighbour_noise_far_more_than_a_half_space():
    rows = by_name(attribute_geometry(StripesGenerator().eval(), GlassesInStripes(), n=1200, lines=40, means=100, smooth=False))
    glasses = rows["glasses"]
    assert glasses.linear < 0.7  # no one direction in z
    assert glasses.noise_flips > 0.3 and glasses.noise_flips > 3 * glasses.noise_flips_linear
    assert glasses.flips_per_line > 3  # a line crosses slab after slab
    assert rows["masculine"].noise_flips < 0.2  # the other attributes stay flat


def test_the_command_reports_errors_as_messages(capsys):
    assert main(["latent-geometry", "--model", "faces", "--n", "10"]) == 2
    assert "n must be at least 100" in capsys.readouterr().err


def test_an_attribute_drawn_along_another_direction_for_each_group_has_orthogonal_group_normals():
    """What `--by skin` found in the earlier faces data: glasses one way of z for dark skin, another for light."""
    import numpy as np

    from dcgan_core.analysis.latent_geometry import format_normals, normals_by_group

    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, (3000, 20))
    dark = np.arange(3000) < 1500
    split = np.where(dark, z[:, 0] > 0, z[:, 1] > 0)  # glasses: z0 for the dark half, z1 for the light half
    shared = z[:, 2] > 0  # smiling: one direction for all
    labels = {"glasses": split, "smiling": shared, "masculine": z[:, 3] > 0.2, "turn": np.zeros(3000)}
    rows = {r.name: r for r in normals_by_group(z, labels, {"dark": dark, "light": ~dark})}
    assert set(rows) == {"glasses", "smiling", "masculine"}
    glasses, smiling = rows["glasses"], rows["smiling"]
    assert abs(glasses.cosines["dark-light"]) < 0.2 and min(glasses.accuracy) > 0.9  # linear within each group, not across
    assert smiling.cosines["dark-light"] > 0.9 and min(smiling.random_cosines) > 0.9
    assert glasses.random_cosines[0] > 0.5  # random halves mix both groups: the same blend of z0 and z1
    assert "dark-light" in format_normals(list(rows.values()))


def test_skin_tone_reads_the_cheeks_at_any_size():
    import numpy as np

    from dcgan_core.analysis.latent_geometry import skin_tone

    images = np.zeros((2, 128, 128, 3), np.uint8)
    images[1, 64:76, 54:74] = 200  # the cheek patch of a 128-px image
    tone = skin_tone(images)
    assert tone[0] == 0 and tone[1] == pytest.approx(200, abs=1)
    assert skin_tone(images[:, ::2, ::2])[1] == pytest.approx(200, abs=1)


def test_normals_by_sex_on_a_stand_in_whose_attributes_are_one_direction_for_everyone():
    from dcgan_core.analysis.latent_geometry import format_normals, normals_by

    rows = {r.name: r for r in normals_by(StripesGenerator().eval(), StripesInstrument(), "sex", n=1200)}
    assert "masculine" not in rows  # within men only, every face is masculine: nothing to fit
    assert rows["glasses"].groups == ["men", "women"] and rows["glasses"].cosines["men-women"] > 0.8
    assert "the instrument reads as men and as women" in format_normals(list(rows.values()), by="sex")
    with pytest.raises(ValueError, match="group by one of"):
        normals_by(StripesGenerator().eval(), StripesInstrument(), "age", n=1200)
