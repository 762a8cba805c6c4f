"""How attributes lie in z: linear and convex for a stand-in that spells z out, not for one with two glasses regions."""

from __future__ import annotations

import pytest
from concept_support import GlassesAtEitherEnd, GlassesInStripes, StripesGenerator, StripesInstrument

from dcgan_core.analysis import latent_geometry
from dcgan_core.analysis.latent_geometry import attribute_geometry, format_geometry


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
    assert latent_geometry.main(["--model", "faces", "--n", "10"]) == 2
    assert "n must be at least 100" in capsys.readouterr().err
