"""What the samples page computes: a sample's nearest training images, for the memorisation check (paper sections 4.1, 6.1).

Distances are pixel L2 among the model's own training images (procedural data sets rendered
again from the run's data set seed), reported as RMS per pixel value on the 0-255 scale: a
copy of a training image would be near 0. The cached search lives in explorer/renderer.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcgan_core.analysis.neighbours import ReferenceImages, rms_pixel_distance
from dcgan_core.checkpoints import LoadedModel

from . import renderer


@dataclass(frozen=True)
class Neighbours:
    """The training images nearest to each of n samples, and the same yardstick among training images."""

    refs: ReferenceImages  # the training images searched
    indices: np.ndarray  # (n, k) training image indices, nearest first
    rms: np.ndarray  # (n, k) their RMS distance per pixel value (0-255)
    baseline_rms: np.ndarray  # (m,) RMS distance of m training images to their nearest other training image; may be empty

    @property
    def nearest_min(self) -> float:
        return float(np.min(self.rms[:, 0]))

    @property
    def nearest_max(self) -> float:
        return float(np.max(self.rms[:, 0]))

    @property
    def nearest_median(self) -> float:
        return float(np.median(self.rms[:, 0]))

    @property
    def baseline_median(self) -> float | None:
        """Median distance of a training image to its nearest other one; None when there are too few to tell."""
        return float(np.median(self.baseline_rms)) if len(self.baseline_rms) else None


def nearest_training_images(model: LoadedModel, model_key: tuple, seed: int, n: int, k: int, limit: int) -> Neighbours:
    """The k nearest of the first `limit` training images to samples 0..n-1 of `seed`.

    Raises NoTrainingData when the model's training images are not on this machine.
    """
    train_config = model.checkpoint.train_config
    refs = renderer.training_images(train_config, limit)
    idx, dist = renderer.sample_neighbours(model, model_key, seed, n, k, limit)
    baseline = renderer.training_nearest_distances(train_config, limit)
    shape = renderer.sample_images(model, model_key, seed, n).shape[1:]
    return Neighbours(refs, idx, rms_pixel_distance(dist, shape), rms_pixel_distance(baseline, shape))
