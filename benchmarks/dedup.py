"""Near-duplicate removal (paper 4.1.1, issue 23 item 1): recall and false positives on planted duplicates, and time.

Builds a folder of distinct procedural images (half rooms, half faces, 64 px; originals saved as PNG or as
JPEG quality 90, alternately) and plants, for a random share of them, one near duplicate each, of four kinds
in equal numbers:

  exact    a byte-for-byte copy under another name;
  jpeg70   the decoded original re-encoded as JPEG at quality 70;
  shift    the original moved by 1-2 px in x and y (each -2, -1, 1 or 2; the edge pixels replicated);
  resize   the whole original resized by 5% (to 61 or 67 px, Lanczos).

File names are shuffled (img_000123.png), so path order says nothing. Then `find_duplicates` (the paper's
denoising-autoencoder hash with pixel confirmation) and the exact-hash baseline (sha256 of the file bytes)
run on the folder, and it prints:

  recall            per kind: share of planted (original, duplicate) pairs that end up in one group;
  pair FP rate      share of the pairs a method reports (every pair within each group) that are not a
                    planted (original, duplicate) pair: the paper's "false positive rate" of hash
                    collisions (it estimated < 1 in 100 by looking);
  images wrongly grouped  share of all images whose group holds an image of another source;
  time              seconds per stage (read, fit, hash, confirm).

Procedural renders are distinct by seed, but two seeds can draw (almost) the same picture. The script checks
the distinct images among themselves with the same pixel test the confirmation uses, by brute force (when
there are at most --brute-max of them), and prints how many of the false pairs are such look-alikes.

    python benchmarks/dedup.py --seed 1                         # 5,000 images, 250 planted per kind
    python benchmarks/dedup.py --seed 1 --json
    OMP_NUM_THREADS=2 python benchmarks/dedup.py --n 100000 --out /tmp/dedup100k --seed 2   # time 100,000 images

The folder is written under --out (kept, and reused when its truth.json matches) or a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from dcgan_core.analysis.dedup import (
    DedupConfig, aligned_distance, blur, exact_duplicates, find_duplicates_in_crops, read_crops,
)

KINDS = ("exact", "jpeg70", "shift", "resize")
SIZE = 64


def render(job: tuple[str, int, int]) -> np.ndarray:
    """uint8 (64, 64, 3): item `index` of the rooms or faces data set of seed `seed`."""
    kind, seed, index = job
    if kind == "rooms":
        from dcgan_core.data.rooms import RoomsDataset

        return RoomsDataset(SIZE, length=index + 1, seed=seed).room(index).image
    from dcgan_core.data.faces import FacesDataset

    return FacesDataset(SIZE, length=index + 1, seed=seed).face(index).image


def save(image: Image.Image, path: Path, jpeg_quality: int | None) -> None:
    if jpeg_quality is None:
        image.save(path, format="PNG")
    else:
        image.save(path, format="JPEG", quality=jpeg_quality)


def shifted(image: Image.Image, dx: int, dy: int) -> Image.Image:
    """The picture moved by (dx, dy) px, the uncovered edge filled by replicating the border."""
    a = np.asarray(image)
    h, w = a.shape[:2]
    pad = np.pad(a, ((abs(dy), abs(dy)), (abs(dx), abs(dx)), (0, 0)), mode="edge")
    return Image.fromarray(pad[abs(dy) - dy:abs(dy) - dy + h, abs(dx) - dx:abs(dx) - dx + w])


def build_folder(folder: Path, n: int, planted_share: float, seed: int, processes: int) -> dict:
    """Write n images into folder/images (the distinct ones and the planted duplicates); return the truth."""
    rng = np.random.default_rng(seed)
    n_planted = int(round(n * planted_share / len(KINDS))) * len(KINDS)
    n_distinct = n - n_planted
    # data set seed 100 + seed: renders nobody trains on (rooms and faces seeds 0-2 are the shipped models' data)
    jobs = [("rooms" if i % 2 == 0 else "faces", 100 + seed, i // 2) for i in range(n_distinct)]
    images_dir = folder / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    names = [f"img_{k:06d}" for k in rng.permutation(n)]
    sources = rng.choice(n_distinct, size=n_planted, replace=False)
    kinds = [KINDS[k % len(KINDS)] for k in range(n_planted)]
    original_file: list[str] = []
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for i, pixels in enumerate(pool.imap(render, jobs, chunksize=64)):
            jpeg = 90 if i % 2 else None
            name = names[i] + (".jpg" if jpeg else ".png")
            save(Image.fromarray(pixels), images_dir / name, jpeg)
            original_file.append(name)
            if (i + 1) % 5000 == 0:
                print(f"rendered {i + 1:,}/{n_distinct:,} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    planted = []
    for k, (source, kind) in enumerate(zip(sources, kinds)):
        original = original_file[source]
        src_path = images_dir / original
        image = Image.open(src_path).convert("RGB")
        base = names[n_distinct + k]
        if kind == "exact":
            name = base + Path(original).suffix
            (images_dir / name).write_bytes(src_path.read_bytes())
        elif kind == "jpeg70":
            name = base + ".jpg"
            save(image, images_dir / name, 70)
        elif kind == "shift":
            dx, dy = (int(v) for v in rng.choice([-2, -1, 1, 2], size=2))
            name = base + Path(original).suffix
            save(shifted(image, dx, dy), images_dir / name, 90 if original.endswith(".jpg") else None)
        else:
            side = int(round(SIZE * (1.05 if rng.random() < 0.5 else 0.95)))
            name = base + Path(original).suffix
            save(image.resize((side, side), Image.Resampling.LANCZOS), images_dir / name,
                 90 if original.endswith(".jpg") else None)
        planted.append({"original": original, "duplicate": name, "kind": kind})
    truth = {"n": n, "planted_share": planted_share, "seed": seed, "distinct": original_file, "planted": planted}
    (folder / "truth.json").write_text(json.dumps(truth))
    return truth


def score(groups: list[list[str]], truth: dict) -> dict:
    """Recall per kind, the pair FP rate and the share of images wrongly grouped, for groups of paths."""
    source = {name: name for name in truth["distinct"]}
    for p in truth["planted"]:
        source[p["duplicate"]] = p["original"]
    group_of = {name: g for g, members in enumerate(groups) for name in members}
    recall = {}
    for kind in KINDS:
        rows = [p for p in truth["planted"] if p["kind"] == kind]
        found = sum(1 for p in rows if p["original"] in group_of and group_of.get(p["original"]) == group_of.get(p["duplicate"]))
        recall[kind] = found / max(len(rows), 1)
    reported = false = 0
    false_pairs = []
    wrong_images = set()
    for members in groups:
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                reported += 1
                if source[members[a]] != source[members[b]]:
                    false += 1
                    false_pairs.append((members[a], members[b]))
        if len({source[m] for m in members}) > 1:  # each image of such a group shares it with another source
            wrong_images.update(members)
    all_planted = len(truth["planted"])
    return {
        "recall": recall,
        "recall_all": sum(recall[k] for k in KINDS) / len(KINDS),
        "planted_pairs": all_planted,
        "reported_pairs": reported,
        "false_pairs": false,
        "pair_fp_rate": false / reported if reported else 0.0,
        "images_wrongly_grouped": len(wrong_images) / truth["n"],
        "example_false_pairs": false_pairs[:10],
    }


def lookalikes(crops_pixels: np.ndarray, index_of: dict[str, int], distinct: list[str], threshold: float,
               max_shift: int, limit: int) -> dict | None:
    """Pairs of distinct renders that the confirmation's pixel test alone would call duplicates (brute force)."""
    if len(distinct) > limit:
        return None
    idx = np.array([index_of[d] for d in distinct if d in index_of])
    x = blur(crops_pixels[idx]).reshape(len(idx), -1)
    sq = (x ** 2).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * x @ x.T) / x.shape[1]  # unshifted mean squared difference
    np.fill_diagonal(d2, np.inf)
    i, j = np.nonzero(np.triu(d2 <= (2 * threshold) ** 2, 1))  # prefilter, then the exact aligned test
    close = []
    if len(i):
        b = blur(crops_pixels[idx])
        dist = aligned_distance(b[i], b[j], max_shift)
        close = [(distinct[a], distinct[c]) for a, c, d in zip(i, j, dist) if d <= threshold]
    return {"pairs": len(close), "images": len({n for p in close for n in p}), "examples": close[:10]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=5000, help="images in the folder, planted duplicates included")
    p.add_argument("--planted-share", type=float, default=0.2, help="share of the images that are planted duplicates")
    p.add_argument("--seed", type=int, default=1, help="which folder (renders, planting) and the autoencoder's seed")
    p.add_argument("--out", default=None, help="keep the folder here (reused if it was built with the same settings)")
    p.add_argument("--threads", type=int, default=None, help="torch threads and processes (default: all cores)")
    p.add_argument("--threshold", type=float, default=None, help="confirm threshold (default: DedupConfig's)")
    p.add_argument("--radius", type=int, default=None, help="Hamming radius (default: DedupConfig's)")
    p.add_argument("--brute-max", type=int, default=8000, help="check distinct images for look-alikes up to this many")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.n < 8:
        p.error("--n must be at least 8")

    temp = None
    if args.out:
        folder = Path(args.out)
    else:
        temp = tempfile.TemporaryDirectory(prefix="dedup-bench-")
        folder = Path(temp.name)
    truth_path = folder / "truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else None
    start = time.perf_counter()
    if not truth or (truth["n"], truth["planted_share"], truth["seed"]) != (args.n, args.planted_share, args.seed):
        truth = build_folder(folder, args.n, args.planted_share, args.seed, os.cpu_count() or 1)  # not timed
    build_seconds = time.perf_counter() - start

    overrides = {k: v for k, v in (("threshold", args.threshold), ("hamming_radius", args.radius)) if v is not None}
    config = DedupConfig(seed=args.seed, threads=args.threads, **overrides)
    load_before = os.getloadavg()[0]
    crops = read_crops(folder / "images", config.crop, processes=config.threads)
    result = find_duplicates_in_crops(crops, config)
    ours = score(result.group_paths(), truth)
    t = time.perf_counter()
    exact = exact_duplicates(folder / "images", result.paths)
    exact_seconds = time.perf_counter() - t
    baseline = score(exact, truth)
    index_of = {name: i for i, name in enumerate(result.paths)}
    alike = lookalikes(crops.pixels, index_of, truth["distinct"], config.threshold, config.max_shift, args.brute_max)

    report = {
        "images": len(result.paths), "planted_per_kind": len(truth["planted"]) // len(KINDS), "seed": args.seed,
        "dedup": {**ours, "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
                  "candidates": result.candidates, "train_steps": result.train_steps},
        "exact_hash": {**baseline, "seconds": round(exact_seconds, 1)},
        "distinct_lookalikes": alike,
        "build_seconds": round(build_seconds, 1),
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
                    f"{config.threads or 'all'}, load average {load_before:.1f} at the start",
        "config": {k: v for k, v in vars(config).items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['images']:,} images ({report['planted_per_kind']} planted duplicates per kind), folder seed {args.seed}; "
              f"{report['hardware']}")
        print(f"{'':12}" + "".join(f"{k:>9}" for k in KINDS) + f"{'pair FP':>10}{'wrong img':>11}{'seconds':>9}")
        for name, r, secs in (("dedup", ours, result.seconds["total"]), ("exact hash", baseline, exact_seconds)):
            print(f"{name:12}" + "".join(f"{r['recall'][k]:9.1%}" for k in KINDS)
                  + f"{r['pair_fp_rate']:10.2%}{r['images_wrongly_grouped']:11.2%}{secs:9.1f}")
        print(f"dedup stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items())
              + f"; {result.train_steps} autoencoder steps; {result.candidates:,} candidate pairs, "
              f"{ours['reported_pairs']:,} reported, {ours['false_pairs']} false")
        if alike is not None:
            print(f"distinct renders the pixel test alone calls duplicates: {alike['pairs']} pairs "
                  f"({alike['images']} images)")
        if ours["example_false_pairs"]:
            print("false pairs, e.g.: " + "; ".join(f"{a} ~ {b}" for a, b in ours["example_false_pairs"][:5]))
    if temp:
        temp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
