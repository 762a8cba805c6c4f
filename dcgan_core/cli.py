"""`dcgan` command line: thin wrappers over the library.

    dcgan train --dataset rooms --image-size 32 --steps 300 --out runs/rooms32
    dcgan train --resume runs/rooms32 --steps 600
    torchrun --nproc_per_node 4 -m dcgan_core.cli train --dataset rooms --out runs/rooms64   # one process per GPU
    dcgan sample --model runs/rooms32 --seed 0 --out grid.png
    dcgan info runs/rooms32
    dcgan data preview --dataset faces --out faces.png
    dcgan import --generator netG_epoch_24.pth --discriminator netD_epoch_24.pth --out imported.safetensors
    dcgan export runs/rooms64 --out models/rooms/model.safetensors
    dcgan eval --model rooms --n 2000
    dcgan models
    dcgan probe --model faces --dataset faces --task attributes
    dcgan arithmetic --model faces --draws 100
    dcgan turn --model faces --seed 0 [--faces 100] [--json]
    dcgan latent-geometry --model faces [--by skin|sex]
    dcgan units measure --model rooms --units 8
    dcgan dissect --model rooms --classes window --json
    dcgan collapse runs/rooms64 --save runs/rooms64/collapse.json
    dcgan dedup --data-root ~/pics --exclude-out ~/pics-duplicates.txt [--json]
    dcgan forget measure --model rooms --n-annotate 150 --n 300
    dcgan forget agree --model rooms --a alice --b bob [--instrument]
    dcgan instruments evaluate --kind rooms
    dcgan instruments train --kind faces --out faces.safetensors
    dcgan instruments train --kind rooms-segmenter --steps 1800 --n-train 10000 --out runs/segmenter/rooms.safetensors
    dcgan train-encoder --model faces --out runs/encoders/faces --steps 4000
    dcgan invert --model faces --out inverted/ --method hybrid me.jpg photos/
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import signal
import sys
from dataclasses import asdict, fields
from pathlib import Path

EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130
EXIT_WRITE_FAILED = 74  # sysexits' EX_IOERR: the run folder could not be written
EXIT_BROKEN_PIPE = 141  # what a shell reports for a tool stopped by SIGPIPE (`dcgan info RUN | head`)

# TrainConfig field -> (flag, help). Defaults come from TrainConfig itself.
TRAIN_FLAGS = {
    "dataset": ("--dataset", "rooms | faces (procedural, offline) | folder | lsun | cifar10 | mnist (local files)"),
    "data_root": ("--data-root", "path of a real data set (folder, LSUN lmdb, CIFAR-10 batches, MNIST idx files) "
                  "(default: none; the procedural data sets need none)"),
    "exclude": ("--exclude", "folder data set: a file of image paths (relative to --data-root, one per line) to skip, "
                "such as the near duplicates `dcgan dedup --exclude-out FILE` lists (default: none)"),
    "dataset_size": ("--dataset-size", "images rendered for a procedural data set"),
    "image_size": ("--image-size", "32, 64 or 128"),
    "channels": ("--channels", "1 or 3 (default: the data set's own)"),
    "nz": ("--nz", "size of z"),
    "ngf": ("--ngf", "generator width"),
    "ndf": ("--ndf", "discriminator width"),
    "z_prior": ("--z-prior", "uniform (paper) or normal"),
    "init_from": ("--init-from", "fine-tune: start from this model's G and D (a name from `dcgan models` or a checkpoint "
                  "path; same architecture), with fresh Adam state and the step counter at 0 (default: none)"),
    "batch_size": ("--batch-size", "images per step in each process (under torchrun the global batch is this x processes)"),
    "lr": ("--lr", "Adam learning rate"),
    "beta1": ("--beta1", "Adam beta1"),
    "beta2": ("--beta2", "Adam beta2"),
    "real_label": ("--real-label", "D's target for real images: 1.0 (paper) or 0.9 (one-sided label smoothing, "
                   "steadies D on data it separates too easily)"),
    "instance_noise": ("--instance-noise", "std of Gaussian noise added to real and generated images before D "
                       "(0: paper; 0.1 keeps D from winning on flat-coloured data such as faces)"),
    "instance_noise_anneal": ("--instance-noise-anneal", "step at which the instance noise has fallen linearly to 0 "
                              "(0: constant noise)"),
    "g_ema": ("--g-ema", "keep an average of G's weights with this decay and draw samples and exports with it "
              "(0: paper; 0.999 averages about the last 1,000 steps and smooths G's oscillation; may be turned on at --resume)"),
    "hessian_penalty": ("--hessian-penalty", "weight of the Hessian Penalty on G (Peebles et al. 2020), which asks each z "
                        "coordinate to act alone (0: paper)"),
    "steps": ("--steps", "total steps (one D and one G update each)"),
    "seed": ("--seed", "seed for weights, data order and noise"),
    "out_dir": ("--out", "run folder for checkpoints, samples and metrics"),
    "log_every": ("--log-every", "steps between metrics records"),
    "sample_every": ("--sample-every", "steps between sample grids"),
    "checkpoint_every": ("--checkpoint-every", "steps between checkpoints"),
    "device": ("--device", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"),
    "precision": ("--precision", "auto (bf16 where the hardware has it), bf16 or fp32"),
    "num_workers": ("--num-workers", "data loading workers for folder/lsun data sets"),
}


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to a flag's help only where there is one to say: not for None, nor twice."""

    def _get_help_string(self, action):
        if action.default is None or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _add_train_parser(sub) -> None:
    from .train import TrainConfig

    p = sub.add_parser(
        "train",
        help="train a DCGAN (paper settings by default)",
        description="Train a DCGAN with the paper's settings (Adam 2e-4, beta1 0.5, batch 128) unless told otherwise. "
        "Writes checkpoints, sample grids and metrics.jsonl into --out; --resume continues a run exactly.",
    )  # no ArgumentDefaultsHelpFormatter: the flags default to None (so --resume sees what was given); help names TrainConfig's
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    types = {"init_from": str, "data_root": str, "exclude": str, "channels": int, "dataset": str, "z_prior": str, "out_dir": str, "device": str, "precision": str}
    for name, (flag, help_text) in TRAIN_FLAGS.items():
        kind = types.get(name) or type(defaults[name])
        # default None so --resume can tell which flags were given
        shown = help_text if "(default" in help_text else f"{help_text} (default: {defaults[name]})"
        p.add_argument(flag, dest=name, type=kind, default=None, help=shown)
    p.add_argument("--no-channels-last", dest="channels_last", action="store_const", const=False, default=None,
                   help="keep NCHW memory layout (channels_last is on by default: faster)")
    p.add_argument("--compile", dest="compile", action="store_const", const=True, default=None, help="torch.compile G and D")
    p.add_argument("--no-progress", dest="progress", action="store_const", const=False, default=None, help="no progress bar")
    p.add_argument("--distributed", action="store_true",
                   help="insist on multi-process training (DistributedDataParallel); needs a torchrun launch, "
                   "e.g. `torchrun --nproc_per_node 4 -m dcgan_core.cli train ...`, which also turns it on by itself. "
                   "--batch-size is then per process")
    p.add_argument("--sync-bn", dest="sync_bn", action="store_const", const=True, default=None,
                   help="with several CUDA processes: SyncBatchNorm, BatchNorm statistics over the global batch")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.set_defaults(func=cmd_train)


def _device_setting(args, given: dict) -> str:
    """The --device the run will use (a resumed run keeps its stored one unless given): it picks NCCL or gloo."""
    if "device" in given or not args.resume:
        return given.get("device", "auto")
    from .safetensors_files import read_metadata
    from .train import CHECKPOINT_NAME

    stored = json.loads(read_metadata(Path(args.resume) / "checkpoints" / CHECKPOINT_NAME).get("train_config") or "null")
    return (stored or {}).get("device", "auto")


def _stop_on_sigterm(signum, frame) -> None:
    """SIGTERM (a scheduler preempting the job; torchrun passes it on to every rank) stops a run like Ctrl-C."""
    raise KeyboardInterrupt


