"""Training and scoring the instruments (offline): procedural ground truth, augmentation, one training loop.

The app only reads with instruments (`instruments.py`: networks, readings, files); this module
makes them, as `dcgan instruments train|evaluate` runs it:

    from dcgan_core.analysis.instruments import save_instrument
    from dcgan_core.analysis.instruments_training import train_room_instrument

    model, report = train_room_instrument(n_train=20_000, steps=3000)   # renders of TRAIN_SEED, scored on EVAL_SEED
    save_instrument("rooms.safetensors", model, report)

    model, report = train_segmenter("rooms-segmenter", n_train=10_000, steps=1800)  # exact label maps; per-class IoU

Every kind trains the same way (`_fit`: AdamW with a one-cycle schedule on augmented renders from
one seeded torch.Generator); they differ only in their targets and loss.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..data.faces import ATTRIBUTE_NAMES, FacesDataset
from ..data.loading import _renderer_fingerprint, atomic_write, cache_dir, materialize
from ..data.rooms import OBJECT_NAMES, RoomsDataset
from ..images import pixels_to_unit
from .instruments import (
    _CLASSES,
    EVAL_SEED,
    FACE_ATTRIBUTES,
    INPUT_SIZE,
    MASK_SIZE,
    TRAIN_SEED,
    TURN_SIGN_MARGIN,
    FaceInstrument,
    RoomInstrument,
    Segmenter,
    _object_index,
    read_faces,
    read_rooms,
    segment,
)

# An object counts as present when one of its boxes covers at least this many pixels
# at 64 px (boxes hold the visible extent; this drops slivers peeking out from behind
# furniture, which no one would call "a picture in the room").
MIN_PRESENT_AREA = 12

BatchLoss = Callable[[nn.Module, Tensor, torch.Generator], Tensor]  # (model, sample indices, augmentation rng) -> loss


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


_LABELLED = {"rooms-segmenter": (RoomsDataset, "room"), "faces-segmenter": (FacesDataset, "face")}


def _label_data(kind: str, n: int, seed: int, progress: bool = True) -> tuple[Tensor, Tensor]:
    """Items 0..n-1 of RoomsDataset / FacesDataset(64, n, seed) (by segmenter `kind`): uint8 images
    (N, 3, 64, 64) and their exact label maps uint8 (N, 64, 64), cached beside the GAN data,
    keyed by the renderer's source.
    """
    dataset_class, item = _LABELLED[kind]
    dataset = dataset_class(INPUT_SIZE, n, seed)
    name = kind.split("-")[0]
    path = cache_dir() / f"instrument-{name}-labels-{INPUT_SIZE}px-seed{seed}-n{n}-{_renderer_fingerprint(dataset)}.npz"
    if path.exists():
        try:
            with np.load(path) as f:
                return torch.from_numpy(f["images"]), torch.from_numpy(f["label_maps"])
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # damaged cache: render again
    images = np.empty((n, 3, INPUT_SIZE, INPUT_SIZE), np.uint8)
    label_maps = np.empty((n, INPUT_SIZE, INPUT_SIZE), np.uint8)
    render = getattr(dataset, item)
    for i in tqdm(range(n), desc=f"rendering {name} with labels, seed {seed}", disable=not progress, unit="img",
                  mininterval=1.0):
        sample = render(i, label_map=True)
        images[i] = sample.image.transpose(2, 0, 1)
        label_maps[i] = sample.label_map
    with atomic_write(path) as f:
        np.savez(f, images=images, label_maps=label_maps)
    return torch.from_numpy(images), torch.from_numpy(label_maps)


# --------------------------------------------------------------------------- augmentation


def _gaussian_kernels(sigma: Tensor, radius: int = 2) -> Tensor:
    """(B, 2r+1) normalised 1-D Gaussian kernels; sigma 0 gives the identity."""
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma.clamp(min=1e-3)[:, None]) ** 2)
    return k / k.sum(1, keepdim=True)


def augment(
    x: Tensor, g: torch.Generator, boxes: Tensor | None = None, turn: Tensor | None = None, labels: Tensor | None = None
):
    """Mild, label-preserving distortions of float [-1, 1] images (B, 3, H, W), so that the
    instruments transfer to GAN samples: horizontal flip (boxes and label maps mirrored, turn
    negated), shifts of up to 2 px (boxes and label maps follow; the uncovered edge repeats the
    border pixels, and their labels), Gaussian blur (sigma up to 1.2 px on 60% of images),
    brightness x0.85-1.15, contrast x0.85-1.15, per-channel gain x0.95-1.05, noise (std up
    to 0.05). Label maps (B, H, W) are only moved, never blurred. Returns (images, boxes, turn,
    labels) with the same Nones; the random draws do not depend on which labels are given.
    """
    b, _, h, w = x.shape
    r = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    flip = r(b) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if labels is not None:
        labels = torch.where(flip[:, None, None], labels.flip(-1), labels)
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
    if labels is not None:
        padded = F.pad(labels[:, None].float(), (m, m, m, m), mode="replicate")[:, 0].to(labels.dtype)
        labels = torch.stack([padded[i, m - dy : m - dy + h, m - dx : m - dx + w] for i, (dx, dy) in enumerate(shifts.tolist())])

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
    return x.clamp(-1, 1), boxes, turn, labels


# --------------------------------------------------------------------------- training


def _hardware(device: torch.device) -> str:
    from ..device import describe_device

    return describe_device(device)


def _optimizer(model: nn.Module, steps: int, lr: float):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.1)
    return opt, sched


def _check_seeds(seed: int, eval_seed: int) -> None:
    if seed == eval_seed:
        raise ValueError("seed and eval_seed must differ: the report must be on renders never trained on")


def _fit(
    build: Callable[[], nn.Module], batch_loss: BatchLoss, n_train: int, steps: int, seed: int, batch_size: int,
    lr: float, device: torch.device, desc: str, progress: bool,
) -> tuple[nn.Module, float]:
    """The training loop of both instruments: (model in eval mode without gradients, seconds it took).

    The network is built and trained under `seed` with the global RNG forked, so training leaves
    the caller's RNG as it was; each step draws `batch_size` sample indices from one seeded
    generator, which `batch_loss` also uses for augmentation.
    """
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build().to(device)
        g = torch.Generator().manual_seed(seed)
        opt, sched = _optimizer(model, steps, lr)
        model.train()
        bar = tqdm(range(steps), desc=desc, disable=not progress, mininterval=1.0)
        for _ in bar:
            idx = torch.randint(0, n_train, (batch_size,), generator=g)
            loss = batch_loss(model, idx, g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    seconds = time.perf_counter() - start
    model.eval().requires_grad_(False)
    return model, seconds


def _training_record(
    data: str, n_train: int, seed: int, steps: int, batch_size: int, lr: float, augmentation: str, seconds: float,
    device: torch.device, **rules: str,
) -> dict:
    """How an instrument was trained, for its report (key order is the order `dcgan instruments train` prints)."""
    return {
        "data": data, "n_train": n_train, "seed": seed, "steps": steps, "batch_size": batch_size, "lr": lr,
        "optimizer": "AdamW (weight decay 1e-4), one-cycle schedule",
        "augmentation": augmentation, **rules,
        "seconds": round(seconds, 1), "hardware": _hardware(device), "torch": torch.__version__,
        "platform": platform.platform(),
    }


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
    _check_seeds(seed, eval_seed)
    dev = torch.device(device)
    images, boxes = _room_data(n_train, seed, progress)

    def batch_loss(model: nn.Module, idx: Tensor, g: torch.Generator) -> Tensor:
        x, bx, _, _ = augment(pixels_to_unit(images[idx]), g, boxes=boxes[idx])
        presence, cover = room_targets(bx)
        p_logits, m_logits = model(x.to(dev))
        return F.binary_cross_entropy_with_logits(p_logits, presence.to(dev)) + F.binary_cross_entropy_with_logits(
            m_logits, cover.to(dev)
        )

    model, seconds = _fit(lambda: RoomInstrument(width), batch_loss, n_train, steps, seed, batch_size, lr, dev,
                          "training room instrument", progress)
    training = _training_record(
        f"RoomsDataset(image_size=64, length={n_train}, seed={seed})", n_train, seed, steps, batch_size, lr,
        "flip, +-2 px shift, Gaussian blur sigma<=1.2 px (60%), brightness/contrast x0.85-1.15, "
        "channel gain x0.95-1.05, noise std<=0.05", seconds, dev,
        presence_rule=f"some box of the object covers >= {MIN_PRESENT_AREA} px^2 at 64 px",
    )
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
    _check_seeds(seed, eval_seed)
    dev = torch.device(device)
    images, labels = _face_data(n_train, seed, progress)

    def batch_loss(model: nn.Module, idx: Tensor, g: torch.Generator) -> Tensor:
        y = labels[idx]
        x, _, turn, _ = augment(pixels_to_unit(images[idx]), g, turn=y[:, 3])
        out = model(x.to(dev))
        return F.binary_cross_entropy_with_logits(out[:, :3], y[:, :3].to(dev)) + 2.0 * F.mse_loss(out[:, 3], turn.to(dev))

    model, seconds = _fit(lambda: FaceInstrument(width), batch_loss, n_train, steps, seed, batch_size, lr, dev,
                          "training face instrument", progress)
    training = _training_record(
        f"FacesDataset(image_size=64, length={n_train}, seed={seed})", n_train, seed, steps, batch_size, lr,
        "flip (turn negated), +-2 px shift, Gaussian blur sigma<=1.2 px (60%), "
        "brightness/contrast x0.85-1.15, channel gain x0.95-1.05, noise std<=0.05", seconds, dev,
    )
    held_out = evaluate_face_instrument(model, n=n_eval, seed=eval_seed, progress=progress) if n_eval else None
    return model, {"held_out": held_out, "training": training}


def class_weights(label_maps: Tensor, n_classes: int) -> Tensor:
    """Per-class weights (n_classes,) for the segmenters' cross-entropy: 1 / sqrt(pixel share),
    scaled so that the average pixel weighs 1; 0 for classes absent from `label_maps`.

    Square root, not the inverse share itself: lamps (0.4 % of room pixels) weigh about 9x walls
    (32 %) rather than 80x, enough for small objects to count without blurring the big surfaces.
    """
    counts = torch.bincount(label_maps.reshape(-1).long(), minlength=n_classes)[:n_classes].double()
    share = counts / counts.sum()
    weights = torch.where(share > 0, share.clamp(min=1e-12).rsqrt(), torch.zeros_like(share))
    return (weights / (share * weights).sum()).float()


def train_segmenter(
    kind: str = "rooms-segmenter",
    n_train: int = 10_000,
    steps: int = 1800,
    seed: int = TRAIN_SEED,
    progress: bool = True,
    batch_size: int = 64,
    width: int = 16,
    lr: float = 3e-3,
    n_eval: int = 2000,
    eval_seed: int = EVAL_SEED,
    device: str = "cpu",
) -> tuple[Segmenter, dict]:
    """Train a RoomSegmenter ("rooms-segmenter") or FaceSegmenter ("faces-segmenter") on the exact
    label maps of `n_train` renders of `seed`; score it on `n_eval` renders of `eval_seed` (skipped
    when 0). Loss: per-pixel cross-entropy weighted per class (`class_weights` of the training maps).

    Returns the model (eval mode) and a report {"held_out": ..., "training": ...}.
    """
    if kind not in _LABELLED:
        raise ValueError(f"unknown segmenter kind {kind!r}; expected one of {', '.join(_LABELLED)}")
    _check_seeds(seed, eval_seed)
    dev = torch.device(device)
    model_class = _CLASSES[kind]
    images, label_maps = _label_data(kind, n_train, seed, progress)
    weights = class_weights(label_maps, len(model_class.classes))

    def batch_loss(model: nn.Module, idx: Tensor, g: torch.Generator) -> Tensor:
        x, _, _, labels = augment(pixels_to_unit(images[idx]), g, labels=label_maps[idx])
        return F.cross_entropy(model(x.to(dev)), labels.long().to(dev), weight=weights.to(dev))

    model, seconds = _fit(lambda: model_class(width), batch_loss, n_train, steps, seed, batch_size, lr, dev,
                          f"training {kind}", progress)
    dataset = _LABELLED[kind][0].__name__
    training = _training_record(
        f"{dataset}(image_size=64, length={n_train}, seed={seed}), exact label maps", n_train, seed, steps, batch_size, lr,
        "flip, +-2 px shift (label maps follow both), Gaussian blur sigma<=1.2 px (60%), brightness/contrast "
        "x0.85-1.15, channel gain x0.95-1.05, noise std<=0.05", seconds, dev,
        loss="per-pixel cross-entropy, class weights 1/sqrt(pixel share) (mean pixel weight 1)",
        class_weights={c: round(float(w), 3) for c, w in zip(model_class.classes, weights)},
    )
    held_out = evaluate_segmenter(model, n=n_eval, seed=eval_seed, progress=progress) if n_eval else None
    return model, {"held_out": held_out, "training": training}


# --------------------------------------------------------------------------- evaluation


def class_iou(predicted: np.ndarray | Tensor, truth: np.ndarray | Tensor, n_classes: int) -> list[float | None]:
    """Per-class intersection over union of two label maps of the same shape, pooled over every pixel
    of every image (the semantic-segmentation convention): None for a class in neither.
    """
    p = torch.as_tensor(np.asarray(predicted)).reshape(-1).long()
    t = torch.as_tensor(np.asarray(truth)).reshape(-1).long()
    if p.shape != t.shape:
        raise ValueError(f"predicted and true label maps differ in size: {tuple(predicted.shape)} vs {tuple(truth.shape)}")
    both = torch.bincount(t[p == t], minlength=n_classes)[:n_classes]
    union = torch.bincount(p, minlength=n_classes)[:n_classes] + torch.bincount(t, minlength=n_classes)[:n_classes] - both
    return [float(i) / float(u) if u > 0 else None for i, u in zip(both.tolist(), union.tolist())]


def evaluate_segmenter(model: Segmenter, n: int = 2000, seed: int = EVAL_SEED, progress: bool = False) -> dict:
    """Scores on the exact label maps of `n` clean renders of seed `seed`: IoU per class (pooled over
    all pixels; None for a class that neither the renders nor the segmenter show), mean IoU over the
    other classes, pixel accuracy, and each class's share of the pixels.
    """
    images, truth = _label_data(model.kind, n, seed, progress)
    predicted = segment(model, images)
    ious = class_iou(predicted, truth, len(model.classes))
    scored = [v for v in ious if v is not None]
    share = torch.bincount(truth.reshape(-1).long(), minlength=len(model.classes)).double() / truth.numel()
    dataset = _LABELLED[model.kind][0].__name__
    return {
        "n": n,
        "seed": seed,
        "data": f"{dataset}(image_size=64, length={n}, seed={seed}), exact label maps",
        "mean_iou": round(sum(scored) / len(scored), 4) if scored else None,
        "pixel_accuracy": round(float((torch.from_numpy(predicted) == truth).float().mean()), 4),
        "iou": {c: None if v is None else round(v, 4) for c, v in zip(model.classes, ious)},
        "pixel_share": {c: round(float(s), 4) for c, s in zip(model.classes, share)},
    }




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
