"""Instruments: small CNNs that measure what a 64-px image shows, trained on procedural ground truth.

The research pages measure effects on *generated* images: the share of rooms that
still contain a window after "forgetting" window feature maps (paper section
6.3.1), or whether the faces of a vector-arithmetic result (paper Fig. 7) smile,
look masculine or wear glasses. People cannot label thousands of samples, so two
classifiers read them instead:

    RoomInstrument  per object of OBJECT_NAMES (window, bed, door, lamp, picture, rug):
                    a presence logit and a 16x16 coverage map (one cell = 4x4 px at 64 px)
    FaceInstrument  glasses / smiling / masculine logits and the head turn in [-1, 1]

Dissection and painting (issue 22) need the class of every pixel of a generated image, so two
segmenters read that (`segment`), trained on the renderers' exact label maps:

    RoomSegmenter   per pixel, one of ROOM_CLASSES (wall, floor, ceiling, bed, window, ...)
    FaceSegmenter   per pixel, one of FACE_CLASSES (background, clothes, skin, hair, ...)

All are trained on renders of the procedural data sets from a seed the GANs never
see (TRAIN_SEED; the GANs train on seed 0) and scored on another (EVAL_SEED). They
train with mild augmentation (flips, +-2 px shifts, Gaussian blur, noise, brightness,
contrast and colour jitter) so they transfer to blurrier GAN samples. On generated
images they remain an instrument, not ground truth.

Files are safetensors (fp16 weights) with a JSON header: the instrument kind, its
architecture, and a report of how it was trained and how it scored. No pickles.

This module is what the app and the analyses use: the networks, reading images, files.
Making instruments (ground truth, augmentation, training, scoring) is `instruments_training.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.faces import FACE_CLASSES
from ..data.rooms import OBJECT_NAMES, ROOM_CLASSES
from ..files import write_bytes_atomic
from ..images import pixels_to_unit
from ..safetensors_files import (
    CheckpointError,
    check_weights_fit,
    read_checked_safetensors,
    read_safetensors_metadata,
    safetensors_with_checksum,
)

FORMAT = "dcgan-explorer-instrument/1"
KINDS = ("rooms", "faces", "rooms-segmenter", "faces-segmenter")
INPUT_SIZE = 64  # instruments read 64-px images; other sizes are resized first
MASK_SIZE = 16  # coverage maps are 16x16: one cell is 4x4 px at 64 px
CELL = INPUT_SIZE // MASK_SIZE
FACE_ATTRIBUTES = ("glasses", "smiling", "masculine")  # the boolean ones; "turn" is regressed

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


class Segmenter(nn.Module):
    """Input (N, 3, 64, 64) in [-1, 1] -> per-pixel logits (N, len(classes), 64, 64) over `classes`.

    A small encoder-decoder, cheap on a CPU (~3 ms per image at batch 64 on one thread): the
    image is encoded at 32, 16 and 8 px (the 8x8 context has a dilated conv, so a pixel can see
    the wall or bed it belongs to), decoded back to 32 px through skip connections
    (concatenated), upsampled to 64 px and joined with a thin full-resolution branch read
    straight from the pixels, which places the boundaries; a 3x3 then a 1x1 conv give the logits.

    `classes`, when given (as stored in a file), must equal the subclass's list: a file trained
    for other classes would otherwise name every pixel wrongly.
    """

    kind = ""
    classes: tuple[str, ...] = ()

    def __init__(self, width: int = 16, fine_width: int = 8, classes: list[str] | None = None) -> None:
        super().__init__()
        if classes is not None and tuple(classes) != self.classes:
            raise ValueError(
                f"was trained for the classes {', '.join(classes)}, but this code's {self.kind} classes are "
                f"{', '.join(self.classes)}; train it again (dcgan instruments train --kind {self.kind})"
            )
        w = width
        self.width, self.fine_width = width, fine_width
        self.fine = _conv(3, fine_width)  # 64: edges at full resolution
        self.enc32 = nn.Sequential(_conv(3, w, 4, 2), _conv(w, w))  # 64 -> 32
        self.enc16 = nn.Sequential(_conv(w, 2 * w, 4, 2), _conv(2 * w, 2 * w))  # -> 16
        self.context = nn.Sequential(_conv(2 * w, 4 * w, 4, 2), _conv(4 * w, 4 * w), _conv(4 * w, 4 * w, dilation=2))  # -> 8
        self.dec16 = _conv(4 * w + 2 * w, 2 * w)
        self.dec32 = _conv(2 * w + w, w)
        self.head = nn.Sequential(_conv(w + fine_width, w), nn.Conv2d(w, len(self.classes), 1))

    def forward(self, x: Tensor) -> Tensor:
        """-> logits (N, len(classes), H, W) at the input's size (64 px for the trained files)."""
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        s32 = self.enc32(x)  # (w) x 32 x 32
        s16 = self.enc16(s32)  # (2w) x 16 x 16
        ctx = self.context(s16)  # (4w) x 8 x 8
        d16 = self.dec16(torch.cat([s16, up(ctx)], 1))  # (2w) x 16 x 16
        d32 = self.dec32(torch.cat([s32, up(d16)], 1))  # (w) x 32 x 32
        return self.head(torch.cat([self.fine(x), up(d32)], 1))  # (classes) x 64 x 64

    def architecture(self) -> dict:
        return {"width": self.width, "fine_width": self.fine_width, "classes": list(self.classes)}