def cmd_train(args) -> int:
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return _train_here_or_distributed(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train_here_or_distributed(args) -> int:
    from . import distributed
    from .device import resolve_device

    given = {k: getattr(args, k) for k in list(TRAIN_FLAGS) + ["channels_last", "compile", "progress", "sync_bn"]
             if getattr(args, k) is not None}
    if not distributed.launched_by_torchrun():
        if args.distributed:
            raise ValueError("--distributed needs a torchrun launch (it sets RANK, WORLD_SIZE, LOCAL_RANK): "
                             "torchrun --nproc_per_node N -m dcgan_core.cli train ...")
        return _train(args, given)
    distributed.init_from_env(resolve_device(_device_setting(args, given)))
    try:
        return _train(args, given)
    finally:
        distributed.shutdown()


def _train(args, given: dict) -> int:
    from . import distributed
    from .train import RunFolderError, TrainConfig, Trainer, TrainingDiverged

    if args.resume:
        given.pop("out_dir", None)
        trainer = Trainer.resume(args.resume, **given)
    else:
        trainer = Trainer(TrainConfig(**given))
    cfg = trainer.config
    main = distributed.is_main()
    processes = f" x {trainer.world_size} processes (batch {cfg.batch_size} each)" if trainer.world_size > 1 else ""
    if main:
        print(
            f"training {cfg.dataset} at {cfg.image_size}px on {trainer.device}{processes} ({trainer.precision}), "
            f"steps {trainer.step} -> {cfg.steps}, run folder {trainer.out_dir}",
            file=sys.stderr,
        )
    try:
        result = trainer.run()
    except TrainingDiverged as e:
        if main:  # every rank stops at the same step with the same message
            print(f"error: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    except RunFolderError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    except KeyboardInterrupt:
        last = trainer._existing_checkpoint()
        where = f"the last checkpoint ({last})" if last else "nothing (no checkpoint was written yet)"
        if main:
            print(f"\ninterrupted at step {trainer.step}; kept {where}. Resume with: dcgan train --resume {trainer.out_dir}",
                  file=sys.stderr)
        return EXIT_INTERRUPTED
    if main:
        print(f"done: step {result.step}; checkpoint {result.checkpoint}; samples in {result.out_dir / 'samples'}")
    return 0


def _add_sample_parser(sub) -> None:
    p = sub.add_parser("sample", help="write a grid of samples from a checkpoint",
                       description="Generate a PNG grid from a checkpoint. Same (model, seed, n) -> same images.",
                       formatter_class=DefaultsFormatter)
    p.add_argument("--model", required=True, help="checkpoint file, run folder, or model name in the models folders")
    p.add_argument("--seed", type=int, default=0, help="seed for z")
    p.add_argument("--n", type=int, default=64, help="number of images")
    p.add_argument("--nrow", type=int, default=8, help="images per row")
    p.add_argument("--scale", type=int, default=1, help="integer upscaling of each pixel for viewing")
    p.add_argument("--out", default="samples.png", help="PNG path")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.set_defaults(func=cmd_sample)


def cmd_sample(args) -> int:
    import torch

    from .checkpoints import load_model
    from .device import resolve_device
    from .images import image_grid, save_png, to_uint8, upscale_nearest
    from .latent import sample_z
    from .registry import resolve_checkpoint

    if args.n < 1:
        raise ValueError("--n must be at least 1")
    device = resolve_device(args.device)
    model = load_model(resolve_checkpoint(args.model), device=device)
    z = sample_z(args.n, model.config, seed=args.seed, device=device)
    with torch.no_grad():
        images = to_uint8(model.generator(z))
    save_png(args.out, image_grid(upscale_nearest(images, args.scale), nrow=args.nrow))
    print(f"wrote {args.n} samples of {model.path} (seed {args.seed}) to {args.out}")
    return 0


def _add_info_parser(sub) -> None:
    p = sub.add_parser("info", help="print a checkpoint's config and metadata, and check the file",
                       description="Print what a checkpoint was built and trained with, as JSON, after checking "
                       "the file (weights fit the config, nothing truncated, tensor data matches its checksum). "
                       "A damaged file is still described, with its problem, and the command exits 2.")
    p.add_argument("model", help="checkpoint file, run folder, or model name")
    p.set_defaults(func=cmd_info)


def cmd_info(args) -> int:
    from .checkpoints import verify_checkpoint
    from .safetensors_files import CheckpointError, read_metadata
    from .registry import resolve_checkpoint

    path = resolve_checkpoint(args.model)
    meta = read_metadata(path)
    try:
        checksum, problem = verify_checkpoint(path), None  # every check of loading, and the checksum
    except CheckpointError as e:
        checksum, problem = None, str(e)

    def header_json(key: str, default: str):
        try:
            return json.loads(meta.get(key, default))
        except json.JSONDecodeError:
            return f"(unreadable: {meta[key][:80]!r})"

    info = {
        "path": str(path),
        "step": header_json("step", "0"),
        "model_config": header_json("model_config", "null"),
        "train_config": header_json("train_config", "null"),
        "meta": header_json("meta", "{}"),
        "intact": problem is None,
        "checksum": (f"sha256 {checksum} (verified)" if checksum else
                     "none (written before checksums: the tensor data could not be verified)" if problem is None else
                     "not verified"),
        "resumable": problem is None and any(k.startswith("optim.") for k in meta),
    }
    if problem is not None:
        info["problem"] = problem
    print(json.dumps(info, indent=2))
    if problem is not None:  # described above, but not usable: say why on one line, and fail
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _add_data_parser(sub) -> None:
    p = sub.add_parser("data", help="look at data sets", description="Preview or check a data set.")
    dsub = p.add_subparsers(dest="data_command", required=True)
    pv = dsub.add_parser("preview", help="write a grid of images from a data set",
                         formatter_class=DefaultsFormatter)
    pv.add_argument("--dataset", default="rooms", help="rooms, faces, folder, lsun, cifar10 or mnist")
    pv.add_argument("--data-root", help="path of a real data set")
    pv.add_argument("--image-size", type=int, default=64)
    pv.add_argument("--n", type=int, default=64, help="number of images")
    pv.add_argument("--nrow", type=int, default=8)
    pv.add_argument("--seed", type=int, default=0, help="seed of a procedural data set")
    pv.add_argument("--scale", type=int, default=1, help="integer upscaling for viewing")
    pv.add_argument("--out", default="data_preview.png")
    pv.set_defaults(func=cmd_data_preview)


def cmd_data_preview(args) -> int:
    import torch

    from .data import build_dataset
    from .images import image_grid, save_png, to_uint8, upscale_nearest

    ds = build_dataset(args.dataset, root=args.data_root, image_size=args.image_size, length=max(args.n, 1), seed=args.seed)
    n = min(args.n, len(ds))
    images = to_uint8(torch.stack([ds[i] for i in range(n)]))
    save_png(args.out, image_grid(upscale_nearest(images, args.scale), nrow=args.nrow))
    print(f"wrote {n} images of {args.dataset} to {args.out}")
    return 0


def _add_import_parser(sub) -> None:
    p = sub.add_parser("import", help="convert a pytorch/examples dcgan checkpoint",
                       description="Convert pytorch/examples dcgan netG_epoch_N.pth (and netD_epoch_N.pth) state dicts "
                       "into a dcgan-explorer checkpoint. Files are read with torch.load(weights_only=True).")
    p.add_argument("--generator", required=True, help="netG_epoch_N.pth")
    p.add_argument("--discriminator", help="netD_epoch_N.pth (optional; the discriminator pages need it)")
    p.add_argument("--out", required=True, help="output .safetensors path")
    p.add_argument("--fp16", action="store_true", help="store weights as float16 (half the size)")
    p.set_defaults(func=cmd_import)


def cmd_import(args) -> int:
    import torch

    from .convert import import_pytorch_examples

    ckpt = import_pytorch_examples(args.generator, args.discriminator, out_path=args.out,
                                   dtype=torch.float16 if args.fp16 else None)
    c = ckpt.model_config
    print(f"imported {c.image_size}px DCGAN (nz {c.nz}, ngf {c.ngf}, ndf {c.ndf}, z ~ N(0, 1)) to {args.out}")
    return 0


def _add_export_parser(sub) -> None:
    p = sub.add_parser("export", help="write a small shipping copy of a checkpoint (no optimizer state)",
                       description="Copy G and D of a checkpoint or run folder, with its config and metadata, "
                       "into a model file without optimizer or RNG state; float16 unless --fp32.")
    p.add_argument("model", help="checkpoint file, run folder, or model name")
    p.add_argument("--out", required=True, help="output .safetensors path, e.g. models/rooms/model.safetensors")
    p.add_argument("--fp32", action="store_true", help="keep float32 weights (twice the size)")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    import torch

    from .checkpoints import export_model

    ckpt = export_model(args.model, args.out, dtype=None if args.fp32 else torch.float16)
    size = Path(args.out).stat().st_size / 2**20
    print(f"exported step {ckpt.step} to {args.out} ({size:.1f} MiB)")
    return 0


def _add_eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="sliced Wasserstein distance against held-out real images (no download)",
                       description="Multi-scale sliced Wasserstein distance (Karras et al. 2018) between a model's "
                       "samples and held-out real images, with the real-vs-real floor and an untrained generator for "
                       "scale. Optional FID with a local pytorch-fid Inception weights file (never downloaded).",
                       formatter_class=DefaultsFormatter)
    p.add_argument("--model", required=True, help="checkpoint file, run folder, or model name")
    p.add_argument("--n", type=int, default=2000, help="images per set")
    p.add_argument("--seed", type=int, default=0, help="seed for z and for the metric's random patches/directions")
    p.add_argument("--data-root", help="real data location, if not the one stored in the checkpoint")
    p.add_argument("--fid-weights", help="local pt_inception-2015-12-05-6726825d.pth to also compute FID")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from .analysis.evaluate import evaluate_model
    from .checkpoints import load_model

    if args.n < 2:
        raise ValueError("--n must be at least 2")
    model = load_model(args.model)
    report = evaluate_model(model, n=args.n, seed=args.seed, data_root=args.data_root, fid_weights=args.fid_weights)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    levels = list(report.model.per_level)
    print(f"SWD x 1e3 on {report.n} images per set; real images: {report.real_source}")
    print(f"{'':<28}{'mean':>8}" + "".join(f"{f'{r}px':>8}" for r in levels))
    for label, r in (("model", report.model), ("floor (real vs real)", report.floor), ("untrained generator", report.untrained)):
        print(f"{label:<28}{r.mean:8.2f}" + "".join(f"{r.per_level[k]:8.2f}" for k in levels))
    for k, v in report.fid.items():
        print(f"FID {k}: {v:.2f}")
    return 0


def _add_models_parser(sub) -> None:
    p = sub.add_parser("models", help="list shipped models and those in $DCGAN_MODELS_DIR",
                       description="List the models the app and --model NAME can use: the shipped ones in the "
                       "repo's models/ and the user's in $DCGAN_MODELS_DIR (files, model folders or run folders).")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_models)


