"""Filter collapse over training: how many of G's units are dead, ignore z, or oscillate (the paper's stated limit).

The paper (section 7): "as models are trained longer they sometimes collapse a subset of filters
to a single oscillating mode". Read on a fixed batch of z at each checkpoint of a run:

  dead       the unit is 0 at every position of every sample (its ReLU never opens);
  collapsed  alive, but the same picture for every z: the spread of its map over z, relative to
             its mean magnitude, is below INVARIANT_RATIO ("a single mode");
  oscillating  collapsed, and its mean map moved by more than CHANGED between this checkpoint and
             the previous one (relative change ||m_t - m_t-1|| / (||m_t|| + ||m_t-1||)): the mode
             swings instead of settling.

    from dcgan_core.analysis.collapse import measure_collapse, checkpoint_files

    rows = measure_collapse(checkpoint_files("runs/rooms64"))   # one CheckpointHealth per file, by step
    rows[-1].layers[3].collapsed                                 # share of layer 3's units
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import load_model
from ..latent import sample_z
from ..models import Generator

INVARIANT_RATIO = 0.05  # z-spread / mean magnitude below this: the unit draws one thing whatever z is
CHANGED = 0.5  # relative change of a mean map between checkpoints above this: it moved, not settled
COLLAPSE_SEED = 5
DEFAULT_N = 256
SNAPSHOT_FOLDERS = ("snapshots", "checkpoints")  # where a run folder keeps checkpoint files over training


@dataclass
class UnitActivity:
    """One layer's units on a fixed batch of z."""

    mean_map: np.ndarray  # float32 (C, h, w): the unit's map averaged over z
    z_spread: np.ndarray  # float32 (C,): std over z, averaged over positions
    magnitude: np.ndarray  # float32 (C,): mean |value| over z and positions
    peak: np.ndarray  # float32 (C,): max value anywhere

    @property
    def dead(self) -> np.ndarray:
        return self.peak <= 0

    @property
    def collapsed(self) -> np.ndarray:
        return ~self.dead & (self.z_spread < INVARIANT_RATIO * np.maximum(self.magnitude, 1e-12))


@dataclass
class LayerHealth:
    layer: int
    units: int
    dead: float  # shares of the layer's units
    collapsed: float
    oscillating: float | None  # None at the first checkpoint (nothing to compare with)
    dead_units: list[int]
    collapsed_units: list[int]


@dataclass
class CheckpointHealth:
    step: int
    path: str
    layers: list[LayerHealth]

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def unit_activity(generator: Generator, z: torch.Tensor) -> list[UnitActivity]:
    """Every hidden layer's units on codes z (G in eval mode, not modified)."""
    _, maps = generator(z.to(next(generator.parameters()).device), return_features=True)
    out = []
    for m in maps:
        m = m.float().cpu()
        out.append(UnitActivity(
            mean_map=m.mean(0).numpy(), z_spread=m.std(0).mean((1, 2)).numpy(),
            magnitude=m.abs().mean((0, 2, 3)).numpy(), peak=m.amax((0, 2, 3)).numpy(),
        ))
    return out


def relative_change(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """float (C,): ||after - before|| / (||after|| + ||before||) per unit of (C, h, w) maps; 0 when both are 0."""
    diff = np.linalg.norm((after - before).reshape(len(after), -1), axis=1)
    size = np.linalg.norm(after.reshape(len(after), -1), axis=1) + np.linalg.norm(before.reshape(len(before), -1), axis=1)
    return np.where(size > 0, diff / np.maximum(size, 1e-12), 0.0)


def health(activity: Sequence[UnitActivity], previous: Sequence[UnitActivity] | None) -> list[LayerHealth]:
    rows = []
    for i, a in enumerate(activity):
        collapsed = a.collapsed
        oscillating = None
        if previous is not None and previous[i].mean_map.shape == a.mean_map.shape:
            moved = relative_change(previous[i].mean_map, a.mean_map) > CHANGED
            oscillating = float((collapsed & moved).mean())
        rows.append(LayerHealth(
            layer=i, units=len(a.peak), dead=float(a.dead.mean()), collapsed=float(collapsed.mean()),
            oscillating=oscillating, dead_units=np.nonzero(a.dead)[0].tolist(),
            collapsed_units=np.nonzero(collapsed)[0].tolist(),
        ))
    return rows


def checkpoint_files(run: str | Path) -> list[Path]:
    """The checkpoint files of a run folder over training (its snapshots/ or checkpoints/), or of a folder of them."""
    run = Path(run)
    if not run.is_dir():
        raise ValueError(f"{run} is not a folder; give a run folder (with snapshots/ or checkpoints/) or a folder of checkpoints")
    for folder in (*(run / f for f in SNAPSHOT_FOLDERS), run):
        files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
        if len(files) >= 2:
            return files
    raise ValueError(f"{run} holds fewer than two checkpoint files (looked in {', '.join(SNAPSHOT_FOLDERS)} and the "
                     "folder itself); collapse is read between checkpoints")


def measure_collapse(
    paths: Sequence[str | Path], n: int = DEFAULT_N, seed: int = COLLAPSE_SEED,
    progress: Callable[[int, int], None] | None = None,
) -> list[CheckpointHealth]:
    """Health of G's units at each checkpoint (ordered by training step), on n codes of `seed`."""
    loaded = []
    for p in paths:
        model = load_model(p)
        loaded.append((model.checkpoint.step, str(p), model))
    loaded.sort(key=lambda row: row[0])
    z = None
    rows: list[CheckpointHealth] = []
    previous = None
    for i, (step, path, model) in enumerate(loaded):
        z = sample_z(n, model.config, seed=seed) if z is None else z
        activity = unit_activity(model.generator, z)
        rows.append(CheckpointHealth(step=step, path=path, layers=health(activity, previous)))
        previous = activity
        if progress:
            progress(i + 1, len(loaded))
    return rows


def format_collapse(rows: Sequence[CheckpointHealth]) -> str:
    """A table: per checkpoint, each layer's dead / collapsed / oscillating shares of units."""
    n_layers = len(rows[0].layers)
    head = "step     " + "  ".join(f"layer {i} dead/coll/osc" for i in range(n_layers))
    lines = [head]
    for r in rows:
        cells = [f"{x.dead:4.0%}/{x.collapsed:4.0%}/{'  - ' if x.oscillating is None else f'{x.oscillating:4.0%}'}"
                 for x in r.layers]
        lines.append(f"{r.step:>7,}  " + "  ".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)
