"""The paper's Fig. 7 for a shipped faces model: one random draw of exemplars per row, z-space vs pixel-space.

Each row: the 3 exemplars of A, B and C (picked by the face instrument, as `dcgan arithmetic`
does), then Y = mean(A) - mean(B) + mean(C) with its 8 noisy neighbours (3x3, Y in the centre),
then the same arithmetic on the exemplars' images. Under each row the instrument's verdict.

    python scripts/arithmetic_figure.py --model faces --equation glasses --rows 4 --out docs/arithmetic_glasses_faces.png
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from PIL import Image, ImageDraw

from dcgan_core.analysis.arithmetic import arithmetic_codes, concept_arithmetic, pixel_arithmetic
from dcgan_core.analysis.arithmetic_benchmark import exemplar_labels
from dcgan_core.analysis.equations import EQUATIONS, _exemplar_pools
from dcgan_core.analysis.labelling import label_samples, read_images
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
from dcgan_core.checkpoints import load_model
from dcgan_core.files import write_bytes_atomic
from dcgan_core.generate import generate
from dcgan_core.images import png_bytes

GAP, LABEL_H = 6, 14


def _tile(images: np.ndarray, cols: int) -> np.ndarray:
    """uint8 (N, H, W, 3) -> one (rows*H, cols*W, 3) mosaic, 1-px white lines between images."""
    n, h, w, c = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1, c), 255, np.uint8)
    for i, im in enumerate(images):
        r, q = divmod(i, cols)
        out[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = im
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="faces")
    p.add_argument("--equation", default="glasses", choices=sorted(EQUATIONS))
    p.add_argument("--rows", type=int, default=4, help="random draws shown")
    p.add_argument("--pool", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    model = load_model(args.model)
    inst = load_instrument(default_instrument_path("faces"), kind="faces")
    eq = EQUATIONS[args.equation]
    pool = label_samples(model.generator, inst, args.pool, seed=args.seed)
    labels = exemplar_labels(pool)
    rng = np.random.default_rng(args.seed)
    found, why = _exemplar_pools((eq.a, eq.b, eq.c), labels, 3)  # the same picking as `dcgan arithmetic`
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    rows, verdicts = [], []
    for r in range(args.rows):
        picks = [rng.choice(f, 3, replace=False) for f in found]
        z = [torch.from_numpy(pool.z[i]) for i in picks]
        ex_images = [generate(model.generator, zi) for zi in z]
        y_images = generate(model.generator, arithmetic_codes(concept_arithmetic(*z), seed=args.seed + r))
        pixel = pixel_arithmetic(*ex_images)[None]
        shown_y = int(eq.target.shown_by(read_images(inst, y_images).labels()).sum())
        shown_px = bool(eq.target.shown_by(read_images(inst, pixel).labels())[0])
        parts = [_tile(e, 1) for e in ex_images] + [_tile(y_images, 3), _tile(pixel, 1)]
        height = max(part.shape[0] for part in parts)
        padded = [np.pad(q, ((0, height - q.shape[0]), (0, GAP), (0, 0)), constant_values=255) for q in parts]
        rows.append(np.concatenate(padded, 1))
        verdicts.append(f"z-space: {shown_y}/9 read as {eq.target.name}; pixel space: {'yes' if shown_px else 'no'}")
    width = max(r.shape[1] for r in rows)
    scale = 2
    canvas = Image.new("RGB", (width * scale, sum((r.shape[0] + LABEL_H) * scale for r in rows) + 30), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 4), f"{eq.describe()}   |   columns: A x3, B x3, C x3, Y + 8 neighbours, pixel-space A - B + C", fill="black")
    y = 30
    for row, verdict in zip(rows, verdicts):
        im = Image.fromarray(row).resize((row.shape[1] * scale, row.shape[0] * scale), Image.NEAREST)
        canvas.paste(im, (0, y))
        y += row.shape[0] * scale
        draw.text((4, y + 2), verdict, fill="black")
        y += LABEL_H * scale
    buf = np.asarray(canvas)
    write_bytes_atomic(args.out, png_bytes(buf))
    print("\n".join(verdicts))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