def cmd_models(args) -> int:
    from .registry import list_models

    entries, problems = list_models()
    if args.json:
        print(json.dumps([{"name": e.name, "path": str(e.path), "source": e.source, "config": e.config,
                           "step": e.step, "meta": e.meta} for e in entries], indent=2))
    else:
        print(f"{'name':<20} {'source':<8} {'data':<10} {'size':>5} {'steps':>7}  path")
        for e in entries:
            data = e.meta.get("dataset", "?")
            print(f"{e.name:<20} {e.source:<8} {data:<10} {e.config['image_size']:>5} {e.step:>7}  {e.path}")
        if not entries:
            print("(no models found; train one with `dcgan train` or set DCGAN_MODELS_DIR)")
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    return 0


def _add_arithmetic_parser(sub) -> None:
    p = sub.add_parser("arithmetic", help="success rate of the paper's face vector arithmetic, read by the face instrument",
                       description="Run the paper's face equations (smiling woman - neutral woman + neutral man; man with "
                       "glasses - man without glasses + woman without glasses; the turn axis) over many random draws of "
                       "exemplars picked by the face instrument, and print how often the result shows the target, against "
                       "the same arithmetic in pixel space and against the ceilings: the same draws on a z whose attributes "
                       "are exact half-spaces (any linear z, one z axis per attribute, this model's linear part).",
                       formatter_class=DefaultsFormatter)
    p.add_argument("--model", required=True, help="checkpoint file, run folder, or model name (a 64-px faces model)")
    p.add_argument("--draws", type=int, default=100, help="random draws of exemplars per equation")
    p.add_argument("--pool", type=int, default=2000, help="labelled samples the exemplars are picked from")
    p.add_argument("--per-concept", type=int, default=3, help="exemplars averaged per concept (paper: 3)")
    p.add_argument("--scale", type=float, default=0.25, help="uniform noise around Y for the 8 neighbours (paper: 0.25)")
    p.add_argument("--seed", type=int, nargs="+", default=[0],
                   help="seed of the pool, the draws and the noise; several (--seed 0 1 2) run the benchmark once per "
                   "seed and end with each equation's rate per seed, mean and standard error")
    p.add_argument("--confidence", type=float, default=0.5,
                   help="exemplars need the instrument's P >= this for each wanted attribute (<= 1 - this for 'without')")
    p.add_argument("--instrument", help="face instrument file (when not given: the shipped models/instruments/faces.safetensors)")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_arithmetic)


def cmd_arithmetic(args) -> int:
    from .analysis.arithmetic_benchmark import arithmetic_benchmark, format_benchmark, format_seeds
    from .analysis.labelling import face_instrument_problem
    from .analysis.instruments import default_instrument_path, load_instrument
    from .checkpoints import load_model
    from .device import resolve_device
    from .registry import resolve_checkpoint

    if args.draws < 1 or args.pool < 1 or args.per_concept < 1:
        raise ValueError("--draws, --pool and --per-concept must be at least 1")
    model = load_model(resolve_checkpoint(args.model), device=resolve_device(args.device))
    problem = face_instrument_problem(model)
    if model.config.channels != 3:
        raise ValueError(f"{model.path}: {problem}")
    if problem:
        print(f"warning: {model.path}: {problem}", file=sys.stderr)
    instrument = load_instrument(args.instrument or default_instrument_path("faces"), kind="faces")
    reports = []
    for seed in args.seed:
        report = arithmetic_benchmark(
            model.generator, instrument, draws=args.draws, pool=args.pool, seed=seed, scale=args.scale,
            per_concept=args.per_concept, confidence=args.confidence, model_name=f"{model.path} (step {model.checkpoint.step})",
            progress=None if args.json else (lambda msg, s=seed: print(f"seed {s}: {msg}", file=sys.stderr)),
        )
        reports.append(report)
        if not args.json:
            print(format_benchmark(report) + ("\n" if len(args.seed) > 1 else ""), flush=True)
    if args.json:
        print(json.dumps(reports[0].as_dict() if len(reports) == 1 else [r.as_dict() for r in reports], indent=2))
    elif len(reports) > 1:
        print(format_seeds(reports))
    return 0


def _add_probe_parser(sub) -> None:
    from .analysis.feature_probe import C_GRID, PROBE_DATASETS, PROBE_SEED, TASKS

    tasks = "; ".join(f"{d}: {', '.join(t)}" for d, t in TASKS.items() if t != ("classes",))
    p = sub.add_parser("probe", help="feature probe (paper Table 1): linear SVM on D's features vs a random D and raw pixels",
                       description="The paper's section 5.1 probe: D's features from all conv layers, each max-pooled to 4x4, "
                       "flattened and concatenated, then a linear L2-SVM (LinearSVC) on a labelled set. Prints the test "
                       "accuracy of the trained D, a randomly initialised D of the same architecture and raw pixels, all "
                       "through the same pipeline (standardised features, C picked per feature set on a validation split).",
                       formatter_class=DefaultsFormatter)
    p.add_argument("--model", required=True, help="checkpoint file, run folder, or model name (needs its discriminator)")
    p.add_argument("--dataset", default="faces", choices=PROBE_DATASETS,
                   help="faces, rooms (procedural), cifar10 (batches), mnist (idx files, also Fashion-MNIST), "
                   "svhn (train_32x32.mat / test_32x32.mat), folder (one subfolder per class)")
    p.add_argument("--task", help=f"what to predict ({tasks}); real data sets predict their classes")
    p.add_argument("--data-root", help="path of a real labelled data set")
    p.add_argument("--n-train", type=int, default=2000, help="images the SVM trains on (with --per-class or --labels: the pool "
                   "each labelled subset is drawn from; features are extracted once for it)")
    p.add_argument("--n-test", type=int, default=1000, help="images it is tested on")
    p.add_argument("--seed", type=int, default=PROBE_SEED, help="data set seed of procedural sets, subset seed of real ones; "
                   "also seeds the labelled draws")
    p.add_argument("--C", type=float, help=f"fix the SVM's C (default: pick from {', '.join(f'{c:g}' for c in C_GRID)} "
                   "per feature set on a quarter of the training images)")
    p.add_argument("--random-seed", type=int, default=0, help="seed of the random D's weights")
    labelled = p.add_mutually_exclusive_group()
    labelled.add_argument("--per-class", type=int, metavar="N",
                          help="train on N labelled images of each class, a class-balanced draw from the pool (paper, CIFAR-10: 400)")
    labelled.add_argument("--labels", type=int, metavar="N",
                          help="train on N labelled images in all, split evenly over the classes (paper, SVHN: 1000)")
    p.add_argument("--repeats", type=int, default=1, help="independent seeded draws of the labelled subset; prints mean ± std "
                   "over them (paper: 10)")
    p.add_argument("--no-baselines", action="store_true", help="only the trained D (no random D, no raw pixels)")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--save", metavar="PATH", help="also keep the result (with these settings) as JSON at PATH, atomically; "
                   "the app shows models/NAME/probe.json at once")
    p.set_defaults(func=cmd_probe)


def cmd_probe(args) -> int:
    from .analysis.feature_probe import FEATURE_SETS, TASKS, ProbeSettings, load_probe_data, run_probe, save_stored_probe
    from .checkpoints import load_model
    from .device import resolve_device
    from .registry import resolve_checkpoint

    if args.C is not None and args.C <= 0:
        raise ValueError("--C must be positive")
    sets = FEATURE_SETS[:1] if args.no_baselines else FEATURE_SETS
    settings = ProbeSettings(args.dataset, args.task or TASKS[args.dataset][0], args.data_root, args.n_train, args.n_test,
                             args.C, args.seed, args.random_seed, tuple(sets), args.per_class, args.labels, args.repeats)
    draws = settings.draws  # checks --per-class / --labels / --repeats before the model and data are read
    model = load_model(resolve_checkpoint(args.model), device=resolve_device(args.device))
    if model.discriminator is None:
        raise ValueError(f"{model.path} holds no discriminator (a generator-only file); the probe reads D's features")
    cfg = model.config
    data = load_probe_data(args.dataset, image_size=cfg.image_size, channels=cfg.channels, root=args.data_root, task=args.task,
                           n_train=args.n_train, n_test=args.n_test, seed=args.seed)

    def progress(name: str, done: int, total: int) -> None:
        if not args.json and done == total:
            print(f"{name}: features of {total:,} images done; fitting the SVM...", file=sys.stderr)

    report = run_probe(model.discriminator, data, feature_sets=sets, C=args.C, random_seed=args.random_seed, draws=draws,
                       progress=progress)
    if args.json:
        print(json.dumps({"model": str(model.path), "step": model.checkpoint.step, **report.as_dict()}, indent=2))
    else:
        print(f"model {model.path} (step {model.checkpoint.step})")
        print(report.table())
    if args.save:
        save_stored_probe(args.save, report, settings, checkpoint=model.path, step=model.checkpoint.step,
                          command=settings.command(args.model, args.save))
    return 0


