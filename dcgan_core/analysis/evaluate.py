"""How good is a model? SWD against held-out real images, next to the two numbers that give it meaning.

- floor: SWD between two disjoint real sets of the same size (what a perfect model would score);
- untrained: SWD of a freshly initialised generator of the same architecture (what no learning scores).
A model's SWD is read between them. FID is added when the user has a local Inception weights file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checkpoints import LoadedModel
from ..data import PROCEDURAL_DATASETS, build_dataset
from ..data.loading import materialize
from ..models import Generator
from .swd import SWDResult, generate_images, sliced_wasserstein_distance

# Procedural held-out sets: render seeds no training run of ours uses (training uses the run seed, 0 by default).
HELD_OUT_SEED, FLOOR_SEED = 10_001, 10_002


@dataclass
class EvalReport:
    n: int
    model: SWDResult
    floor: SWDResult  # real vs real
    untrained: SWDResult  # untrained G vs real
    real_source: str  # where the real images came from
    fid: dict[str, float] = field(default_factory=dict)  # "model", "floor" when weights were given

    def as_dict(self) -> dict:
        out = {"n": self.n, "real_source": self.real_source}
        for name in ("model", "floor", "untrained"):
            r: SWDResult = getattr(self, name)
            out[f"swd_{name}"] = round(r.mean, 2)
            out[f"swd_{name}_per_level"] = {str(k): round(v, 2) for k, v in r.per_level.items()}
        if self.fid:
            out["fid"] = {k: round(v, 2) for k, v in self.fid.items()}
        return out


def held_out_real(model: LoadedModel, n: int, data_root: str | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Two disjoint real sets of n uint8 images matching the model's training data."""
    tc = model.checkpoint.train_config or {}
    dataset = tc.get("dataset")
    cfg = model.config
    if dataset in PROCEDURAL_DATASETS:
        sets = []
        for seed in (HELD_OUT_SEED, FLOOR_SEED):
            ds = build_dataset(dataset, image_size=cfg.image_size, length=n, seed=seed)
            sets.append(materialize(ds, cache_key=f"{dataset}-{cfg.image_size}px-seed{seed}-n{n}", progress=False))
        return sets[0], sets[1], f"{dataset} renders, seeds {HELD_OUT_SEED} and {FLOOR_SEED} (never trained on)"
    root = data_root or tc.get("data_root")
    if dataset is None or root is None:
        raise ValueError(
            "this checkpoint does not say which real data it was trained on; give the data set with --dataset and --data-root"
        )
    split_is_test = dataset in ("cifar10", "mnist", "svhn")
    kw = {"train": False} if split_is_test else {}
    ds = build_dataset(dataset, root=root, image_size=cfg.image_size, channels=cfg.channels, **kw)
    if len(ds) < 2 * n:
        raise ValueError(f"{dataset} at {root} has {len(ds)} images; need {2 * n} for two disjoint sets of {n} (lower --n)")
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    images = materialize(torch.utils.data.Subset(ds, order[: 2 * n].tolist()), progress=False)
    where = f"{dataset} {'test split' if split_is_test else 'images'} at {root}"
    return images[:n], images[n:], where


def evaluate_model(model: LoadedModel, n: int = 2000, seed: int = 0, data_root: str | None = None,
                   fid_weights: str | Path | None = None) -> EvalReport:
    """SWD (x 1e3) of the model, the real-vs-real floor and an untrained generator, all on n images."""
    real, real2, source = held_out_real(model, n, data_root)
    fake = generate_images(model.generator, n, seed=seed)
    torch.manual_seed(seed)
    untrained = generate_images(Generator(model.config).eval(), n, seed=seed)
    report = EvalReport(
        n=n,
        model=sliced_wasserstein_distance(real, fake, seed=seed),
        floor=sliced_wasserstein_distance(real, real2, seed=seed),
        untrained=sliced_wasserstein_distance(real, untrained, seed=seed),
        real_source=source,
    )
    if fid_weights is not None:
        from .fid import fid, load_fid_inception

        net = load_fid_inception(fid_weights)
        report.fid = {"model": fid(real, fake, net=net), "floor": fid(real, real2, net=net)}
    return report
