"""Quality metrics: sliced Wasserstein distance on Laplacian pyramids, and FID from a local weights file."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dcgan_core.analysis import fid as fidlib
from dcgan_core.analysis.swd import (
    SWDResult,
    _sliced_w1,
    evaluate_swd,
    generate_images,
    laplacian_level,
    sliced_wasserstein_distance,
)
from dcgan_core.checkpoints import Checkpoint, load_model, save_checkpoint
from dcgan_core.data import build_dataset
from dcgan_core.data.loading import materialize
from dcgan_core.models import Generator

N = 200  # images per set: enough for SWD to rank data sets, small enough for ~1 s per comparison at 32 px


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: one thread is as fast, and polite on a busy machine


def _images(name: str, seed: int, n: int = N, size: int = 32) -> torch.Tensor:
    return materialize(build_dataset(name, image_size=size, length=n, seed=seed), progress=False)


@pytest.fixture(scope="module")
def rooms():
    return _images("rooms", seed=1)


@pytest.fixture(scope="module")
def other_rooms():
    return _images("rooms", seed=2)


@pytest.fixture(scope="module")
def swd_vs_rooms(rooms, other_rooms):
    """SWD of several image sets against the same real rooms (computed once for the ranking tests)."""
    faces = _images("faces", seed=1)
    noise = torch.randint(0, 256, rooms.shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return {
        "itself": sliced_wasserstein_distance(rooms, rooms),
        "other rooms": sliced_wasserstein_distance(rooms, other_rooms),
        "faces": sliced_wasserstein_distance(rooms, faces),
        "noise": sliced_wasserstein_distance(rooms, noise),
    }


# --- sliced Wasserstein distance -------------------------------------------------------------


def test_a_set_compared_with_itself_scores_zero(swd_vs_rooms):
    same = swd_vs_rooms["itself"]
    assert isinstance(same, SWDResult) and same.n_real == same.n_fake == N
    assert same.mean == 0.0 and set(same.per_level.values()) == {0.0}
    assert swd_vs_rooms["other rooms"].mean > 1  # two samples of one distribution still differ a little


def test_rooms_are_closer_to_other_rooms_than_to_faces_or_noise(swd_vs_rooms):
    floor = swd_vs_rooms["other rooms"]
    for other in ("faces", "noise"):
        assert swd_vs_rooms[other].mean > 4 * floor.mean, other
        for res, value in swd_vs_rooms[other].per_level.items():
            assert value > 2 * floor.per_level[res], (other, res)


def test_levels_are_the_pyramid_resolutions_down_to_min_resolution(swd_vs_rooms, rooms):
    assert list(swd_vs_rooms["faces"].per_level) == [32, 16]
    mean = swd_vs_rooms["faces"].mean
    assert math.isclose(mean, sum(swd_vs_rooms["faces"].per_level.values()) / 2)
    few = dict(patches_per_image=8, num_projections=16, repeats=2)
    assert list(sliced_wasserstein_distance(rooms[:20], rooms[20:40], min_resolution=8, **few).per_level) == [32, 16, 8]
    big = _images("rooms", seed=1, n=4, size=64)
    assert list(sliced_wasserstein_distance(big, big.flip(-1), **few).per_level) == [64, 32, 16]


def test_laplacian_pyramid_uses_the_5x5_binomial_filter():
    impulse = torch.zeros(1, 1, 32, 32)
    impulse[0, 0, 16, 16] = 256.0
    low = laplacian_level(impulse, 1, 2)[0, 0]  # blurred with [1 4 6 4 1]^2 / 256, every 2nd pixel
    assert low.shape == (16, 16)
    assert (low[8, 8], low[8, 9], low[9, 9], low[8, 10]) == (36, 6, 1, 0)
    detail = laplacian_level(impulse, 0, 2)[0, 0]  # minus the low level blown up again (4x the filter)
    assert math.isclose(detail[16, 16], 256 - (36 * 36 + 4 * 6 * 6 + 4 * 1 * 1) * 4 / 256, rel_tol=1e-6)
    flat = torch.full((1, 3, 32, 32), 100.0)  # mirrored borders: no dark frame, no detail
    assert torch.allclose(laplacian_level(flat, 1, 2), torch.full((1, 3, 16, 16), 100.0))
    assert torch.allclose(laplacian_level(flat, 0, 2), torch.zeros(1, 3, 32, 32), atol=1e-4)


def test_swd_is_deterministic_by_seed_and_ignores_global_rng(rooms, other_rooms):
    a = sliced_wasserstein_distance(rooms, other_rooms, seed=3, num_projections=64)
    torch.manual_seed(123)
    np.random.seed(123)
    assert sliced_wasserstein_distance(rooms, other_rooms, seed=3, num_projections=64) == a
    b = sliced_wasserstein_distance(rooms, other_rooms, seed=4, num_projections=64)
    assert b.mean != a.mean and math.isclose(b.mean, a.mean, rel_tol=0.3)  # other patches, same answer roughly


def test_float_images_in_minus_one_one_score_like_their_uint8_version(rooms, other_rooms):
    few = dict(num_projections=64)
    as_float = other_rooms.float() / 127.5 - 1
    assert math.isclose(
        sliced_wasserstein_distance(rooms, as_float, **few).mean,
        sliced_wasserstein_distance(rooms, other_rooms, **few).mean,
        rel_tol=1e-3,
    )


def test_sets_of_different_sizes_use_the_exact_1d_wasserstein_distance():
    # Uniform on {0, 1} vs uniform on {0, 0.5, 1}: the quantile functions differ by 0.5 on (1/3, 2/3].
    a, b = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [0.5], [1.0]])
    assert math.isclose(_sliced_w1(a, b, torch.ones(1, 1)), 1 / 6, rel_tol=1e-6)
    assert math.isclose(_sliced_w1(b, a, torch.ones(1, 1)), 1 / 6, rel_tol=1e-6)


def test_fewer_fake_than_real_images_still_rank_correctly(rooms, other_rooms, swd_vs_rooms):
    fewer = sliced_wasserstein_distance(rooms, other_rooms[:100], num_projections=64)
    assert fewer.n_fake == 100
    assert fewer.mean < swd_vs_rooms["faces"].mean / 4


def test_an_untrained_generator_scores_worse_than_real_rooms(rooms, swd_vs_rooms, tiny_config):
    g = Generator(tiny_config).eval()
    fake = generate_images(g, N, seed=0)
    assert fake.dtype == torch.uint8 and fake.shape == rooms.shape
    assert sliced_wasserstein_distance(rooms, fake).mean > 4 * swd_vs_rooms["other rooms"].mean


def test_generated_images_are_reproducible_and_leave_the_model_alone(tiny_config):
    g = Generator(tiny_config)  # training mode: generate_images must use eval-mode BatchNorm on a copy
    a = generate_images(g, 10, seed=5, batch_size=3)
    assert g.training
    assert torch.equal(a, generate_images(g.eval(), 10, seed=5, batch_size=10))  # batch size does not matter
    assert not torch.equal(a, generate_images(g, 10, seed=6))


def test_evaluate_swd_scores_a_checkpoint_against_real_images(tmp_path, tiny_config, rooms):
    g = Generator(tiny_config)
    save_checkpoint(tmp_path / "g.safetensors", Checkpoint(tiny_config, g.state_dict()))
    model = load_model(tmp_path / "g.safetensors")
    few = dict(num_projections=32, patches_per_image=16)
    result = evaluate_swd(model, rooms[:50], n_fake=40, seed=2, **few)
    assert (result.n_real, result.n_fake) == (50, 40)
    expected = sliced_wasserstein_distance(rooms[:50], generate_images(model.generator, 40, seed=2), seed=2, **few)
    assert result == expected
    with pytest.raises(ValueError, match="the model makes"):
        evaluate_swd(model, _images("rooms", seed=1, n=4, size=64))


def test_bad_inputs_are_refused_with_clear_messages(rooms):
    with pytest.raises(ValueError, match="same"):
        sliced_wasserstein_distance(rooms, rooms[:, :, :16, :16])
    with pytest.raises(ValueError, match="smaller than min_resolution"):
        sliced_wasserstein_distance(rooms[:, :, :8, :8], rooms[:, :, :8, :8])
    with pytest.raises(ValueError, match="at least 2 fake images"):
        sliced_wasserstein_distance(rooms, rooms[:1])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        sliced_wasserstein_distance(rooms, rooms.float())  # 0..255 floats: ambiguous, so refused
    with pytest.raises(ValueError, match="multiple of repeats"):
        sliced_wasserstein_distance(rooms, rooms, num_projections=10, repeats=4)


# --- Fréchet Inception distance --------------------------------------------------------------


def test_frechet_distance_of_identical_gaussians_is_zero():
    x = np.random.default_rng(0).normal(size=(100, 8))
    mu, sigma = fidlib.feature_statistics(x)
    for method in ("scipy", "eigh") if _has_scipy() else ("eigh",):
        assert abs(fidlib.frechet_distance(mu, sigma, mu, sigma, method=method)) < 1e-8


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    # per dimension: (m1 - m2)^2 + s1 + s2 - 2 sqrt(s1 s2), with s the variances
    assert math.isclose(fidlib.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]], method="eigh"), 4 + 4 + 9 - 12)
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([4.0, 2.0, 0.0])  # the last variance is 0: a singular covariance
    expected = float(((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum())
    for method in ("scipy", "eigh") if _has_scipy() else ("eigh",):
        got = fidlib.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2), method=method)
        assert math.isclose(got, expected, rel_tol=1e-5), method


def test_scipy_and_eigen_square_roots_agree_on_singular_feature_covariances():
    pytest.importorskip("scipy")
    rng = np.random.default_rng(1)
    a = fidlib.feature_statistics(rng.normal(size=(20, 40)))  # 20 samples in 40-d: rank-deficient covariances
    b = fidlib.feature_statistics(rng.normal(size=(30, 40)) + 0.5)
    assert math.isclose(
        fidlib.frechet_distance(*a, *b, method="scipy"), fidlib.frechet_distance(*a, *b, method="eigh"), rel_tol=1e-6
    )


def _has_scipy() -> bool:
    try:
        import scipy.linalg  # noqa: F401
    except ImportError:
        return False
    return True


def test_fid_average_pools_ignore_padding_like_tensorflow():
    ones = torch.ones(1, 1, 5, 5)
    assert torch.equal(fidlib._avg_pool_same(ones), ones)  # zero padding would darken the border to 4/9


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    """A random FID Inception network, rescaled so features are not vanishingly small, saved as a plain state dict."""
    torch.manual_seed(0)
    net = fidlib.build_fid_inception()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("fid") / fidlib.FID_WEIGHTS_FILE
    torch.save(net.state_dict(), path)
    return net, path


def test_fid_inception_weights_load_by_name_and_give_2048_features(inception_file, rooms):
    net, path = inception_file
    assert sum(p.numel() for p in net.parameters()) == 21_785_568  # InceptionV3 without its classifier
    loaded = fidlib.load_fid_inception(path)
    images = rooms[:4]
    features = fidlib.inception_features(loaded, images, batch_size=3)
    assert features.shape == (4, 2048) and features.dtype == np.float64
    assert np.allclose(features, fidlib.inception_features(net, images), rtol=1e-5, atol=1e-6)
    assert np.isfinite(features).all() and features.std(axis=0).mean() > 1e-3  # images differ, so do features


def test_fid_weights_from_pytorch_fids_wrapper_with_classifier_also_load(inception_file, tmp_path):
    net, _ = inception_file
    wrapper_names = {"Conv2d_1a_3x3": "blocks.0.0", "Mixed_7c": "blocks.3.2"}  # pytorch-fid's InceptionV3 module names
    renamed = {}
    for k, v in net.state_dict().items():
        head, rest = k.split(".", 1)
        renamed[f"{wrapper_names.get(head, head)}.{rest}"] = v
    renamed["fc.weight"], renamed["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    torch.save(renamed, tmp_path / "wrapped.pth")
    loaded = fidlib.load_fid_inception(tmp_path / "wrapped.pth")
    assert torch.equal(loaded.Mixed_7c.branch_pool.conv.weight, net.Mixed_7c.branch_pool.conv.weight)


def test_fid_weights_with_wrong_keys_are_refused_naming_the_file_and_keys(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, path)
    with pytest.raises(fidlib.FIDWeightsError, match="other.pth") as err:
        fidlib.load_fid_inception(path)
    assert "unexpected: encoder.weight" in str(err.value) and "missing: Conv2d_1a_3x3" in str(err.value)
    with pytest.raises(FileNotFoundError, match="pt_inception"):
        fidlib.load_fid_inception(tmp_path / "absent.pth")


def test_fid_weights_of_the_wrong_shape_are_refused(inception_file, tmp_path):
    net, _ = inception_file
    state = net.state_dict()
    state["Mixed_5b.branch_pool.conv.weight"] = torch.zeros(16, 192, 1, 1)  # 16 pool features instead of 32
    torch.save(state, tmp_path / "narrow.pth")
    with pytest.raises(fidlib.FIDWeightsError, match=r"narrow.pth has tensors of the wrong shape: Mixed_5b.branch_pool"):
        fidlib.load_fid_inception(tmp_path / "narrow.pth")


CALLS = []


def _record_call():
    CALLS.append("ran")
    return {}


class _Payload:
    def __reduce__(self):
        return (_record_call, ())  # what a malicious pickle would do: run a function on load


def test_a_pickle_with_arbitrary_objects_is_refused_and_never_run(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": _Payload()}, path)
    with pytest.raises(fidlib.FIDWeightsError, match="evil.pth.*not a plain PyTorch state dict"):
        fidlib.load_fid_inception(path)
    assert CALLS == []


def test_fid_needs_the_weights_or_a_loaded_network(rooms):
    with pytest.raises(ValueError, match="pt_inception"):
        fidlib.fid(rooms[:4], rooms[:4])