def _add_dissect_parser(sub) -> None:
    from .analysis.dissection import DISSECT_SEED

    p = sub.add_parser("dissect", help="which of G's units draw which objects (GAN Dissection against exact masks)",
                       formatter_class=DefaultsFormatter,
                       description="For every unit of every G layer: upsample its maps over --n samples, threshold them at "
                       "their top quantile and score the IoU with each class the segmenter finds in G's pictures; rank "
                       "units per class, count each layer's detectors, and compare with a randomly initialised G.")
    p.add_argument("--model", default="rooms", help="checkpoint file, run folder or model name")
    p.add_argument("--n", type=int, default=2000, help="samples dissected")
    p.add_argument("--seed", type=int, default=DISSECT_SEED, help="z seed of the samples")
    p.add_argument("--layers", default="all", help="comma-separated hidden layers of G, or all")
    p.add_argument("--classes", default="", help="comma-separated classes whose top units are listed (default: every class seen)")
    p.add_argument("--top", type=int, default=10, help="units listed per class")
    p.add_argument("--no-random", action="store_true", help="skip the randomly initialised G (halves the time)")
    p.add_argument("--segmenter", default=None, help="segmentation instrument file (default: the data set's shipped one)")
    p.add_argument("--save", default=None, help="write the JSON report here (the Dissection and Paint pages read "
                   "models/NAME/dissection.json)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_dissect)


def cmd_dissect(args) -> int:
    from .analysis.dissection import dissect, dissection_report, format_dissection, random_generator
    from .analysis.instruments import segmenter_for
    from .checkpoints import load_model
    from .files import write_json_atomic

    if args.n < 10 or args.top < 1:
        raise ValueError("--n must be at least 10 and --top at least 1")
    model = load_model(args.model, device=args.device)
    dataset = (model.checkpoint.train_config or {}).get("dataset")
    segmenter = segmenter_for(dataset, args.segmenter).to(args.device)
    layers = None if args.layers.strip() == "all" else [int(x) for x in args.layers.split(",") if x.strip()]
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    for c in classes:
        if c not in segmenter.classes:
            raise ValueError(f"unknown class {c!r}; the segmenter knows {', '.join(segmenter.classes)}")

    def progress(stage: str):
        def show(what: str, share: float) -> None:
            if sys.stderr.isatty():
                print(f"\r{stage}: {what} {share:4.0%}", end="" if share < 1 else "\n", file=sys.stderr, flush=True)
        return show

    g = model.generator
    trained = dissect(g, segmenter, n=args.n, seed=args.seed, layers=layers, progress=progress("trained G"))
    random = None if args.no_random else dissect(
        random_generator(g), segmenter, n=args.n, seed=args.seed, layers=layers, masks_from=g, progress=progress("random G"))
    report = {"model": str(model.path), "step": model.checkpoint.step, **dissection_report(trained, random, args.top)}
    if args.save:
        write_json_atomic(args.save, report)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"dissected {model.path} (step {model.checkpoint.step}): {sum(d.n_units for d in trained.layers)} units in "
          f"{len(trained.layers)} layers over {trained.n} samples (z seed {trained.seed}) in {trained.seconds:.1f} s"
          + (f"; random G in {random.seconds:.1f} s" if random else ""))
    print(format_dissection(trained, random, classes or None, args.top))
    if args.save:
        print(f"wrote {args.save}")
    return 0


