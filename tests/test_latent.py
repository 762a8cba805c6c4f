"""Sampling z reproducibly, and paths between codes."""

import torch

from dcgan_core.latent import lerp, sample_z, slerp
from dcgan_core.models import ModelConfig


def test_same_seed_same_codes_other_seed_other_codes():
    cfg = ModelConfig()
    assert torch.equal(sample_z(4, cfg, seed=3), sample_z(4, cfg, seed=3))
    assert not torch.equal(sample_z(4, cfg, seed=3), sample_z(4, cfg, seed=4))


def test_uniform_prior_stays_in_minus_one_one_and_normal_prior_does_not():
    u = sample_z(2000, ModelConfig(z_prior="uniform"), seed=0)
    n = sample_z(2000, ModelConfig(z_prior="normal"), seed=0)
    assert u.shape == (2000, 100) and u.min() >= -1 and u.max() <= 1
    assert abs(u.mean()) < 0.01 and abs(n.std() - 1) < 0.01 and n.abs().max() > 3


def test_codes_do_not_depend_on_global_rng():
    cfg = ModelConfig()
    a = sample_z(2, cfg, seed=1)
    torch.manual_seed(123)
    assert torch.equal(sample_z(2, cfg, seed=1), a)


def test_lerp_and_slerp_hit_both_ends():
    a, b = torch.randn(100), torch.randn(100)
    for path in (lerp, slerp):
        assert torch.allclose(path(a, b, 0.0), a, atol=1e-5)
        assert torch.allclose(path(a, b, 1.0), b, atol=1e-5)


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    a = torch.tensor([1.0, 0.0])
    b = torch.tensor([0.0, 1.0])
    assert torch.isclose(slerp(a, b, 0.5).norm(), torch.tensor(1.0))
    assert lerp(a, b, 0.5).norm() < 0.75


def test_slerp_takes_a_vector_of_steps():
    a, b = torch.randn(8), torch.randn(8)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert path.shape == (5, 8)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
