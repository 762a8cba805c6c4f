"""Instruments: small CNNs that measure what a 64-px image shows, trained on procedural ground truth.

The research pages measure effects on *generated* images: the share of rooms that
still contain a window after "forgetting" window feature maps (paper section
6.3.1), or whether the faces of a vector-arithmetic result (paper Fig. 7) smile,
look masculine or wear glasses. People cannot label thousands of samples, so two
classifiers read them instead:

    RoomInstrument  per object of OBJECT_NAMES (window, bed, door, lamp, picture, rug):
                    a presence logit and a 16x16 coverage map (one cell = 4x4 px at 64 px)
    FaceInstrument  glasses / smiling / masculine logits and the head turn in [-1, 1]

Both are trained on renders of the procedural data sets from a seed the GANs never
see (TRAIN_SEED; the GANs train on seed 0) and scored on another (EVAL_SEED). They
train with mild augmentation (flips, +-2 px shifts, Gaussian blur, noise, brightness,
contrast and colour jitter) so they transfer to blurrier GAN samples. On generated
images they remain an instrument, not ground truth.

Files are safetensors (fp16 weights) with a JSON header: the instrument kind, its
architecture, and a report of how it was trained and how it scored. No pickles.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..data.faces import ATTRIBUTE_NAMES, FacesDataset
from ..data.loading import _renderer_fingerprint, atomic_write, cache_dir, materialize
from ..data.rooms import OBJECT_NAMES, RoomsDataset
from ..checkpoints import (
    CheckpointError,
    check_weights_fit,
    read_checked_safetensors,
    read_safetensors_metadata,
    safetensors_with_checksum,
)
from ..files import write_bytes_atomic

FORMAT = "dcgan-explorer-instrument/1"
KINDS = ("rooms", "faces")
INPUT_SIZE = 64  # instruments read 64-px images; other sizes are resized first
MASK_SIZE = 16  # coverage maps are 16x16: one cell is 4x4 px at 64 px
CELL = INPUT_SIZE // MASK_SIZE
FACE_ATTRIBUTES = ("glasses", "smiling", "masculine")  # the boolean ones; "turn" is regressed

# An object counts as present when one of its boxes covers at least this many pixels
# at 64 px (boxes hold the visible extent; this drops slivers peeking out from behind
# furniture, which no one would call "a picture in the room").
MIN_PRESENT_AREA = 12

TRAIN_SEED = 100  # data set seed of the training renders (the GANs use seed 0)
EVAL_SEED = 200  # data set seed of the held-out renders in the shipped reports
# Faces with |turn| below this are "frontal": their turn sign is not scored.
TURN_SIGN_MARGIN = 0.2


class InstrumentError(ValueError):
    """A file that is not a readable instrument of the expected kind; the message says why."""


# --------------------------------------------------------------------------- networks


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (k - 1) // 2 if stride == 1 else (k - stride) // 2
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class RoomInstrument(nn.Module):
    """Input (N, 3, 64, 64) in [-1, 1]. Predicts, per object in OBJECT_NAMES (window, bed, door,
    lamp, picture, rug), a coarse 16x16 coverage map (logits) and a presence logit.

    Fully convolutional down to 16x16 (the mask resolution), with a 8x8 context branch
    (dilated, so a cell can see the wall it sits on) added back before the mask head.
    Presence reads globally pooled features plus the strongest mask logit per object.
    """

    kind = "rooms"

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.width = width
        self.stem = nn.Sequential(_conv(3, w // 2, 4, 2), _conv(w // 2, w, 4, 2), _conv(w, w))  # 64 -> 16
        self.context = nn.Sequential(_conv(w, 2 * w, 4, 2), _conv(2 * w, 2 * w), _conv(2 * w, 2 * w, dilation=2))  # -> 8
        self.lift = nn.Conv2d(2 * w, w, 1)  # 8x8 context back to 16x16, added to the skip
        self.fuse = _conv(w, w)
        self.mask_head = nn.Conv2d(w, len(OBJECT_NAMES), 1)
        self.presence_head = nn.Linear(2 * w + w + len(OBJECT_NAMES), len(OBJECT_NAMES))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """-> presence logits (N, 6), mask logits (N, 6, 16, 16)."""
        skip = self.stem(x)
        ctx = self.context(skip)
        feat = self.fuse(skip + F.interpolate(self.lift(ctx), scale_factor=2, mode="nearest"))
        masks = self.mask_head(feat)
        pooled = torch.cat([ctx.mean((2, 3)), feat.amax((2, 3)), masks.amax((2, 3))], dim=1)
        return self.presence_head(pooled), masks

    def architecture(self) -> dict:
        return {"width": self.width}


class FaceInstrument(nn.Module):
    """Input (N, 3, 64, 64) in [-1, 1] -> (N, 4): logits for glasses, smiling, masculine; turn in [-1, 1] (tanh).

    A strided CNN down to 4x4, then global average pooling and one linear layer.
    """

    kind = "faces"

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        w = width
        self.width = width
        self.features = nn.Sequential(
            _conv(3, w, 4, 2),  # 32
            _conv(w, 2 * w, 4, 2),  # 16
            _conv(2 * w, 2 * w),
            _conv(2 * w, 4 * w, 4, 2),  # 8
            _conv(4 * w, 4 * w),
            _conv(4 * w, 4 * w, 4, 2),  # 4
        )
        self.head = nn.Linear(4 * w, len(FACE_ATTRIBUTES) + 1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.head(self.features(x).mean((2, 3)))
        return torch.cat([out[:, :3], torch.tanh(out[:, 3:])], dim=1)

    def architecture(self) -> dict:
        return {"width": self.width}


_CLASSES: dict[str, type[nn.Module]] = {"rooms": RoomInstrument, "faces": FaceInstrument}


# --------------------------------------------------------------------------- readings


@dataclass
class RoomReading:
    """What the room instrument says about a batch of images."""

    presence: np.ndarray  # (N, 6) P(object present), OBJECT_NAMES order
    masks: np.ndarray  # (N, 6, 16, 16) P(cell covered by the object), one cell = image_size / 16 px

    def __len__(self) -> int:
        return len(self.presence)

    def has(self, name: str = "window", threshold: float = 0.5) -> np.ndarray:
        """(N,) bool: the instrument sees at least one `name` in the image."""
        return self.presence[:, _object_index(name)] >= threshold

    def boxes(
        self, name: str = "window", image_size: int = 64, threshold: float = 0.5, min_cells: int = 1
    ) -> list[list[tuple[int, int, int, int]]]:
        """Per image, one (x0, y0, x1, y1) box (pixels of an `image_size` image, x1/y1 exclusive) per
        4-connected component of the thresholded mask with at least `min_cells` cells.

        Mask-based only (it does not consult `presence`), at the mask's cell resolution
        (4 px at 64 px). Boxes are sorted top-to-bottom, then left-to-right.
        """
        k = _object_index(name)
        scale = image_size / MASK_SIZE
        out = []
        for mask in self.masks[:, k] >= threshold:
            found = []
            for r0, c0, r1, c1, cells in _components(mask):
                if cells >= min_cells:
                    found.append((round(c0 * scale), round(r0 * scale), round((c1 + 1) * scale), round((r1 + 1) * scale)))
            out.append(sorted(found, key=lambda b: (b[1], b[0])))
        return out


@dataclass
class FaceReading:
    """What the face instrument says about a batch of images."""

    probabilities: dict[str, np.ndarray]  # glasses / smiling / masculine -> (N,) P(yes)
    turn: np.ndarray  # (N,) in [-1, 1]; -1 looks towards the image's left edge

    def __len__(self) -> int:
        return len(self.turn)

    def labels(self, threshold: float = 0.5) -> dict[str, np.ndarray]:
        """Bool (N,) per attribute at `threshold`, plus the float "turn"."""
        out: dict[str, np.ndarray] = {k: v >= threshold for k, v in self.probabilities.items()}
        out["turn"] = self.turn
        return out


def _object_index(name: str) -> int:
    if name not in OBJECT_NAMES:
        raise ValueError(f"unknown object {name!r}; the room instrument knows {', '.join(OBJECT_NAMES)}")
    return OBJECT_NAMES.index(name)


def _components(mask: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """4-connected components of a small bool grid: (row0, col0, row1, col1 inclusive, cell count) each."""
    h, w = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    found = []
    for r, c in zip(*np.nonzero(mask)):
        if seen[r, c]:
            continue
        seen[r, c] = True
        stack, cells = [(r, c)], 0
        r0, c0, r1, c1 = r, c, r, c
        while stack:
            y, x = stack.pop()
            cells += 1
            r0, r1, c0, c1 = min(r0, y), max(r1, y), min(c0, x), max(c1, x)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        found.append((int(r0), int(c0), int(r1), int(c1), cells))
    return found


def _as_input(images: Tensor | np.ndarray) -> Tensor:
    """Images as float (N, 3, 64, 64) in [-1, 1]: uint8 is rescaled, other sizes are resized (antialiased)."""
    x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if not torch.is_tensor(x):
        raise TypeError(f"images must be a torch tensor or numpy array, got {type(images).__name__}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W) RGB, got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        x = x.float().div(127.5).sub(1.0)
    elif x.is_floating_point():
        x = x.float()
        if x.numel() and (x.min() < -1.5 or x.max() > 1.5):
            raise ValueError("float images must be in [-1, 1] (pass uint8 for 0..255 pixels)")
    else:
        raise ValueError(f"images must be uint8 or float, got {x.dtype}")
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True)
    return x


@torch.no_grad()
def _run(model: nn.Module, images: Tensor | np.ndarray, batch_size: int) -> list:
    """Outputs of `model` in eval mode over `images`, in batches, as CPU tensors; restores the mode after."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = _as_input(images)
    outs = []
    try:
        for i in range(0, len(x), batch_size):
            out = model(x[i : i + batch_size].to(device))
            outs.append([o.float().cpu() for o in out] if isinstance(out, tuple) else [out.float().cpu()])
    finally:
        model.train(was_training)
    if not outs:
        return []
    return [torch.cat(parts) for parts in zip(*outs)]