def _add_collapse_parser(sub) -> None:
    from .analysis.collapse import COLLAPSE_SEED, DEFAULT_N

    p = sub.add_parser("collapse", help="filter collapse over training: G's dead, z-ignoring and oscillating units per checkpoint",
                       formatter_class=DefaultsFormatter,
                       description="The paper's stated limit (section 7): trained long, a subset of filters collapses to a "
                       "single oscillating mode. Reads G's units on a fixed batch of z at every checkpoint of a run (its "
                       "snapshots/ or checkpoints/ folder): dead units, units that draw the same for every z (collapsed) "
                       "and collapsed units whose mode moved since the previous checkpoint (oscillating).")
    p.add_argument("run", help="run folder (with snapshots/ or checkpoints/) or a folder of checkpoint files")
    p.add_argument("--n", type=int, default=DEFAULT_N, help="codes read at each checkpoint")
    p.add_argument("--seed", type=int, default=COLLAPSE_SEED, help="z seed of the codes")
    p.add_argument("--save", default=None, help="write the JSON here (the training monitor reads RUN/collapse.json)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_collapse)


def cmd_collapse(args) -> int:
    from .analysis.collapse import checkpoint_files, format_collapse, measure_collapse
    from .files import write_json_atomic

    if args.n < 2:
        raise ValueError("--n must be at least 2")
    files = checkpoint_files(args.run)
    rows = measure_collapse(files, n=args.n, seed=args.seed)
    report = {"run": str(args.run), "n": args.n, "seed": args.seed, "checkpoints": [r.as_dict() for r in rows]}
    if args.save:
        write_json_atomic(args.save, report)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{len(rows)} checkpoints of {args.run}, G's units on {args.n} codes (z seed {args.seed}); shares of each layer's units")
    print(format_collapse(rows))
    if args.save:
        print(f"wrote {args.save}")
    return 0


def _add_dedup_parser(sub) -> None:
    from .analysis.dedup import DedupConfig

    d = DedupConfig()
    p = sub.add_parser("dedup", help="find near-duplicate images in a folder (the paper's autoencoder hash, section 4.1.1)",
                       formatter_class=DefaultsFormatter,
                       description="The paper removed near duplicates from LSUN with a 3072-128-3072 denoising autoencoder "
                       "on 32x32 centre crops whose binarised code is a semantic hash. This fits that autoencoder on the "
                       "folder, hashes every image (also moved by 1 px), takes hash collisions as candidates and confirms "
                       "each on the crops' pixels (RMS difference at the best alignment), then prints the groups. "
                       "--exclude-out writes every member of each group but one (the first by path) for "
                       "`dcgan train --dataset folder --exclude FILE`.")
    p.add_argument("--data-root", required=True, metavar="FOLDER", help="folder of .jpg/.jpeg/.png/.webp images (searched recursively)")
    p.add_argument("--json", action="store_true", help='print JSON: {"groups": [[path, ...], ...], ...}, paths relative to FOLDER')
    p.add_argument("--exclude-out", metavar="FILE", default=None,
                   help="write the exclusion list here: one path relative to FOLDER per line, '#' comment lines")
    p.add_argument("--exact-baseline", action="store_true", help="also count the groups of byte-identical files (sha256)")
    p.add_argument("--threshold", type=float, default=d.threshold,
                   help="confirm: largest RMS difference (pixel range [0, 1]) of two blurred 32 px crops at their best alignment")
    p.add_argument("--radius", type=int, default=d.hamming_radius, help="Hamming radius of a hash collision (bits of 128)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="autoencoder passes over the folder")
    p.add_argument("--max-train-seconds", type=float, default=d.max_train_seconds, help="cap on the autoencoder's fitting time")
    p.add_argument("--threads", type=int, default=None, help="torch threads and reading processes (default: all cores)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the autoencoder's weights, batches and dropout")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_dedup)


def cmd_dedup(args) -> int:
    from tqdm.auto import tqdm

    from .analysis.dedup import DedupConfig, exact_duplicates, exclusions, find_duplicates, write_exclusion_list

    if args.threads is not None and args.threads < 1:
        raise ValueError("--threads must be at least 1")
    config = DedupConfig(threshold=args.threshold, hamming_radius=args.radius, epochs=args.epochs,
                         max_train_seconds=args.max_train_seconds, threads=args.threads, seed=args.seed)
    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[stage] = tqdm(total=total, desc=stage, disable=args.no_progress, dynamic_ncols=True, mininterval=0.5)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        result = find_duplicates(args.data_root, config, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    removed = exclusions(result)
    report = {**result.as_dict(), "exclude": removed}
    if args.exact_baseline:
        report["exact_hash_groups"] = exact_duplicates(args.data_root, result.paths)
    if args.exclude_out:
        write_exclusion_list(args.exclude_out, removed, header=(
            f"{len(removed)} near duplicates under {args.data_root} (paths relative to it), one kept per group\n"
            f"made by: {args.command_line}\nuse: dcgan train --dataset folder --data-root {args.data_root} "
            f"--exclude {args.exclude_out}"))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{len(result.paths):,} images under {args.data_root}: {len(result.groups):,} group(s) of near duplicates, "
          f"{result.duplicates:,} image(s) to remove ({result.candidates:,} hash collisions confirmed down to "
          f"{len(result.pairs):,} pairs; {result.seconds['total']:.0f} s)")
    for group in result.group_paths():
        print("  " + "  ".join(group))
    if result.unreadable:
        print(f"{len(result.unreadable)} unreadable files left out, e.g. {result.unreadable[0][0]}: {result.unreadable[0][1]}")
    if args.exact_baseline:
        exact = report["exact_hash_groups"]
        print(f"exact-hash baseline: {len(exact):,} group(s) of byte-identical files, {sum(len(g) - 1 for g in exact):,} to remove")
    if args.exclude_out:
        print(f"wrote {args.exclude_out} ({len(removed)} paths); train without them: dcgan train --dataset folder "
              f"--data-root {args.data_root} --exclude {args.exclude_out}")
    return 0


def _add_units_parser(sub) -> None:
    from .analysis.guided_backprop import RULES, TARGETS
    from .analysis.units import DISSECT_QUANTILE, MEASURE_OBJECTS, MEASURE_SEED, RANDOM_D_SEEDS, SELECT_SEED, SELECTIONS

    p = sub.add_parser("units", help="where D's top units look: guided-backprop energy inside object boxes (paper Fig. 5)",
                       description="Where do the discriminator's top units look? Guided-backprop energy inside "
                       "ground-truth object boxes of procedural rooms, trained D vs a random D (paper Fig. 5).")
    usub = p.add_subparsers(dest="units_command", required=True)
    m = usub.add_parser("measure", help="the object-energy table", formatter_class=DefaultsFormatter,
                        description="The share of each top unit's guided-backprop energy that falls inside the chosen "
                        "objects' boxes, for the trained D and random Ds of the same architecture, beside the boxes' area.")
    m.add_argument("--model", default="rooms", help="checkpoint file, run folder or model name (a rooms model)")
    m.add_argument("--n", type=int, default=1000, help="rooms in the pool")
    m.add_argument("--seed", type=int, default=MEASURE_SEED, help="data set seed of the pool (GANs train on 0)")
    m.add_argument("--layer", type=int, default=-1, help="hidden layer of D (-1: the last conv layer)")
    m.add_argument("--objects", default=",".join(MEASURE_OBJECTS), help="comma-separated objects of the main region")
    m.add_argument("--units", type=int, default=8, help="top units measured")
    m.add_argument("--select", default="objects", choices=SELECTIONS,
                   help="top units: those overlapping the objects most on other rooms (Network Dissection IoU), or the most selective")
    m.add_argument("--select-seed", type=int, default=SELECT_SEED, help="data set seed of the rooms that pick units (--select objects)")
    m.add_argument("--quantile", type=float, default=DISSECT_QUANTILE,
                   help="--select objects: a unit is 'on' where its map exceeds this quantile of its values (0.995: top 0.5%%)")
    m.add_argument("--k", type=int, default=8, help="top images per unit")
    m.add_argument("--rule", default="guided", choices=RULES, help="backward rule through the rectifiers")
    m.add_argument("--target", default="max", choices=TARGETS, help="strongest position of the map, or its sum")
    m.add_argument("--random-seeds", default=",".join(map(str, RANDOM_D_SEEDS)), help="comma-separated seeds of the random Ds")
    m.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(func=cmd_units)


def cmd_units(args) -> int:
    from .analysis.units import compare_object_energy, format_object_energy
    from .checkpoints import load_model

    if args.n < 2 or args.units < 1 or args.k < 1:
        raise ValueError("--n must be at least 2, --units and --k at least 1")
    if not 0 < args.quantile < 1:
        raise ValueError(f"--quantile must be between 0 and 1, got {args.quantile}")
    model = load_model(args.model, device=args.device)
    result = compare_object_energy(
        model, n=args.n, seed=args.seed, layer=args.layer, objects=[o.strip() for o in args.objects.split(",") if o.strip()],
        units=args.units, k=min(args.k, args.n), rule=args.rule, target=args.target, select=args.select,
        select_seed=args.select_seed, quantile=args.quantile,
        random_seeds=[int(x) for x in args.random_seeds.split(",") if x.strip()],
    )
    print(json.dumps(result.as_dict(), indent=2) if args.json else format_object_energy(result))
    return 0


def _add_instruments_parser(sub) -> None:
    from .analysis.instruments import EVAL_SEED, KINDS, TRAIN_SEED

    p = sub.add_parser("instruments", help="train or score the instruments, the small CNNs that read generated rooms and faces",
                       description="Instruments: small CNNs that measure what a 64-px image shows, trained on procedural "
                       "ground truth (room objects and their coverage; face attributes and head turn; the class of every "
                       "pixel, for the segmenters).")
    isub = p.add_subparsers(dest="instruments_command", required=True)
    tr = isub.add_parser("train", help="train an instrument and save it with its held-out report", formatter_class=DefaultsFormatter,
                         description="Train an instrument on procedural renders and save it (fp16 safetensors) with a report "
                         "of how it was trained, the command included, and how it scored on held-out renders.")
    tr.add_argument("--kind", choices=KINDS, required=True, help="rooms (objects and their coverage), faces (attributes, turn), "
                    "rooms-segmenter or faces-segmenter (the class of every pixel)")
    tr.add_argument("--out", type=Path, help="output file (default: the shipped path models/instruments/KIND.safetensors)")
    tr.add_argument("--steps", type=int, help="training steps (default 3000; 1800 for the segmenters)")
    tr.add_argument("--n-train", type=int, help="procedural renders to train on (default 20000; 10000 for the segmenters)")
    tr.add_argument("--seed", type=int, default=TRAIN_SEED, help="data set seed of the training renders")
    tr.add_argument("--eval-seed", type=int, default=EVAL_SEED, help="data set seed of the held-out renders")
    tr.add_argument("--n-eval", type=int, default=2000, help="held-out renders scored for the report (0: none)")
    tr.add_argument("--batch-size", type=int, default=64, help="renders per step")
    tr.add_argument("--width", type=int, help="network width (default 32 for rooms, 24 for faces, 16 for the segmenters)")
    tr.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.set_defaults(func=cmd_instruments_train)
    ev = isub.add_parser("evaluate", help="score a saved instrument on held-out renders", formatter_class=DefaultsFormatter,
                         description="Score an instrument file on clean procedural renders and print the scores as JSON.")
    ev.add_argument("--kind", choices=KINDS, required=True, help="one of the kinds above; must be the file's kind")
    ev.add_argument("--path", type=Path, help="instrument file (default: the shipped one)")
    ev.add_argument("--n", type=int, default=2000, help="held-out renders scored")
    ev.add_argument("--seed", type=int, default=EVAL_SEED, help="data set seed of the held-out renders")
    ev.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ev.set_defaults(func=cmd_instruments_evaluate)


def cmd_instruments_train(args) -> int:
    import torch

    from .analysis.instruments import default_instrument_path, save_instrument
    from .analysis.instruments_training import train_face_instrument, train_room_instrument, train_segmenter

    if args.threads:
        torch.set_num_threads(args.threads)
    train = {"rooms": train_room_instrument, "faces": train_face_instrument}.get(args.kind)
    if train is None:  # a segmenter
        train = functools.partial(train_segmenter, args.kind)
    extra = {k: v for k, v in (("width", args.width), ("steps", args.steps), ("n_train", args.n_train)) if v}
    model, report = train(
        seed=args.seed, progress=not args.no_progress, batch_size=args.batch_size, n_eval=args.n_eval,
        eval_seed=args.eval_seed, **extra,
    )
    report["training"]["command"] = args.command_line
    out = args.out or default_instrument_path(args.kind)
    save_instrument(out, model, report)
    print(json.dumps(report, indent=2))
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def cmd_instruments_evaluate(args) -> int:
    import torch

    from .analysis.instruments import default_instrument_path, load_instrument
    from .analysis.instruments_training import evaluate_face_instrument, evaluate_room_instrument, evaluate_segmenter

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_instrument(args.path or default_instrument_path(args.kind), kind=args.kind)
    evaluate = {"rooms": evaluate_room_instrument, "faces": evaluate_face_instrument}.get(args.kind, evaluate_segmenter)
    print(json.dumps(evaluate(model, n=args.n, seed=args.seed), indent=2))
    return 0


def _add_turn_parser(sub) -> None:
    from .analysis.turn_walk import AXIS_POOL, AXIS_SEED, FRAMES, KEEP_SHARE, SPAN

    p = sub.add_parser("turn", help="the turn vector (paper Fig. 8): does a face walked along it only turn its head?",
                       description="Find the turn axis (mean z of faces the instrument reads as looking right minus those "
                       "looking left), walk a face along it, and read every frame with the face instrument: how "
                       "monotonically the head turns (share of steps turning right, Spearman) and whether the person stays "
                       f"(glasses, smiling, masculine read as the face's own in >= {100 * KEEP_SHARE:.0f}%% of frames), against "
                       "the same walk as a pixel blend of its end images.", formatter_class=DefaultsFormatter)
    p.add_argument("--model", default="faces", help="checkpoint file, run folder, or model name (a 64-px faces model)")
    p.add_argument("--seed", type=int, default=0, help="seed of the face(s) walked: face i is sample_z(faces, seed)[i]")
    p.add_argument("--faces", type=int, default=1, help="faces walked; more than 1 prints the figures over all of them")
    p.add_argument("--frames", type=int, default=FRAMES, help="frames of each walk")
    p.add_argument("--span", type=float, default=SPAN, help="length of the walk in turn vectors, centred on the face")
    p.add_argument("--axis-pool", type=int, default=AXIS_POOL, help="samples labelled to find the turn axis")
    p.add_argument("--axis-seed", type=int, default=AXIS_SEED, help="seed of those samples")
    p.add_argument("--instrument", help="face instrument file (when not given: the shipped models/instruments/faces.safetensors)")
    p.add_argument("--out", metavar="PNG", help="also write the first face's two walks as a PNG: z (top row), pixel blend (bottom)")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_turn)


