"""The arithmetic's ceiling: the paper's protocol run on latent spaces whose attributes are exact half-spaces of z."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from concept_support import GlassesAtEitherEnd, StripesGenerator, StripesInstrument

from dcgan_core.analysis import arithmetic_benchmark, labelling
from dcgan_core.analysis.equations import EQUATIONS
from dcgan_core.analysis.linear_ceiling import HalfSpaces, equation_ceiling, equation_ceilings

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EVEN = {"glasses": 0.5, "masculine": 0.5}


def uniform_pool(n: int = 2000, nz: int = 100, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, nz, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_half_spaces_cut_the_pool_at_the_asked_shares_on_orthogonal_directions():
    pool = uniform_pool()
    spaces = HalfSpaces.ideal(pool, {"glasses": 0.3, "masculine": 0.6}, seed=1)
    labels = spaces.labels(pool)
    assert labels["glasses"].mean() == pytest.approx(0.3, abs=0.001)
    assert labels["masculine"].mean() == pytest.approx(0.6, abs=0.001)
    assert abs(spaces.normals["glasses"] @ spaces.normals["masculine"]) < 1e-9
    assert np.linalg.norm(spaces.normals["glasses"]) == pytest.approx(1.0)
    axes = HalfSpaces.axes(pool, EVEN)
    assert axes.normals["glasses"].tolist() == [1.0] + [0.0] * 99
    assert np.array_equal(axes.labels(pool)["masculine"], (pool[:, 1] > axes.offsets["masculine"]).numpy())


def test_even_a_perfectly_linear_z_fails_about_one_draw_in_six_with_three_exemplars():
    # Y . n = mean of 3 "yes" projections + (|mean of 3 "no"| - |another mean of 3 "no"|): a Gaussian whose mean is
    # 1.3 standard deviations above the cut for each of the two attributes, so about 0.9 x 0.9
    pool = uniform_pool()
    ideal = equation_ceiling(EQUATIONS["glasses"], HalfSpaces.ideal(pool, EVEN), pool)
    assert 0.77 < ideal < 0.87
    # on the axes z . n is uniform, whose halves sit further from the cut for their spread
    axes = equation_ceiling(EQUATIONS["glasses"], HalfSpaces.axes(pool, EVEN), pool)
    assert axes > ideal + 0.04
    # more exemplars per concept shrink the spread of the means: the ceiling rises towards 1
    assert equation_ceiling(EQUATIONS["glasses"], HalfSpaces.ideal(pool, EVEN), pool, per_concept=10) > 0.95


def test_fitted_half_spaces_recover_a_linear_model_and_its_ceiling():
    generator, instrument = StripesGenerator().eval(), StripesInstrument()  # glasses: z0 > 0, masculine: z1 > 0
    pool = uniform_pool(2000, nz=6, seed=3)
    labels = labelling.read_codes(generator, instrument, pool)[1].labels()
    fitted = HalfSpaces.fitted(pool, {k: labels[k] for k in ("glasses", "masculine", "smiling")})
    assert fitted.normals["glasses"][0] > 0.99 and fitted.normals["masculine"][1] > 0.99
    assert (fitted.labels(pool)["glasses"] == labels["glasses"]).mean() > 0.99
    ceilings = equation_ceilings(EQUATIONS["glasses"], pool, labels, draws=2000)
    assert set(ceilings) == {"ideal", "axes", "fitted"}
    assert ceilings["fitted"] == pytest.approx(ceilings["axes"], abs=0.03)  # this stand-in is the axes model


def test_a_pool_without_both_sides_has_no_ceiling():
    pool = uniform_pool(200, nz=6)
    labels = {"glasses": np.zeros(200, bool), "masculine": np.arange(200) % 2 == 0}
    assert all(np.isnan(v) for v in equation_ceilings(EQUATIONS["glasses"], pool, labels).values())
    with pytest.raises(ValueError, match="no boundary to fit"):
        HalfSpaces.fitted(pool, labels)
    with pytest.raises(ValueError, match="at least as many z dimensions"):
        HalfSpaces.ideal(uniform_pool(10, nz=1), EVEN)


def test_the_benchmark_reads_a_measured_rate_against_the_ceilings():
    linear = arithmetic_benchmark.arithmetic_benchmark(StripesGenerator().eval(), StripesInstrument(), draws=40, pool=400, seed=0)
    glasses = next(r for r in linear.results if r.name == "glasses")
    assert glasses.rates()["majority"] == pytest.approx(glasses.ceilings["fitted"], abs=0.15)  # a linear model meets its ceiling
    assert "ceiling, the same draws on exact half-spaces of z: any linear z" in arithmetic_benchmark.format_benchmark(linear)
    curved = arithmetic_benchmark.arithmetic_benchmark(StripesGenerator().eval(), GlassesAtEitherEnd(), draws=40, pool=400, seed=0)
    glasses = next(r for r in curved.results if r.name == "glasses")
    assert glasses.rates()["majority"] < glasses.ceilings["ideal"] - 0.3  # two glasses regions: far below any linear z
    assert next(r for r in curved.results if r.name == "turn").ceilings == {}  # the turn is no three-term equation
