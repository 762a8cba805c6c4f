"""Run a dcgan_core command on procedural faces drawn with another glasses style.

    python scripts/faces_style.py --rim 0.032 -- dcgan_core.cli instruments train --kind faces --out inst.safetensors
    python scripts/faces_style.py --rim 0.032 -- dcgan_core.cli train --dataset faces --ngf 32 --ndf 32 --instance-noise 0.1 --out runs/bold
    python scripts/faces_style.py --rim 0.032 -- dcgan_core.cli arithmetic --model runs/bold --instrument inst.safetensors

The defaults are the shipped data's style. The README's glasses experiments before 2026-11-30 ran on
the earlier data: add `--frame-colours 8 --skin-contrast-frames` to draw it again (and `--rim 0.032
--frame-colours 3 --skin-contrast-frames` for their thick near-black rims). Renders are cached per
style (a subfolder of the cache named after it), because the cache key covers the renderer's
source, not these settings.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys



def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        print("usage: faces_style.py [--rim W] [--sunglasses P] [--frame-colours N] [--skin-contrast-frames] -- MODULE ARGS...",
              file=sys.stderr)
        return 2
    cut = argv.index("--")
    from dcgan_core.data import faces
    from dcgan_core.data.loading import cache_dir

    p = argparse.ArgumentParser(prog="faces_style.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--rim", type=float, default=faces.RIM_WIDTH[0],
                   help=f"base rim width, share of the image width (default {faces.RIM_WIDTH[0]:g})")
    p.add_argument("--sunglasses", type=float, default=faces.SUNGLASSES_SHARE,
                   help=f"share of tinted lenses (default {faces.SUNGLASSES_SHARE:g})")
    p.add_argument("--frame-colours", type=int, default=faces.FRAME_COLOURS_USED,
                   help=f"frame colours used, the 3 near-black ones first (default {faces.FRAME_COLOURS_USED}; 8: all)")
    p.add_argument("--skin-contrast-frames", action="store_true",
                   help="lighten the frames of dark-skinned faces, as the data did before 2026-11-30")
    args = p.parse_args(argv[:cut])
    module, *rest = argv[cut + 1 :] or [""]
    if not module:
        p.error("name a module after --, e.g. dcgan_core.cli")
    if not (0 < args.rim < 0.1 and 0 <= args.sunglasses <= 1 and 1 <= args.frame_colours <= 8):
        p.error("--rim must be in (0, 0.1), --sunglasses in [0, 1], --frame-colours in 1..8")

    faces.RIM_WIDTH = (args.rim, faces.RIM_WIDTH[1])
    faces.SUNGLASSES_SHARE = args.sunglasses
    faces.FRAME_COLOURS_USED = args.frame_colours
    faces.FRAME_SKIN_CONTRAST = args.skin_contrast_frames
    style = f"faces-style-rim{args.rim:g}-sun{args.sunglasses:g}-colours{args.frame_colours}"
    style += "-skincontrast" if args.skin_contrast_frames else ""
    os.environ["DCGAN_CACHE_DIR"] = str(cache_dir() / style)
    return importlib.import_module(module).main(rest)


if __name__ == "__main__":
    sys.exit(main())