def cmd_turn(args) -> int:
    import numpy as np

    from .analysis.instruments import default_instrument_path, load_instrument
    from .analysis.labelling import face_instrument_problem
    from .analysis.turn_walk import format_turn, turn_walks
    from .checkpoints import load_model
    from .device import resolve_device
    from .images import image_grid, save_png
    from .registry import resolve_checkpoint

    if args.faces < 1 or args.axis_pool < 1:
        raise ValueError("--faces and --axis-pool must be at least 1")
    model = load_model(resolve_checkpoint(args.model), device=resolve_device(args.device))
    problem = face_instrument_problem(model)
    if model.config.channels != 3:
        raise ValueError(f"{model.path}: {problem}")
    if problem:
        print(f"warning: {model.path}: {problem}", file=sys.stderr)
    instrument = load_instrument(args.instrument or default_instrument_path("faces"), kind="faces")
    summary = turn_walks(model.generator, instrument, faces=args.faces, seed=args.seed, frames=args.frames, span=args.span,
                         axis_pool=args.axis_pool, axis_seed=args.axis_seed, discriminator=model.discriminator,
                         model=f"{model.path} (step {model.checkpoint.step})")
    print(json.dumps(summary.as_dict(), indent=2) if args.json else format_turn(summary))
    if args.out:
        first = summary.walks[0]
        save_png(args.out, image_grid(np.concatenate([first.latent_images, first.pixel_images]), nrow=args.frames))
    return 0


def _add_latent_geometry_parser(sub) -> None:
    from .analysis.latent_geometry import GROUPINGS

    p = sub.add_parser("latent-geometry", help="how linear and convex each face attribute is in z (what vector arithmetic assumes)",
                       description="How linear and convex each face attribute is in a faces model's z (what vector "
                       "arithmetic assumes), read by the face instrument on generated faces.",
                       formatter_class=DefaultsFormatter)
    p.add_argument("--model", default="faces", help="checkpoint file, run folder or model name (a 64-px faces model)")
    p.add_argument("--n", type=int, default=8000, help="labelled samples")
    p.add_argument("--lines", type=int, default=50, help="straight lines between random codes")
    p.add_argument("--means", type=int, default=300, help="means of 3 codes per attribute and side")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and draws")
    p.add_argument("--no-smooth", action="store_true", help="skip the MLP column (the slowest part)")
    p.add_argument("--instrument", help="face instrument file (default: the shipped one)")
    p.add_argument("--by", choices=sorted(GROUPINGS),
                   help="instead: fit each attribute's normal within groups (skin: dark, mid and light thirds of skin tones; "
                   "sex: men and women) and compare them")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_latent_geometry)


def cmd_latent_geometry(args) -> int:
    from .analysis.instruments import default_instrument_path, load_instrument
    from .analysis.latent_geometry import attribute_geometry, format_geometry, format_normals, normals_by
    from .checkpoints import load_model
    from .registry import resolve_checkpoint

    model = load_model(resolve_checkpoint(args.model))
    instrument = load_instrument(args.instrument or default_instrument_path("faces"), kind="faces")
    about = f"{model.path} (step {model.checkpoint.step}), {args.n} samples"
    if args.by:
        groups = normals_by(model.generator, instrument, args.by, n=args.n, seed=args.seed)
        print(json.dumps([asdict(r) for r in groups], indent=2) if args.json else format_normals(groups, about, args.by))
        return 0
    rows = attribute_geometry(model.generator, instrument, n=args.n, lines=args.lines, means=args.means, seed=args.seed,
                              smooth=not args.no_smooth)
    print(json.dumps([asdict(r) for r in rows], indent=2) if args.json else format_geometry(rows, about))
    return 0


def _add_forget_parser(sub) -> None:
    from .analysis.object_removal import PAPER_IMAGES, RANDOM_DRAWS
    from .data.rooms import OBJECT_NAMES

    p = sub.add_parser("forget", help="forgetting to draw an object (paper section 6.3.1): drop the maps of G that draw it, measure",
                       description="Forgetting to draw an object (paper section 6.3.1, Fig. 6): annotate, fit, drop, measure.")
    fsub = p.add_subparsers(dest="forget_command", required=True)
    m = fsub.add_parser("measure", help="annotate (or read annotations), fit, drop maps and measure with the room instrument",
                        formatter_class=DefaultsFormatter,
                        description="Annotate pool images with the room instrument (or read an annotations file), fit a "
                        "logistic regression on G's penultimate layer, drop the maps with positive weight, and measure with "
                        "the room instrument how often the object is gone from fresh samples, against random maps.")
    m.add_argument("--model", required=True, help="model name, run folder or checkpoint (32, 64 or 128 px; the room "
                   "instrument reads other sizes resized to its 64 px)")
    m.add_argument("--object", default="window", choices=OBJECT_NAMES, help="the object to forget")
    m.add_argument("--n-annotate", type=int, default=PAPER_IMAGES, help="pool images auto-annotated by the instrument")
    m.add_argument("--annotations", type=Path, help="an exported annotations file to fit on instead of auto-annotating")
    m.add_argument("--annotator", help="fit on this annotator's boxes of --annotations only (default: every annotator's, "
                   "merged per image: the union of their boxes)")
    m.add_argument("--pool-seed", type=int, default=0, help="seed of the annotated pool")
    m.add_argument("--n", type=int, default=300, help="fresh z's measured")
    m.add_argument("--seed", type=int, default=1, help="seed of the measured z's (not the pool's)")
    m.add_argument("--threshold", type=float, default=0.0,
                   help="drop maps whose relative weight (weight / largest |weight|, in [-1, 1]) exceeds this (paper: 0)")
    m.add_argument("--top-k", type=int, help="drop the k maps with the largest weights instead of a threshold")
    m.add_argument("--random-seed", type=int, default=0, help="seed of the first draw of random control maps")
    m.add_argument("--random-draws", type=int, default=RANDOM_DRAWS, help="draws of random maps averaged in the control")
    m.add_argument("--grid", type=Path, help="write a PNG of 16 z's: normal, fitted maps dropped, random maps dropped")
    m.add_argument("--json", action="store_true", help="print the result as JSON")
    m.add_argument("--threads", type=int, help="torch CPU threads")
    m.set_defaults(func=cmd_forget)
    c = fsub.add_parser("curve", help="how many annotated images are enough: the removal rate against the number fitted on",
                        formatter_class=DefaultsFormatter,
                        description="Fit the window regression on 10, 20, 40, ... images drawn from an annotation set "
                        "(auto-annotated by the room instrument, or a file), several draws each, and measure each fit's "
                        "removal rate against random maps on the same fresh samples. The paper fitted 52 boxes.")
    c.add_argument("--model", required=True, help="model name, run folder or checkpoint (32, 64 or 128 px)")
    c.add_argument("--object", default="window", choices=OBJECT_NAMES, help="the object to forget")
    c.add_argument("--n-annotate", type=int, default=PAPER_IMAGES, help="pool images auto-annotated by the instrument")
    c.add_argument("--annotations", type=Path, help="an exported annotations file instead of auto-annotating")
    c.add_argument("--annotator", help="fit on this annotator's boxes of --annotations only (default: every annotator's, "
                   "merged per image)")
    c.add_argument("--pool-seed", type=int, default=0, help="seed of the annotated pool")
    c.add_argument("--sizes", default="10,20,40,80,150", help="comma-separated numbers of annotated images to fit on")
    c.add_argument("--refits", type=int, default=5, help="draws of the images per size (the spread)")
    c.add_argument("--n", type=int, default=300, help="fresh z's measured")
    c.add_argument("--save", type=Path, help="write the curve as JSON here")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(func=cmd_forget_curve)
    a = fsub.add_parser("agree", help="agreement between annotators, and with the room instrument: image level and boxes",
                        formatter_class=DefaultsFormatter,
                        description="Compare two annotators' annotations of the same pool images: image level (both say "
                        "the object is there, or both say none; percent agreement and Cohen's kappa) and boxes (matched "
                        "one to one at IoU >= --iou; F1, precision, recall, mean IoU). Without --a/--b: every pair of "
                        "annotators. With --instrument: each annotator (or --a) against the room instrument, run now.")
    a.add_argument("--model", required=True, help="model name, run folder or checkpoint the annotations were drawn on")
    a.add_argument("--object", default="window", help="the object annotated")
    a.add_argument("--annotations", type=Path, help="annotations file (ours or COCO) (default: the app's saved "
                   "annotations of this model and object)")
    a.add_argument("--a", help="the first annotator (the reference for precision and recall)")
    a.add_argument("--b", help="the second annotator")
    a.add_argument("--instrument", action="store_true", help="compare with the room instrument instead of --b")
    a.add_argument("--iou", type=float, default=0.5, help="IoU at which two boxes match")
    a.add_argument("--per-image", action="store_true", help="also print a line per compared image")
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    a.set_defaults(func=cmd_forget_agree)


