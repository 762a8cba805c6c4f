"""Fréchet Inception Distance (Heusel et al. 2017), optional: only with a local Inception weights file.

FID fits a Gaussian to the 2048-d pool3 features of the Inception network for real and for fake
images and reports the Fréchet distance between the two Gaussians (lower is better). Numbers are
only comparable with other papers when computed with the same network: pytorch-fid's port of the
TensorFlow FID Inception (weights file `pt_inception-2015-12-05-6726825d.pth`, a plain state dict
of torchvision-style key names). Nothing is downloaded here and torchvision is not needed: the
architecture below is written out, with the FID variant's differences from torchvision's
InceptionV3 (average pools that ignore padding in the A, C and first E blocks, a max pool in the
last E block, batch-norm eps 1e-3).

Images go in as uint8 (or float in [-1, 1]), are scaled to [0, 1], resized bilinearly to 299x299
and mapped to [-1, 1], as pytorch-fid does. The weights are read with `weights_only=True`, so a file
that holds anything but tensors is refused instead of run. FID needs many images (pytorch-fid
recommends at least 2048; 10k-50k is usual): with fewer the covariances are singular and the value
is biased upward.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .swd import as_image_tensor

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FEATURE_DIM = 2048
INPUT_SIZE = 299


class FIDWeightsError(ValueError):
    """A weights file that is not a state dict for the FID Inception network; the message says why."""


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, TensorFlow's), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_same(x: torch.Tensor) -> torch.Tensor:
    """3x3 average pool that, like TensorFlow's, averages only real pixels at the border."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_same(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    """Factorised 7x7 convolutions on the 17x17 grid."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_avg_pool_same(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """Expanded filter bank on the 8x8 grid; `max_pool` marks the FID network's last block."""

    def __init__(self, in_channels: int, max_pool: bool = False):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        # The TF FID graph max-pools here (likely a bug there, but the weights expect it).
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg_pool_same(x)
        return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """InceptionV3 up to the 2048-d global average pool (pool3), FID variant, no classifier.

    Module names match torchvision's Inception3, so pytorch-fid's weights load by name.
    forward: float images (N, 3, H, W) in [0, 1], any size -> (N, 2048) pool3 features.
    """

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1  # the range the TF network was trained on
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean(dim=(2, 3))


def build_fid_inception() -> FIDInceptionV3:
    """The architecture with random weights, in eval mode (for tests; FID needs the real weights)."""
    return FIDInceptionV3().eval().requires_grad_(False)


# pytorch-fid's InceptionV3 wrapper stores the same modules as blocks.<i>.<j>.
_WRAPPER_NAMES = {
    "blocks.0.0": "Conv2d_1a_3x3",
    "blocks.0.1": "Conv2d_2a_3x3",
    "blocks.0.2": "Conv2d_2b_3x3",
    "blocks.1.0": "Conv2d_3b_1x1",
    "blocks.1.1": "Conv2d_4a_3x3",
    **{f"blocks.2.{i}": f"Mixed_{n}" for i, n in enumerate(("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e"))},
    **{f"blocks.3.{i}": f"Mixed_{n}" for i, n in enumerate(("7a", "7b", "7c"))},
}
_IGNORED_PREFIXES = ("fc.", "AuxLogits.")  # the classifier: not needed for pool3 features


def _map_key(key: str) -> str:
    key = key.removeprefix("module.")
    head = ".".join(key.split(".")[:3])
    if head in _WRAPPER_NAMES:
        key = _WRAPPER_NAMES[head] + key[len(head) :]
    return key


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FIDWeightsError(
            f"{path} is not a plain PyTorch state dict (it was refused by torch.load(weights_only=True), "
            f"which never runs code from the file): {first}"
        ) from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items()):
        raise FIDWeightsError(
            f"{path} does not hold a state dict (a mapping of names to tensors), got {type(obj).__name__}"
        )
    return {_map_key(k): v for k, v in obj.items() if not _map_key(k).startswith(_IGNORED_PREFIXES)}


def _listing(keys, limit: int = 8) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_fid_inception(weights_path: str | Path) -> FIDInceptionV3:
    """The FID Inception network with weights from a local file, on the CPU in eval mode.

    Takes pytorch-fid's file or any state dict with the same names and shapes (also with pytorch-fid's
    `blocks.i.j` wrapper names or a `module.` prefix; classifier weights are ignored).
    Raises FileNotFoundError, or FIDWeightsError naming the file and what does not fit.
    """
    path = Path(weights_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"FID weights {path} do not exist; FID needs pytorch-fid's {FID_WEIGHTS_FILE} on a local path"
        )
    state = _read_state_dict(path)
    with torch.device("meta"):
        net = FIDInceptionV3()  # no memory, no random init: every value comes from the file
    expected = net.state_dict()
    optional = {k for k in expected if k.endswith("num_batches_tracked")}  # absent from older files
    missing = set(expected) - set(state) - optional
    unexpected = set(state) - set(expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing: {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: {_listing(unexpected)}")
        raise FIDWeightsError(
            f"{path} does not fit the FID Inception network ({'; '.join(parts)}); "
            f"expected pytorch-fid's {FID_WEIGHTS_FILE}"
        )
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if wrong:
        raise FIDWeightsError(f"{path} has tensors of the wrong shape: {_listing(wrong, 4)}")
    for k in optional - set(state):
        state[k] = torch.tensor(0, dtype=torch.long)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    net.load_state_dict(state, assign=True)
    return net.eval().requires_grad_(False)


def inception_features(
    net: nn.Module,
    images_uint8,
    batch_size: int = 50,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> np.ndarray:
    """(N, 2048) float64 pool3 features of uint8 (N, C, H, W) images (or float ones in [-1, 1]).

    Grayscale images are repeated to 3 channels. The network is moved to `device`.
    About 6 GFLOP per image at 299x299: a few images per second per CPU core; use a GPU for 10k+.
    """
    from tqdm.auto import tqdm

    x = as_image_tensor(images_uint8)
    if x.shape[1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {x.shape[1]}")
    net = net.to(device)
    out = np.empty((x.shape[0], FEATURE_DIM), dtype=np.float64)
    with torch.inference_mode():
        starts = range(0, x.shape[0], batch_size)
        for start in tqdm(starts, desc="Inception features", disable=not progress, unit="batch"):
            batch = x[start : start + batch_size].to(device)
            batch = batch.float() / 255 if batch.dtype == torch.uint8 else (batch.float() + 1) / 2  # -> [0, 1]
            if batch.shape[1] == 1:
                batch = batch.expand(-1, 3, -1, -1)
            out[start : start + batch.shape[0]] = net(batch).double().cpu().numpy()
    return out


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features, as pytorch-fid (unbiased covariance)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need (N, D) features with N >= 2, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrtm_trace_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrt(sigma1 sigma2) for symmetric PSD matrices, without scipy.

    sigma1 sigma2 is similar to sqrt(sigma1) sigma2 sqrt(sigma1), which is symmetric PSD, so the
    trace is the sum of square roots of that matrix's eigenvalues (tiny negative ones from
    rounding, as with singular covariances, are clipped to 0).
    """
    w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ sigma2 @ root1
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())


