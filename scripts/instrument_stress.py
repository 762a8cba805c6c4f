"""How far the shipped instruments stay reliable on images worse than their training data.

    python scripts/instrument_stress.py [--n 1000] [--seed 200]

Renders n held-out rooms and faces (seed 200, never trained on), distorts them at test time and
prints, per distortion, the presence accuracy of window / door / picture / rug and the accuracy
of the face attributes (and the turn's mean absolute error): the "Stress checks" table of
models/instruments/README.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F


from dcgan_core.analysis.instruments import (
    FACE_ATTRIBUTES,
    OBJECT_NAMES,
    default_instrument_path,
    load_instrument,
    read_faces,
    read_rooms,
)
from dcgan_core.analysis.instruments_training import _face_data, _room_data, room_targets
from dcgan_core.data.faces import ATTRIBUTE_NAMES


def blur(sigma: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def apply(x: torch.Tensor) -> torch.Tensor:
        r = math.ceil(3 * sigma)
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = (k / k.sum()).repeat(3, 1, 1, 1)
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(3, 1, 1, -1), groups=3)
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(3, 1, -1, 1), groups=3)

    return apply


def down_up(x: torch.Tensor) -> torch.Tensor:
    small = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)


def noise(std: float, seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def apply(x: torch.Tensor) -> torch.Tensor:
        return (x + std * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))).clamp(-1, 1)

    return apply


def darker(x: torch.Tensor) -> torch.Tensor:
    return (x + 1) * 0.7 - 1


def distortions(seed: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    return {
        "none": lambda x: x,
        "Gaussian blur sigma 1.5 px": blur(1.5),
        "Gaussian blur sigma 2 px": blur(2.0),
        "64 -> 32 -> 64 px": down_up,
        "noise std 0.1": noise(0.1, seed),
        "30 % darker": darker,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="renders of each kind")
    p.add_argument("--seed", type=int, default=200, help="data set seed of the renders (200: the held-out set)")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    rooms, faces = load_instrument(default_instrument_path("rooms"), "rooms"), load_instrument(default_instrument_path("faces"), "faces")
    room_images, boxes = _room_data(args.n, args.seed, progress=False)
    presence = room_targets(boxes)[0].bool().numpy()
    face_images, labels = _face_data(args.n, args.seed, progress=False)
    truth = labels.numpy()
    turn = truth[:, ATTRIBUTE_NAMES.index("turn")]
    objects = ("window", "door", "picture", "rug")
    print("| distortion | " + " | ".join(objects) + " | " + " | ".join(FACE_ATTRIBUTES) + " | turn MAE |")
    print("|---|" + "---|" * (len(objects) + len(FACE_ATTRIBUTES) + 1))
    for name, distort in distortions(args.seed).items():
        r = read_rooms(rooms, distort(room_images.float() / 127.5 - 1))
        f = read_faces(faces, distort(face_images.float() / 127.5 - 1))
        room_acc = [((r.presence[:, OBJECT_NAMES.index(o)] >= 0.5) == presence[:, OBJECT_NAMES.index(o)]).mean() for o in objects]
        face_acc = [((f.probabilities[k] >= 0.5) == (truth[:, ATTRIBUTE_NAMES.index(k)] > 0.5)).mean() for k in FACE_ATTRIBUTES]
        cells = [f"{100 * a:.1f} %".replace(".0 %", " %") for a in room_acc + face_acc]
        print(f"| {name} | " + " | ".join(cells) + f" | {abs(f.turn - turn).mean():.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