def cmd_forget(args) -> int:
    import torch

    from .analysis import object_removal as removal
    from .analysis.annotations import AnnotationSet
    from .analysis.instruments import default_instrument_path, load_instrument
    from .checkpoints import load_model
    from .registry import resolve_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    path = resolve_checkpoint(args.model)
    loaded = load_model(path)
    instrument = load_instrument(default_instrument_path("rooms"), kind="rooms")
    name, step = removal.annotation_model_name(path), loaded.checkpoint.step
    annotations = None
    if args.annotations:
        identity = removal.ModelIdentity.of(name, loaded.generator, step)
        annotations = AnnotationSet.from_json(args.annotations.read_text(), expect_model=identity,
                                              expect_object=args.object, where=str(args.annotations))
        annotations = annotations.for_fit(args.annotator)  # one record per image: the annotator's, or all merged
    elif args.annotator:
        raise ValueError("--annotator picks one annotator's boxes of an annotations file: pass --annotations too")
    exp = removal.run_experiment(
        name, loaded, instrument, args.object, args.n_annotate, args.n, args.pool_seed, args.seed, args.threshold,
        args.top_k, args.random_seed, annotations, args.random_draws,
    )
    if args.json:
        print(json.dumps(removal.experiment_as_dict(exp, path, step), indent=2))
    else:
        print(removal.format_experiment(exp, path, step, args.seed, args.top_k, args.threshold))
    if args.grid:
        removal.write_removal_grid(args.grid, loaded.generator, exp, args.seed)
        print(f"wrote {args.grid}: rows = normal, fitted maps dropped, random maps dropped (z's 0-15 of seed {args.seed})")
    return 0


def _forget_setup(args):
    """(loaded model, room instrument, the annotation set: the file given, or the pool auto-annotated) for `forget`."""
    from .analysis import object_removal as removal
    from .analysis.annotations import AnnotationSet, pool_z
    from .analysis.instruments import default_instrument_path, load_instrument
    from .checkpoints import load_model
    from .registry import resolve_checkpoint

    path = resolve_checkpoint(args.model)
    loaded = load_model(path)
    instrument = load_instrument(default_instrument_path("rooms"), kind="rooms")
    identity = removal.ModelIdentity.of(removal.annotation_model_name(path), loaded.generator, loaded.checkpoint.step)
    if args.annotations:
        annotations = AnnotationSet.from_json(args.annotations.read_text(), expect_model=identity,
                                              expect_object=args.object, where=str(args.annotations))
        annotations = annotations.for_fit(args.annotator)  # one record per image: the annotator's, or all merged
    elif args.annotator:
        raise ValueError("--annotator picks one annotator's boxes of an annotations file: pass --annotations too")
    else:
        notes = removal.auto_annotate(loaded.generator, instrument, pool_z(loaded.config, args.pool_seed, range(args.n_annotate)),
                                      args.object, seed=args.pool_seed)
        annotations = AnnotationSet(model=identity, object_name=args.object, images=tuple(notes))
    return loaded, instrument, annotations


def cmd_forget_curve(args) -> int:
    from .analysis.annotation_curve import format_curve, removal_curve
    from .files import write_json_atomic

    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    loaded, instrument, annotations = _forget_setup(args)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rfits {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    curve = removal_curve(loaded.generator, instrument, annotations, sizes, args.refits, args.n, progress=progress)
    report = {"model": str(loaded.path), "step": loaded.checkpoint.step, **curve.as_dict()}
    if args.save:
        write_json_atomic(args.save, report)
    print(json.dumps(report, indent=2) if args.json else format_curve(curve))
    return 0


def cmd_forget_agree(args) -> int:
    from .analysis import agreement as agree
    from .analysis.annotations import AnnotationStore, valid_object_name
    from .analysis.coco import read_annotations_file
    from .analysis.instruments import default_instrument_path, load_instrument
    from .analysis.object_removal import ModelIdentity, annotation_model_name
    from .checkpoints import load_model
    from .registry import resolve_checkpoint

    if not valid_object_name(args.object):
        raise ValueError(f"bad --object {args.object!r}: use letters, digits, - and _ (e.g. window)")
    if args.b and args.instrument:
        raise ValueError("--b and --instrument both name what to compare with: give one")
    if bool(args.b) and not args.a:
        raise ValueError("--b needs --a: the two annotators to compare")
    path = resolve_checkpoint(args.model)
    loaded = load_model(path)
    identity = ModelIdentity.of(annotation_model_name(path), loaded.generator, loaded.checkpoint.step)
    if args.annotations:
        notes = read_annotations_file(args.annotations.read_bytes(), identity, args.object, loaded.config,
                                      where=str(args.annotations))
    else:
        notes = AnnotationStore().load(identity, args.object)
    where = str(args.annotations or AnnotationStore().path(identity, args.object))
    if not notes.images:
        raise ValueError(f"no {args.object} annotations in {where}")
    if args.instrument:
        instrument = load_instrument(default_instrument_path("rooms"), kind="rooms")
        names = [args.a] if args.a else list(notes.people)
        if not names:
            raise ValueError(f"{where} has only the instrument's annotations: nobody to compare it with")
        results = [agree.instrument_agreement(loaded.generator, instrument, notes, n, args.iou) for n in names]
    elif args.a and args.b:
        results = [agree.annotator_agreement(notes, args.a, args.b, args.iou)]
    else:  # every pair (with --a: every pair that includes a)
        results = [r for r in agree.all_pairs(notes, args.iou) if not args.a or args.a in (r.a, r.b)]
        if not results:
            raise ValueError(f"{where} has annotations by {', '.join(notes.annotators)} only: agreement needs two "
                             "annotators (or pass --instrument to compare with the room instrument)")
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(f"annotations: {where} ({notes.n_images} images; annotators: {', '.join(notes.annotators)})")
        print(agree.format_agreement(results, per_image=args.per_image))
    return 0


def _add_train_encoder_parser(sub) -> None:
    from .encoder import EncoderTrainConfig

    d = {f.name: f.default for f in fields(EncoderTrainConfig)}
    p = sub.add_parser("train-encoder", help="train an encoder (image -> z) for a model, on its generator's samples",
                       formatter_class=DefaultsFormatter,
                       description="Train a small DCGAN-style encoder E for one generator G, on G's own samples (z from "
                       "the prior, x = G(z)): latent loss ||E(x) - z||^2 plus reconstruction loss (pixels and D's features) "
                       "of G(E(x)). Writes OUT/encoder.safetensors (tied to these G weights), OUT/training_state.safetensors "
                       "(for --resume), metrics.jsonl, reconstructions.png and a model card encoder.md. `dcgan invert` "
                       "finds an encoder by itself at models/NAME/encoder.safetensors.")
    p.add_argument("--model", help="the GAN to invert: a name from `dcgan models`, a run folder or a checkpoint "
                   "(required unless --resume)")
    p.add_argument("--out", help="training folder (default: runs/encoders/NAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--steps", type=int, help=f"total Adam steps (default: {d['steps']})")
    p.add_argument("--batch-size", type=int, help=f"images per step (default: {d['batch_size']})")
    p.add_argument("--nef", type=int, help=f"encoder width, channels of its first block (default: {d['nef']})")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default: {d['lr']})")
    p.add_argument("--latent-weight", type=float, help=f"weight of the latent loss (default: {d['latent_weight']})")
    p.add_argument("--image-weight", type=float, help=f"weight of the reconstruction loss (default: {d['image_weight']})")
    p.add_argument("--feature-weight", type=float,
                   help=f"weight of D's feature distance inside the reconstruction loss, 0: pixels only (default: {d['feature_weight']})")
    p.add_argument("--real-fraction", type=float,
                   help="share of each batch taken from the model's own procedural training renders, seen through the "
                   f"reconstruction loss only; 0: G's samples only (default: {d['real_fraction']})")
    p.add_argument("--real-images", type=int, help=f"training renders prepared for that share (default: {d['real_images']})")
    p.add_argument("--seed", type=int, help=f"seed of E's weights and of the codes (default: {d['seed']})")
    p.add_argument("--log-every", type=int, help=f"steps between metrics records (default: {d['log_every']})")
    p.add_argument("--checkpoint-every", type=int, help=f"steps between checkpoints and validation (default: {d['checkpoint_every']})")
    p.add_argument("--device", help="auto, cpu, cuda or mps (default: auto)")
    p.add_argument("--precision", help="auto (bf16 where the hardware has it), bf16 or fp32 (default: auto)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", dest="progress", action="store_const", const=False, default=None, help="no progress bar")
    p.set_defaults(func=cmd_train_encoder)