def _sqrtm_trace_scipy(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    """tr sqrtm(sigma1 sigma2) exactly as pytorch-fid computes it."""
    from scipy import linalg

    with warnings.catch_warnings():  # singular products are expected (few images) and handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():  # nudge both diagonals, as pytorch-fid does
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"matrix square root has a large imaginary component ({np.max(np.abs(covmean.imag)):.3g})")
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6, method: str = "auto") -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):
    |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2)).

    method: "scipy" (scipy.linalg.sqrtm, pytorch-fid's numbers), "eigh" (numpy only), or "auto"
    (scipy when installed).
    """
    mu1, mu2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(s, dtype=np.float64)) for s in (sigma1, sigma2))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            "need means of shape (D,) and covariances (D, D) with one D; "
            f"got {mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}"
        )
    if method == "auto":
        try:
            import scipy.linalg  # noqa: F401

            method = "scipy"
        except ImportError:
            method = "eigh"
    if method == "scipy":
        tr_covmean = _sqrtm_trace_scipy(sigma1, sigma2, eps)
    elif method == "eigh":
        tr_covmean = _sqrtm_trace_eigh(sigma1, sigma2)
    else:
        raise ValueError(f"method must be 'auto', 'scipy' or 'eigh', got {method!r}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid(
    real_uint8,
    fake_uint8,
    weights_path: str | Path | None = None,
    *,
    net: nn.Module | None = None,
    batch_size: int = 50,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> float:
    """FID between two image sets (uint8 (N, C, H, W)); the network comes from `weights_path`
    or is passed as `net` (load it once with load_fid_inception when scoring many sets)."""
    if net is None:
        if weights_path is None:
            raise ValueError(
                f"FID needs the Inception weights: pass weights_path (pytorch-fid's {FID_WEIGHTS_FILE}) or net"
            )
        net = load_fid_inception(weights_path)
    stats = [
        feature_statistics(inception_features(net, images, batch_size=batch_size, device=device, progress=progress))
        for images in (real_uint8, fake_uint8)
    ]
    return frechet_distance(*stats[0], *stats[1])