class RoomSegmenter(Segmenter):
    """A Segmenter over ROOM_CLASSES (see there for what each class covers)."""

    kind = "rooms-segmenter"
    classes = ROOM_CLASSES


class FaceSegmenter(Segmenter):
    """A Segmenter over FACE_CLASSES."""

    kind = "faces-segmenter"
    classes = FACE_CLASSES


_CLASSES: dict[str, type[nn.Module]] = {
    "rooms": RoomInstrument, "faces": FaceInstrument, "rooms-segmenter": RoomSegmenter, "faces-segmenter": FaceSegmenter,
}


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


def _as_nchw(images: Tensor | np.ndarray) -> Tensor:
    """Images as a (N, C, H, W) tensor, unconverted; a numpy (N, H, W, 3) array (renders, PIL) is transposed."""
    if isinstance(images, np.ndarray):
        if images.ndim == 4 and images.shape[-1] == 3 and images.shape[1] != 3:
            images = images.transpose(0, 3, 1, 2)
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not torch.is_tensor(images):
        raise TypeError(f"images must be a torch tensor or numpy array, got {type(images).__name__}")
    return images.unsqueeze(0) if images.dim() == 3 else images


def _as_input(images: Tensor | np.ndarray) -> Tensor:
    """Images as float (N, 3, 64, 64) in [-1, 1]: uint8 is rescaled, other sizes are resized (antialiased)."""
    x = _as_nchw(images)
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W) RGB, got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        x = pixels_to_unit(x)
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
def _run(
    model: nn.Module, images: Tensor | np.ndarray, batch_size: int, finish: Callable[[Tensor], Tensor] | None = None
) -> list:
    """Outputs of `model` in eval mode over `images`, in batches, as CPU tensors; restores the mode after.

    `finish`, when given, maps each batch's output (on the model's device) to what is kept.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = _as_input(images)
    outs = []
    try:
        for i in range(0, len(x), batch_size):
            out = model(x[i : i + batch_size].to(device))
            if finish is not None:
                out = finish(out)
            if isinstance(out, tuple):
                outs.append([o.float().cpu() for o in out])
            else:
                outs.append([out.float().cpu() if out.is_floating_point() else out.cpu()])
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


def segment(segmenter: Segmenter, images: Tensor | np.ndarray, batch_size: int = 256) -> np.ndarray:
    """uint8 (N, H, W) label maps, indices into `segmenter.classes`, at the images' own size.

    Args:
        segmenter: a RoomSegmenter or FaceSegmenter (`load_instrument(path, kind="rooms-segmenter")`).
        images: float [-1, 1] or uint8 (N, 3, H, W) tensors or arrays, or numpy uint8 (N, H, W, 3)
            (renders, PIL images); any size. Other sizes than 64 px (a 32- or 128-px DCGAN's samples)
            are resized to 64 (antialiased bilinear), segmented, and the logits resized back to
            H x W (bilinear) before the per-pixel argmax, so boundaries are not blocky at 128 px;
            detail finer than a 64-px image shows is not recovered.
        batch_size: images per forward pass.

    Example:
        rooms = load_instrument(default_instrument_path("rooms-segmenter"), kind="rooms-segmenter")
        maps = segment(rooms, generator(z))                  # (N, 64, 64) uint8
        windows = maps == rooms.classes.index("window")      # (N, 64, 64) bool
    """
    if not isinstance(segmenter, Segmenter):
        raise TypeError(f"expected a RoomSegmenter or FaceSegmenter, got {type(segmenter).__name__}")
    size = tuple(_as_nchw(images).shape[-2:])

    def label_maps(logits: Tensor) -> Tensor:
        if tuple(logits.shape[-2:]) != size:
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return logits.argmax(1).to(torch.uint8)

    outs = _run(segmenter, images, batch_size, finish=label_maps)
    return outs[0].numpy() if outs else np.zeros((0, *size), np.uint8)


# --------------------------------------------------------------------------- files


def default_instrument_path(kind: str) -> Path:
    """Where the shipped instrument of `kind` lives: models/instruments/KIND.safetensors in the repo."""
    if kind not in KINDS:
        raise ValueError(f"unknown instrument kind {kind!r}; expected one of {', '.join(KINDS)}")
    return Path(__file__).resolve().parents[2] / "models" / "instruments" / f"{kind}.safetensors"


def save_instrument(path: str | Path, model: nn.Module, report: dict | None = None) -> None:
    """Write `model` atomically as fp16 safetensors with its kind, architecture and `report` in the header."""
    kind = getattr(model, "kind", None)
    if kind not in KINDS:
        names = ", ".join(c.__name__ for c in _CLASSES.values())
        raise TypeError(f"expected an instrument ({names}), got {type(model).__name__}")
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


def segmenter_for(dataset: str | None, path: str | Path | None = None) -> Segmenter:
    """The segmentation instrument for a model trained on `dataset`: the file at `path`, or the shipped one.

    One clear error when there is none: only the procedural data sets have exact masks to train one on.
    """
    if path is not None:
        model = load_instrument(path)
        if not isinstance(model, Segmenter):
            raise InstrumentError(f"{path} is a {model.kind} instrument, not a segmenter")
        return model
    kind = f"{dataset}-segmenter"
    if kind not in KINDS:
        raise InstrumentError(f"no segmenter exists for {dataset or 'an unknown'} data: dissection needs per-pixel classes, "
                              "which only the procedural data sets (rooms, faces) have; pass one with --segmenter")
    default = default_instrument_path(kind)
    if not default.is_file():
        raise InstrumentError(f"no {kind} instrument is shipped yet; train one with "
                              f"`dcgan instruments train --kind {kind} --out {default}`")
    return load_instrument(default, kind=kind)


def load_instrument(path: str | Path, kind: str | None = None) -> nn.Module:
    """Rebuild an instrument from its file (float32, CPU, eval mode, no gradients).

    `kind` (one of KINDS), when given, must match the file's, so a face
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
    except ValueError as e:  # a segmenter trained for other classes
        raise InstrumentError(f"{path} {e}") from None
    except (TypeError, RuntimeError) as e:
        raise InstrumentError(f"{path}: weights do not fit the stored architecture: {e}") from None
    except Exception as e:  # safetensors raises its own error types for truncated files
        raise InstrumentError(f"{path} is damaged or truncated: {e}") from None
    model.report = meta["report"]
    return model.eval().requires_grad_(False)