def cmd_train_encoder(args) -> int:
    import torch

    from .encoder import ENCODER_FILE, EncoderTrainConfig, EncoderTrainer

    if args.threads:
        torch.set_num_threads(args.threads)
    given = {k: getattr(args, k) for k in ("steps", "batch_size", "nef", "lr", "latent_weight", "image_weight",
                                           "feature_weight", "real_fraction", "real_images", "seed", "log_every",
                                           "checkpoint_every", "device", "precision", "progress")
             if getattr(args, k) is not None}
    if args.resume:
        if not args.out:
            raise ValueError("--resume needs --out, the training folder to continue")
        if args.model:
            given["model"] = args.model
        trainer = EncoderTrainer.resume(args.out, command=args.command_line, **given)
    else:
        if not args.model:
            raise ValueError("give --model, the GAN to train an encoder for (a name from `dcgan models` or a checkpoint)")
        from .encoder import model_name_of
        from .registry import resolve_checkpoint

        out = args.out or str(Path("runs") / "encoders" / model_name_of(resolve_checkpoint(args.model)))
        trainer = EncoderTrainer(EncoderTrainConfig(model=args.model, out_dir=out, **given), command=args.command_line)
    cfg = trainer.config
    print(f"training an encoder for {trainer.model.path} on {trainer.device} ({trainer.precision}), steps {trainer.step} -> "
          f"{cfg.steps}, data: {trainer.real_note()}; folder {trainer.out_dir}", file=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        result = trainer.run()
    except KeyboardInterrupt:
        print(f"\ninterrupted at step {trainer.step}; kept the last checkpoint. Resume with: "
              f"dcgan train-encoder --resume --out {trainer.out_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FloatingPointError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    finally:
        signal.signal(signal.SIGTERM, previous)
    val = trainer.validation
    print(f"done: step {result.step}; encoder {result.encoder} (latent RMSE {val.get('samples_latent_rmse', float('nan')):.3f}, "
          f"image RMSE {val.get('samples_image_rmse', float('nan')):.3f} on G's samples). `dcgan invert` uses it with "
          f"--encoder {result.encoder}, or by itself once copied beside the model as {ENCODER_FILE}")
    return 0


def _add_invert_parser(sub) -> None:
    from .inversion import DEFAULT_BATCH_SIZE, DEFAULT_FEATURE_WEIGHT, DEFAULT_LR, DEFAULT_RESTARTS, DEFAULT_STEPS, METHODS

    p = sub.add_parser("invert", help="find the z of your own images (GAN inversion): codes, reconstructions, errors",
                       formatter_class=DefaultsFormatter,
                       description="Invert images into a model's z. Images are centre-cropped and resized like training "
                       "images (grayscale models take grayscale). Writes OUT/z.npy (float32, one row per image, in the order "
                       "of OUT/index.json, which maps each input file to its row and gives its reconstruction error), "
                       "OUT/errors.csv and OUT/reconstructions.png (originals above reconstructions).")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER", help="image files and folders (every image inside, sorted)")
    p.add_argument("--model", required=True, help="model name, run folder or checkpoint")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--method", default="auto", choices=("auto", *METHODS),
                   help="optimise: Adam on z from random starts; encode: one pass of the model's encoder; hybrid: the "
                   "encoder's code as the start of the optimisation (Zhu et al. 2020). auto: hybrid when the model has "
                   "an encoder, else optimise (with a notice)")
    p.add_argument("--encoder", help="encoder file (default: the one beside the model, e.g. models/NAME/encoder.safetensors)")
    p.add_argument("--steps", type=int, help="Adam steps on z (default: " + ", ".join(f"{m} {s}" for m, s in DEFAULT_STEPS.items()
                                                                                    if s) + ")")
    p.add_argument("--restarts", type=int, help="codes optimised per image, the best kept (default: "
                   + ", ".join(f"{m} {r}" for m, r in DEFAULT_RESTARTS.items() if m != "encode") + ")")
    p.add_argument("--lr", type=float, default=DEFAULT_LR, help="Adam's initial step on z (cosine decay to a tenth)")
    p.add_argument("--feature-weight", type=float, default=DEFAULT_FEATURE_WEIGHT,
                   help="weight of D's feature distance beside the pixel MSE (0: pixels only)")
    p.add_argument("--encoder-weight", type=float, default=0.0, help="hybrid: weight keeping z near the encoder's code")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="images optimised together")
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    p.add_argument("--max-shown", type=int, default=64, help="images shown in reconstructions.png (all are inverted)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_invert)


def cmd_invert(args) -> int:
    import torch
    from tqdm.auto import tqdm

    from .analysis.user_data import model_identity
    from .checkpoints import load_model
    from .device import resolve_device
    from .encoder import default_encoder_path, find_encoder, load_encoder, model_name_of
    from .inversion import invert, prepare_images, write_inversion

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, device=resolve_device(args.device))
    prepared = prepare_images(args.inputs, model.config)  # every input checked before any work
    for note in prepared.notes:
        print(f"note: {note}", file=sys.stderr)
    method = args.method
    encoder_path = Path(args.encoder) if args.encoder else find_encoder(model.path)
    if encoder_path is None and method in ("encode", "hybrid"):
        run = Path("runs") / "encoders" / model_name_of(model.path)
        raise ValueError(f"method {method} needs an encoder and model {args.model} has none (looked for "
                         f"{default_encoder_path(model.path)}); train one with `dcgan train-encoder --model {args.model} "
                         f"--out {run}` and give --encoder {run / 'encoder.safetensors'}, or use --method optimise")
    if method == "auto":
        method = "hybrid" if encoder_path is not None else "optimise"
        if encoder_path is None:
            print(f"note: model {args.model} has no encoder (looked for {default_encoder_path(model.path)}), so the codes "
                  "are found by optimisation alone (slower); `dcgan train-encoder` trains one", file=sys.stderr)
    encoder = None
    if method in ("encode", "hybrid"):
        encoder = load_encoder(encoder_path, generator=model.generator, device=next(model.generator.parameters()).device).encoder
    elif args.encoder:
        print(f"note: --method optimise does not use the encoder {args.encoder}", file=sys.stderr)
    if model.discriminator is None and args.feature_weight > 0:
        print(f"note: {model.path} holds no discriminator: the loss compares pixels only", file=sys.stderr)
    bar = tqdm(total=0, disable=args.no_progress, unit="step", desc=f"invert ({method})", dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        result = invert(model.generator, model.discriminator, prepared.images, method=method, encoder=encoder,
                        steps=args.steps, restarts=args.restarts, lr=args.lr, feature_weight=args.feature_weight,
                        encoder_weight=args.encoder_weight, seed=args.seed, batch_size=args.batch_size, progress=progress)
    finally:
        bar.close()
    written = write_inversion(args.out, prepared, result, model=model_identity(model_name_of(model.path), model).to_dict(),
                              encoder=str(encoder_path) if encoder is not None else None, command=args.command_line,
                              max_shown=args.max_shown)
    errors = result.errors
    print(f"inverted {len(prepared)} images with {method} ({result.steps} steps, {result.restarts} restarts): "
          f"pixel RMSE mean {float(errors.mean()):.3f}, worst {float(errors.max()):.3f} ({prepared.names[int(errors.argmax())]}); "
          f"wrote {', '.join(str(p) for p in written)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dcgan", description="Train, sample and inspect DCGANs.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(sub)
    _add_sample_parser(sub)
    _add_info_parser(sub)
    _add_data_parser(sub)
    _add_import_parser(sub)
    _add_export_parser(sub)
    _add_eval_parser(sub)
    _add_models_parser(sub)
    _add_probe_parser(sub)
    _add_arithmetic_parser(sub)
    _add_turn_parser(sub)
    _add_latent_geometry_parser(sub)
    _add_units_parser(sub)
    _add_dissect_parser(sub)
    _add_collapse_parser(sub)
    _add_dedup_parser(sub)
    _add_forget_parser(sub)
    _add_instruments_parser(sub)
    _add_train_encoder_parser(sub)
    _add_invert_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .safetensors_files import CheckpointError

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = "dcgan " + shlex.join(argv)  # what a saved result records as the command that made it
    try:
        try:
            return args.func(args)
        finally:
            sys.stdout.flush()  # inside the try: a reader that went away is found here, not at exit
    except (ValueError, FileNotFoundError, FileExistsError, CheckpointError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `dcgan info RUN | head`: the reader has all it wanted; stop quietly, like other Unix tools.
        # stdout goes to /dev/null so the interpreter's last flush at exit cannot complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