def read_rooms(instrument: RoomInstrument, images: Tensor | np.ndarray, batch_size: int = 256) -> RoomReading:
    """Presence and coverage probabilities for rooms: float [-1, 1] or uint8 (N, 3, H, W), any size."""
    outs = _run(instrument, images, batch_size)
    if not outs:
        n = len(OBJECT_NAMES)
        return RoomReading(np.zeros((0, n), np.float32), np.zeros((0, n, MASK_SIZE, MASK_SIZE), np.float32))
    presence, masks = outs
    return RoomReading(presence=torch.sigmoid(presence).numpy(), masks=torch.sigmoid(masks).numpy())


def read_faces(instrument: FaceInstrument, images: Tensor | np.ndarray, batch_size: int = 256) -> FaceReading:
    """Attribute probabilities and head turn for faces: float [-1, 1] or uint8 (N, 3, H, W), any size."""
    outs = _run(instrument, images, batch_size)
    out = outs[0] if outs else torch.zeros((0, len(FACE_ATTRIBUTES) + 1))
    probs = torch.sigmoid(out[:, :3]).numpy()
    return FaceReading(probabilities={k: probs[:, i] for i, k in enumerate(FACE_ATTRIBUTES)}, turn=out[:, 3].numpy().copy())


# --------------------------------------------------------------------------- ground truth


