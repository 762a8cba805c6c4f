"""An exponential moving average of G's weights, and BatchNorm statistics that fit it.

A GAN's G oscillates around the equilibrium rather than settling (the shipped rooms run's SWD jumped
between 33 and 48 from one checkpoint to the next). Averaging its weights over recent steps lands
near the centre of the oscillation and draws cleaner images than any single step (Yazici et al.
2019, "The Unusual Effectiveness of Averaging in GAN Training"; ProGAN and StyleGAN ship such an
average). Not in the DCGAN paper; off unless `--g-ema` is given.

DCGAN's G has BatchNorm, whose running statistics were gathered for the raw weights, not for their
average; so before the average draws anything its statistics are measured afresh on a fixed set of
codes (`recalibrate_batchnorm`), as SWA does (Izmailov et al. 2018).
"""

from __future__ import annotations

import copy

import torch

from .latent import sample_z
from .models import Generator

RECALIBRATION_BATCHES = 16  # batches of codes BatchNorm's statistics are measured on
RECALIBRATION_BATCH_SIZE = 128  # the paper's batch size: the statistics G was trained with
RECALIBRATION_SEED = 7_919  # fixed codes: the same weights always get the same statistics


def warmed_up_decay(decay: float, updates: int) -> float:
    """The decay for the `updates`-th update (0: the first): at most (1 + n) / (10 + n).

    Early on the average would otherwise be dominated by the weights it started from.
    """
    return min(decay, (1 + updates) / (10 + updates))


@torch.no_grad()
def recalibrate_batchnorm(generator: Generator, batches: int = RECALIBRATION_BATCHES,
                          batch_size: int = RECALIBRATION_BATCH_SIZE, seed: int = RECALIBRATION_SEED) -> Generator:
    """A copy of `generator` in eval mode whose BatchNorm statistics are the exact means over fixed codes.

    The global RNG is not touched (the codes come from `seed`), so a training run stays reproducible.
    """
    g = copy.deepcopy(generator)
    device = next(g.parameters()).device
    norms = [m for m in g.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    g.train()
    for i in range(batches):
        g(sample_z(batch_size, g.config, seed=seed + i, device=device))
    for m in norms:
        m.momentum = 0.1  # PyTorch's default, as every other G has
    return g.eval().requires_grad_(False)


class GeneratorAverage:
    """The running average of a training G's weights (parameters only; buffers come from recalibration)."""

    def __init__(self, generator: Generator, decay: float, updates: int = 0, since: int = 0, warm_up: bool = True):
        """`warm_up`: follow G closely for the first updates (for a G that starts untrained); a trained G needs none."""
        if not 0 < decay < 1:
            raise ValueError(f"the average's decay must be in (0, 1), got {decay} (e.g. 0.999: about the last 1,000 steps)")
        self.decay = decay
        self.updates = updates
        self.since = since  # the training step the average started at
        self.warm_up = warm_up
        self.average = copy.deepcopy(generator).float().eval().requires_grad_(False)
        self._ready: tuple[int, Generator] | None = None  # (updates, recalibrated copy)

    @torch.no_grad()
    def update(self, generator: Generator) -> None:
        """One step of the average towards `generator`'s current weights."""
        weight = 1.0 - (warmed_up_decay(self.decay, self.updates) if self.warm_up else self.decay)
        averaged = list(self.average.parameters())
        current = [p.detach().float() for p in generator.parameters()]
        torch._foreach_lerp_(averaged, current, weight)
        self.updates += 1

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.average.load_state_dict(state)
        self._ready = None

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights with BatchNorm statistics measured for them: a complete G that loads anywhere."""
        return self.generator().state_dict()

    def generator(self) -> Generator:
        """The average as a ready G (eval mode, recalibrated statistics), measured once per update count.

        A step that writes both a sample grid and a checkpoint recalibrates once.
        """
        if self._ready is None or self._ready[0] != self.updates:
            self._ready = (self.updates, recalibrate_batchnorm(self.average))
        return self._ready[1]
