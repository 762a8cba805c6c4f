"""Paper Fig. 5 on the shipped rooms model: D's best unit for an object, trained vs random, with guided backprop.

For the trained D and a random D of the same architecture, the unit of the last conv layer that
overlaps the object's boxes most (Network Dissection IoU on rendered rooms of seed 30003, as
`dcgan units measure` picks them) and its top images among other rooms
(seed 20002). Per D three rows: the images with the object's boxes outlined, the guided-backprop
gradient image, and its magnitude over a grey copy. Above each block, the share of the maps'
energy inside the boxes.

    python scripts/object_units_figure.py --model rooms --object window --out docs/window_units_rooms.png
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image, ImageDraw


from dcgan_core.analysis import guided_backprop as gb
from dcgan_core.analysis import units as un
from dcgan_core.checkpoints import load_model
from dcgan_core.files import write_bytes_atomic
from dcgan_core.images import png_bytes

SCALE, GAP, LABEL_H = 2, 4, 16


def outline(images_nhwc: np.ndarray, boxes: list[un.Boxes], objects: list[str]) -> np.ndarray:
    """The images with the objects' boxes drawn in yellow, 1 px."""
    out = []
    for im, b in zip(images_nhwc, boxes):
        pic = Image.fromarray(im)
        draw = ImageDraw.Draw(pic)
        for name in objects:
            for x0, y0, x1, y1 in b.get(name, []):
                draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=(255, 220, 0))
        out.append(np.asarray(pic))
    return np.stack(out)


def block(rows: list[np.ndarray], label: str) -> Image.Image:
    """Rows of equal-size images (each (k, H, W, 3)) under a text label, scaled up."""
    k, h, w, _ = rows[0].shape
    cw, ch = w * SCALE, h * SCALE
    out = Image.new("RGB", (k * (cw + GAP) - GAP, LABEL_H + len(rows) * (ch + GAP) - GAP), "white")
    ImageDraw.Draw(out).text((2, 2), label, fill=(0, 0, 0))
    for r, images in enumerate(rows):
        for i, im in enumerate(images):
            out.paste(Image.fromarray(im).resize((cw, ch), Image.NEAREST), (i * (cw + GAP), LABEL_H + r * (ch + GAP)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="rooms")
    p.add_argument("--object", default="window", choices=un.OBJECT_NAMES)
    p.add_argument("--n", type=int, default=1000, help="rooms that pick the unit, and other rooms it is shown on")
    p.add_argument("--k", type=int, default=6, help="top images shown per unit")
    p.add_argument("--random-seed", type=int, default=un.RANDOM_D_SEED, help="weights of the random D")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    model = load_model(args.model)
    size = model.config.image_size
    objects = [args.object]
    pick_images, pick_boxes = un.render_rooms(args.n, un.SELECT_SEED, size)
    images, boxes = un.render_rooms(args.n, un.MEASURE_SEED, size)
    masks = np.stack([un.box_mask(b, objects, size) for b in boxes])
    random_d = gb.random_discriminator(model.config, seed=args.random_seed, calibration_images=images)
    blocks = []
    for name, d in (("trained D", model.discriminator), (f"random D (seed {args.random_seed})", random_d)):
        iou = un.object_iou(d, pick_images, pick_boxes, objects)
        unit = int(np.argmax(iou))
        idx = un.top_images(un.max_responses(d, images, -1), unit, args.k)
        maps = gb.guided_backprop(d, images[idx], -1, unit)
        inside = float(un.energy_fraction_inside(maps, masks[idx]).mean())
        nhwc = images[idx].transpose(0, 2, 3, 1)
        rows = [outline(nhwc, [boxes[i] for i in idx], objects), gb.gradient_image(maps), gb.heat_overlay(nhwc, gb.saliency(maps))]
        blocks.append(block(rows, f"{name}: unit {unit} (IoU with {args.object} {iou[unit]:.3f}); "
                                  f"{inside:.0%} of its guided-backprop energy inside the {args.object} boxes"))
        print(f"{name}: unit {unit}, IoU {iou[unit]:.3f}, energy inside {inside:.3f}, box area {masks[idx].mean():.3f}")
    width = max(b.width for b in blocks)
    figure = Image.new("RGB", (width, sum(b.height for b in blocks) + 3 * GAP), "white")
    y = 0
    for b in blocks:
        figure.paste(b, (0, y))
        y += b.height + 3 * GAP
    write_bytes_atomic(args.out, png_bytes(np.asarray(figure)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