def _room_data(n: int, seed: int, progress: bool = True) -> tuple[Tensor, Tensor]:
    """Rooms of RoomsDataset(64, n, seed): uint8 images (N, 3, 64, 64) and padded boxes int16 (N, 6, K, 4).

    Each room is rendered once for both (an empty box slot is all zeros); the result
    is cached beside the GAN data, keyed by the renderer's source.
    """
    dataset = RoomsDataset(INPUT_SIZE, n, seed)
    path = cache_dir() / f"instrument-rooms-{INPUT_SIZE}px-seed{seed}-n{n}-{_renderer_fingerprint(dataset)}.npz"
    if path.exists():
        try:
            with np.load(path) as f:
                return torch.from_numpy(f["images"]), torch.from_numpy(f["boxes"])
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # damaged cache: render again
    images = np.empty((n, 3, INPUT_SIZE, INPUT_SIZE), np.uint8)
    all_boxes: list[dict] = []
    for i in tqdm(range(n), desc=f"rendering rooms seed {seed}", disable=not progress, unit="img", mininterval=1.0):
        room = dataset.room(i)
        images[i] = room.image.transpose(2, 0, 1)
        all_boxes.append(room.boxes)
    k = max([1] + [len(b[name]) for b in all_boxes for name in OBJECT_NAMES])
    boxes = np.zeros((n, len(OBJECT_NAMES), k, 4), np.int16)
    for i, b in enumerate(all_boxes):
        for j, name in enumerate(OBJECT_NAMES):
            for s, box in enumerate(b[name]):
                boxes[i, j, s] = box
    with atomic_write(path) as f:
        np.savez(f, images=images, boxes=boxes)
    return torch.from_numpy(images), torch.from_numpy(boxes)


def room_targets(boxes: Tensor, image_size: int = INPUT_SIZE) -> tuple[Tensor, Tensor]:
    """Ground truth from boxes (N, 6, K, 4) in pixels: presence (N, 6) in {0, 1} and the soft coverage
    (N, 6, 16, 16): the fraction of each cell inside any box of that object.

    Present = some box covers at least MIN_PRESENT_AREA px (scaled from 64 px to `image_size`).
    """
    b = boxes.float().clamp(0, image_size)
    x0, y0, x1, y1 = b.unbind(-1)
    area = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    presence = (area >= MIN_PRESENT_AREA * (image_size / INPUT_SIZE) ** 2).any(-1).float()
    centres = torch.arange(image_size, dtype=torch.float32) + 0.5
    in_x = (centres >= x0[..., None]) & (centres < x1[..., None])  # (N, 6, K, W)
    in_y = (centres >= y0[..., None]) & (centres < y1[..., None])
    pixels = (in_y[..., :, None] & in_x[..., None, :]).any(2).float()  # (N, 6, H, W)
    return presence, F.adaptive_avg_pool2d(pixels, MASK_SIZE)


def _face_data(n: int, seed: int, progress: bool = True) -> tuple[Tensor, Tensor]:
    """Faces of FacesDataset(64, n, seed): uint8 images (N, 3, 64, 64) and labels float (N, 4), ATTRIBUTE_NAMES order."""
    dataset = FacesDataset(INPUT_SIZE, n, seed)
    images = materialize(dataset, cache_key=f"faces-{INPUT_SIZE}px-seed{seed}-n{n}", progress=progress)
    return images, torch.from_numpy(dataset.attribute_array())


# --------------------------------------------------------------------------- augmentation


def _gaussian_kernels(sigma: Tensor, radius: int = 2) -> Tensor:
    """(B, 2r+1) normalised 1-D Gaussian kernels; sigma 0 gives the identity."""
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma.clamp(min=1e-3)[:, None]) ** 2)
    return k / k.sum(1, keepdim=True)


def augment(x: Tensor, g: torch.Generator, boxes: Tensor | None = None, turn: Tensor | None = None):
    """Mild, label-preserving distortions of float [-1, 1] images (B, 3, H, W), so that the
    instruments transfer to GAN samples: horizontal flip (boxes mirrored, turn negated),
    shifts of up to 2 px (boxes follow), Gaussian blur (sigma up to 1.2 px on 60% of images),
    brightness x0.85-1.15, contrast x0.85-1.15, per-channel gain x0.95-1.05, noise (std up
    to 0.05). Returns (images, boxes, turn) with the same Nones.
    """
    b, _, h, w = x.shape
    r = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    flip = r(b) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if boxes is not None:
        boxes = boxes.clone()
        mirrored = torch.stack([w - boxes[..., 2], boxes[..., 1], w - boxes[..., 0], boxes[..., 3]], -1)
        empty = (boxes[..., 2] <= boxes[..., 0])[..., None]
        boxes = torch.where(flip[:, None, None, None] & ~empty, mirrored, boxes)
    if turn is not None:
        turn = torch.where(flip, -turn, turn)

    m = 2  # shifts
    shifts = torch.randint(-m, m + 1, (b, 2), generator=g)
    padded = F.pad(x, (m, m, m, m), mode="replicate")
    x = torch.stack([padded[i, :, m - dy : m - dy + h, m - dx : m - dx + w] for i, (dx, dy) in enumerate(shifts.tolist())])
    if boxes is not None:
        empty = (boxes[..., 2] <= boxes[..., 0])[..., None]
        moved = boxes + torch.stack([shifts[:, 0], shifts[:, 1]] * 2, -1)[:, None, None, :].to(boxes.dtype)
        boxes = torch.where(empty, boxes, moved.clamp(0, w))

    sigma = torch.where(r(b) < 0.6, 0.3 + 0.9 * r(b), torch.zeros(b))
    k = _gaussian_kernels(sigma).repeat_interleave(3, 0)  # (B*3, 5)
    y = x.reshape(1, b * 3, h, w)
    y = F.conv2d(F.pad(y, (2, 2, 0, 0), mode="replicate"), k[:, None, None, :], groups=b * 3)
    y = F.conv2d(F.pad(y, (0, 0, 2, 2), mode="replicate"), k[:, None, :, None], groups=b * 3)
    x = y.reshape(b, 3, h, w)

    u = (x + 1) / 2
    mean = u.mean((1, 2, 3), keepdim=True)
    u = mean + (u - mean) * (0.85 + 0.3 * r(b, 1, 1, 1))
    u = u * (0.85 + 0.3 * r(b, 1, 1, 1)) * (0.95 + 0.1 * r(b, 3, 1, 1))
    x = u * 2 - 1
    x = x + torch.randn(x.shape, generator=g) * (0.05 * r(b, 1, 1, 1))
    return x.clamp(-1, 1), boxes, turn


# --------------------------------------------------------------------------- training


def _hardware(device: torch.device) -> str:
    from ..device import describe_device

    return describe_device(device)


def _optimizer(model: nn.Module, steps: int, lr: float):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.1)
    return opt, sched


def train_room_instrument(
    n_train: int = 20_000,
    steps: int = 3000,
    seed: int = TRAIN_SEED,
    progress: bool = True,
    batch_size: int = 64,
    width: int = 32,
    lr: float = 3e-3,
    n_eval: int = 2000,
    eval_seed: int = EVAL_SEED,
    device: str = "cpu",
) -> tuple[RoomInstrument, dict]:
    """Train a RoomInstrument on renders of RoomsDataset(64, n_train, seed); score it on `n_eval`
    renders of `eval_seed` (skipped when 0). Loss: BCE on presence + BCE on soft coverage.

    Returns the model (eval mode) and a report {"held_out": ..., "training": ...}.
    """
    if seed == eval_seed:
        raise ValueError("seed and eval_seed must differ: the report must be on renders never trained on")
    dev = torch.device(device)
    images, boxes = _room_data(n_train, seed, progress)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RoomInstrument(width).to(dev)
        g = torch.Generator().manual_seed(seed)
        opt, sched = _optimizer(model, steps, lr)
        model.train()
        bar = tqdm(range(steps), desc="training room instrument", disable=not progress, mininterval=1.0)
        for _ in bar:
            idx = torch.randint(0, n_train, (batch_size,), generator=g)
            x, bx, _ = augment(images[idx].float().div(127.5).sub(1.0), g, boxes=boxes[idx])
            presence, cover = room_targets(bx)
            p_logits, m_logits = model(x.to(dev))
            loss = F.binary_cross_entropy_with_logits(p_logits, presence.to(dev)) + F.binary_cross_entropy_with_logits(
                m_logits, cover.to(dev)
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    seconds = time.perf_counter() - start
    model.eval().requires_grad_(False)
    training = {
        "data": f"RoomsDataset(image_size=64, length={n_train}, seed={seed})",
        "n_train": n_train, "seed": seed, "steps": steps, "batch_size": batch_size, "lr": lr,
        "optimizer": "AdamW (weight decay 1e-4), one-cycle schedule",
        "augmentation": "flip, +-2 px shift, Gaussian blur sigma<=1.2 px (60%), brightness/contrast x0.85-1.15, "
        "channel gain x0.95-1.05, noise std<=0.05",
        "presence_rule": f"some box of the object covers >= {MIN_PRESENT_AREA} px^2 at 64 px",
        "seconds": round(seconds, 1), "hardware": _hardware(dev), "torch": torch.__version__,
        "platform": platform.platform(),
    }
    held_out = evaluate_room_instrument(model, n=n_eval, seed=eval_seed, progress=progress) if n_eval else None
    return model, {"held_out": held_out, "training": training}


def train_face_instrument(
    n_train: int = 20_000,
    steps: int = 3000,
    seed: int = TRAIN_SEED,
    progress: bool = True,
    batch_size: int = 64,
    width: int = 24,
    lr: float = 3e-3,
    n_eval: int = 2000,
    eval_seed: int = EVAL_SEED,
    device: str = "cpu",
) -> tuple[FaceInstrument, dict]:
    """Train a FaceInstrument on FacesDataset(64, n_train, seed); score it on `n_eval` faces of
    `eval_seed` (skipped when 0). Loss: BCE on the three attributes + 2 x MSE on the turn.

    Returns the model (eval mode) and a report {"held_out": ..., "training": ...}.
    """
    if seed == eval_seed:
        raise ValueError("seed and eval_seed must differ: the report must be on renders never trained on")
    dev = torch.device(device)
    images, labels = _face_data(n_train, seed, progress)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FaceInstrument(width).to(dev)
        g = torch.Generator().manual_seed(seed)
        opt, sched = _optimizer(model, steps, lr)
        model.train()
        bar = tqdm(range(steps), desc="training face instrument", disable=not progress, mininterval=1.0)
        for _ in bar:
            idx = torch.randint(0, n_train, (batch_size,), generator=g)
            y = labels[idx]
            x, _, turn = augment(images[idx].float().div(127.5).sub(1.0), g, turn=y[:, 3])
            out = model(x.to(dev))
            loss = F.binary_cross_entropy_with_logits(out[:, :3], y[:, :3].to(dev)) + 2.0 * F.mse_loss(out[:, 3], turn.to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    seconds = time.perf_counter() - start
    model.eval().requires_grad_(False)
    training = {
        "data": f"FacesDataset(image_size=64, length={n_train}, seed={seed})",
        "n_train": n_train, "seed": seed, "steps": steps, "batch_size": batch_size, "lr": lr,
        "optimizer": "AdamW (weight decay 1e-4), one-cycle schedule",
        "augmentation": "flip (turn negated), +-2 px shift, Gaussian blur sigma<=1.2 px (60%), "
        "brightness/contrast x0.85-1.15, channel gain x0.95-1.05, noise std<=0.05",
        "seconds": round(seconds, 1), "hardware": _hardware(dev), "torch": torch.__version__,
        "platform": platform.platform(),
    }
    held_out = evaluate_face_instrument(model, n=n_eval, seed=eval_seed, progress=progress) if n_eval else None
    return model, {"held_out": held_out, "training": training}


# --------------------------------------------------------------------------- evaluation


def evaluate_room_instrument(model: RoomInstrument, n: int = 2000, seed: int = EVAL_SEED, progress: bool = False) -> dict:
    """Scores on `n` clean renders of RoomsDataset(64, n, seed): presence accuracy per object (and
    the share of rooms that have it, i.e. the majority baseline), and mask IoU per object (cells
    with P >= 0.5 against cells at least half covered by a box, pooled over all images).
    """
    images, boxes = _room_data(n, seed, progress)
    presence, cover = room_targets(boxes)
    reading = read_rooms(model, images)
    predicted = torch.from_numpy(reading.presence >= 0.5)
    accuracy = (predicted == presence.bool()).float().mean(0)
    pred_masks, true_masks = torch.from_numpy(reading.masks >= 0.5), cover >= 0.5
    inter = (pred_masks & true_masks).sum((0, 2, 3)).float()
    union = (pred_masks | true_masks).sum((0, 2, 3)).float().clamp(min=1)
    iou = inter / union
    w = _object_index("window")
    return {
        "n": n,
        "seed": seed,
        "data": f"RoomsDataset(image_size=64, length={n}, seed={seed})",
        "window_presence_accuracy": round(float(accuracy[w]), 4),
        "window_mask_iou": round(float(iou[w]), 4),
        "presence_accuracy": {k: round(float(accuracy[i]), 4) for i, k in enumerate(OBJECT_NAMES)},
        "presence_base_rate": {k: round(float(presence[:, i].mean()), 4) for i, k in enumerate(OBJECT_NAMES)},
        "mask_iou": {k: round(float(iou[i]), 4) for i, k in enumerate(OBJECT_NAMES)},
    }


def evaluate_face_instrument(model: FaceInstrument, n: int = 2000, seed: int = EVAL_SEED, progress: bool = False) -> dict:
    """Scores on `n` clean renders of FacesDataset(64, n, seed): accuracy per attribute (and its base
    rate), turn mean absolute error, and turn sign accuracy on faces with |turn| > TURN_SIGN_MARGIN.
    """
    images, labels = _face_data(n, seed, progress)
    reading = read_faces(model, images)
    truth = labels.numpy()
    turn = truth[:, ATTRIBUTE_NAMES.index("turn")]
    turned = np.abs(turn) > TURN_SIGN_MARGIN
    return {
        "n": n,
        "seed": seed,
        "data": f"FacesDataset(image_size=64, length={n}, seed={seed})",
        "accuracy": {
            k: round(float(((reading.probabilities[k] >= 0.5) == (truth[:, ATTRIBUTE_NAMES.index(k)] > 0.5)).mean()), 4)
            for k in FACE_ATTRIBUTES
        },
        "base_rate": {k: round(float(truth[:, ATTRIBUTE_NAMES.index(k)].mean()), 4) for k in FACE_ATTRIBUTES},
        "turn_mae": round(float(np.abs(reading.turn - turn).mean()), 4),
        "turn_sign_accuracy": round(float((np.sign(reading.turn[turned]) == np.sign(turn[turned])).mean()), 4),
    }


# --------------------------------------------------------------------------- files


def default_instrument_path(kind: str) -> Path:
    """Where the shipped instrument of `kind` lives: models/instruments/{rooms,faces}.safetensors in the repo."""
    if kind not in KINDS:
        raise ValueError(f"unknown instrument kind {kind!r}; expected one of {', '.join(KINDS)}")
    return Path(__file__).resolve().parents[2] / "models" / "instruments" / f"{kind}.safetensors"


def save_instrument(path: str | Path, model: nn.Module, report: dict | None = None) -> None:
    """Write `model` atomically as fp16 safetensors with its kind, architecture and `report` in the header."""
    kind = getattr(model, "kind", None)
    if kind not in KINDS:
        raise TypeError(f"expected a RoomInstrument or FaceInstrument, got {type(model).__name__}")
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        tensors[k] = v.half() if v.is_floating_point() else v
    metadata = {
        "format": FORMAT,
        "kind": kind,
        "architecture": json.dumps(model.architecture()),
        "report": json.dumps(report or {}),
    }
    write_bytes_atomic(path, safetensors_with_checksum(tensors, metadata))


def read_instrument_metadata(path: str | Path) -> dict:
    """The header of an instrument file, parsed: {"kind", "architecture", "report"}. Reads no weights."""
    path = Path(path)
    try:
        meta = read_safetensors_metadata(path, what="instrument file")
    except CheckpointError as e:
        raise InstrumentError(str(e)) from None
    if meta.get("format") != FORMAT:
        what = "a DCGAN checkpoint" if meta.get("format", "").startswith("dcgan-explorer/") else "a safetensors file"
        raise InstrumentError(f"{path} is {what}, not a dcgan-explorer instrument (no '{FORMAT}' format tag)")
    try:
        return {"kind": meta["kind"], "architecture": json.loads(meta["architecture"]), "report": json.loads(meta["report"])}
    except (KeyError, json.JSONDecodeError) as e:
        raise InstrumentError(f"{path} has a damaged instrument header: {e}") from None


def load_instrument(path: str | Path, kind: str | None = None) -> nn.Module:
    """Rebuild an instrument from its file (float32, CPU, eval mode, no gradients).

    `kind` ("rooms" or "faces"), when given, must match the file's, so a face
    instrument is never silently used to count windows. The report is on `.report`.
    """
    path = Path(path)
    meta = read_instrument_metadata(path)
    if meta["kind"] not in KINDS:
        raise InstrumentError(f"{path} is an instrument of unknown kind {meta['kind']!r}")
    if kind is not None and meta["kind"] != kind:
        raise InstrumentError(f"{path} is a {meta['kind']} instrument, but a {kind} instrument was asked for")
    try:
        with torch.device("meta"):  # shapes the stored architecture implies, checked against the header first
            skeleton = _CLASSES[meta["kind"]](**meta["architecture"])
        expected = {k: (tuple(v.shape), v.is_floating_point()) for k, v in skeleton.state_dict().items()}
        _, tensors = read_checked_safetensors(
            path, lambda header: check_weights_fit(header, expected, "instrument architecture"), what="instrument file"
        )
        model = _CLASSES[meta["kind"]](**meta["architecture"])
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    except CheckpointError as e:
        raise InstrumentError(str(e)) from None
    except (TypeError, RuntimeError) as e:
        raise InstrumentError(f"{path}: weights do not fit the stored architecture: {e}") from None
    except Exception as e:  # safetensors raises its own error types for truncated files
        raise InstrumentError(f"{path} is damaged or truncated: {e}") from None
    model.report = meta["report"]
    return model.eval().requires_grad_(False)
