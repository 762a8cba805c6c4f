"""The DCGAN training loop: paper settings by default, exact resume, NaN guard.

A run lives in one folder:
    config.json                  the TrainConfig, for people (the checkpoint carries its own copy)
    metrics.jsonl                one JSON record per log interval: losses, D outputs, images/s
    samples/step_000500.png      8x8 grid from a fixed z, every `sample_every` steps
    checkpoints/last.safetensors G, D, both Adam states, step, RNG (written atomically)

Exact resume: batch k and the noise of step k are pure functions of (seed, k), and the
checkpoint holds everything else that changes (weights, BatchNorm statistics, Adam
moments, global RNG), so a run interrupted after a checkpoint and resumed ends with
the same weights as one that never stopped (same device, precision and thread count).

Several processes (torchrun, see `distributed`): G and D are wrapped in DistributedDataParallel,
`batch_size` is per process (global batch = batch_size x processes), each rank trains on its
own slice of step k's global batch with its own noise (seeded by (seed, k, rank)), and rank 0
alone writes files. The step counter is global, so a run resumes with any number of processes.

    from dcgan_core.train import TrainConfig, Trainer
    Trainer(TrainConfig(dataset="rooms", image_size=32, steps=300, out_dir="runs/r32")).run()
    Trainer.resume("runs/r32", steps=600).run()      # continue the same run further
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import __version__, distributed
from .checkpoints import Checkpoint, capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from .data import DATASETS, PROCEDURAL_DATASETS, build_dataset, natural_channels
from .data.loading import InMemoryBatches, StreamingBatches, materialize
from .data.readers import read_exclusion_list
from .device import autocast, describe_device, resolve_device, resolve_precision
from .files import atomic_write, write_json_atomic
from .safetensors_files import CheckpointError, read_metadata
from .averaging import GeneratorAverage
from .images import image_grid, save_png, to_uint8
from .latent import sample_z
from .models import Discriminator, Generator, JsonConfig, ModelConfig

IN_MEMORY_DATASETS = PROCEDURAL_DATASETS + ("cifar10", "mnist", "svhn")
CHECKPOINT_NAME = "last.safetensors"


@dataclass
class TrainConfig(JsonConfig):
    """One training run. Defaults are the paper's (section 4) unless noted."""

    KIND: ClassVar[str] = "training"
    STRICT: ClassVar[bool] = False  # old runs resume

    # data
    dataset: str = "rooms"  # rooms | faces (procedural) | folder | lsun | cifar10 | mnist | svhn (local files)
    data_root: str | None = None  # path of a real data set
    exclude: str | None = None  # folder data set: a file of paths to skip, one per line (e.g. `dcgan dedup --exclude-out`)
    dataset_size: int = 50_000  # images rendered for a procedural data set
    image_size: int = 64  # 32, 64 or 128 px
    channels: int | None = None  # None: the data set's own (MNIST 1, others 3)
    # model
    nz: int = 100  # z size
    ngf: int = 64  # G width (the paper used 128 for 64 px)
    ndf: int = 64  # D width
    z_prior: str = "uniform"  # uniform on [-1, 1] (paper) or normal
    init_from: str | None = None  # fine-tune: start from this model's G and D weights (a name or a path), fresh Adam, step 0
    # optimisation
    batch_size: int = 128  # paper: 128
    lr: float = 2e-4  # paper: 0.0002 (0.001 was too high)
    beta1: float = 0.5  # paper: 0.5 (0.9 oscillated)
    beta2: float = 0.999  # Adam default
    real_label: float = 1.0  # D's target for real images; 0.9 is one-sided label smoothing (Salimans et al. 2016), not the paper's
    instance_noise: float = 0.0  # std of Gaussian noise added to every image D sees (Sonderby et al. 2016), not the paper's
    instance_noise_anneal: int = 0  # > 0: the noise's std falls linearly to 0 at this step (then D sees clean images); 0: constant
    g_ema: float = 0.0  # > 0: keep an average of G's weights with this decay (0.999: about the last 1,000 steps) and draw with it; not the paper's
    hessian_penalty: float = 0.0  # weight of the Hessian Penalty on G (Peebles et al. 2020): one z axis, one effect; not the paper's
    steps: int = 5_000  # total optimisation steps (one D and one G update each)
    seed: int = 0  # weights, data order and noise all follow from it
    # output
    out_dir: str = "runs/default"
    log_every: int = 50  # steps between metrics records (and NaN checks)
    sample_every: int = 500  # steps between sample grids
    checkpoint_every: int = 500  # steps between checkpoints
    # speed
    device: str = "auto"  # auto (CUDA, then MPS, then CPU) | cpu | cuda | cuda:N | mps
    precision: str = "auto"  # auto (bf16 on CUDA and on CPUs with bf16 instructions) | bf16 | fp32
    channels_last: bool = True  # NHWC memory layout: faster convolutions on CPU and GPU
    compile: bool = False  # torch.compile G and D (slow start, faster steps)
    sync_bn: bool = False  # several processes on CUDA: SyncBatchNorm (BN statistics of the global batch, not each share)
    num_workers: int = 2  # DataLoader workers for streamed data sets (folder, lsun)
    progress: bool = True  # show a progress bar

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown data set {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.exclude is not None and self.dataset != "folder":
            raise ValueError(f"--exclude applies to a folder of images (--dataset folder), not to {self.dataset}")
        for name in ("batch_size", "steps", "log_every", "sample_every", "checkpoint_every", "dataset_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not (0 <= self.instance_noise <= 1):
            raise ValueError(f"instance_noise must be in [0, 1] (a std in [-1, 1] pixel units), got {self.instance_noise}")
        if self.instance_noise_anneal < 0:
            raise ValueError(f"instance_noise_anneal must be a step >= 0 (0: constant noise), got {self.instance_noise_anneal}")
        if not (0 <= self.g_ema < 1):
            raise ValueError(f"g_ema must be a decay in [0, 1) (0: off, as in the paper; 0.999 averages about 1,000 steps), got {self.g_ema}")
        if not (0 <= self.hessian_penalty and math.isfinite(self.hessian_penalty)):
            raise ValueError(f"hessian_penalty must be a weight >= 0 (0: off, as in the paper), got {self.hessian_penalty}")
        if not (0.5 < self.real_label <= 1):
            raise ValueError(f"real_label must be in (0.5, 1], got {self.real_label} (1.0 is the paper; 0.9 smooths)")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"Adam betas must be in [0, 1), got ({self.beta1}, {self.beta2})")
        self.model_config()  # validates size, channels, prior

    def model_config(self) -> ModelConfig:
        return ModelConfig(
            image_size=self.image_size,
            nz=self.nz,
            ngf=self.ngf,
            ndf=self.ndf,
            channels=self.channels or natural_channels(self.dataset),
            z_prior=self.z_prior,
        )



def resumed_settings(stored: Mapping, overrides: Mapping, changeable: set[str], out_dir) -> dict:
    """A run's stored train config with `overrides` applied (None keeps the stored value) and its folder set.

    Changing anything outside `changeable` (the model, the data, the optimiser) is refused: the run
    would no longer be the one its checkpoints belong to.
    """
    settings = dict(stored)
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in changeable and settings.get(k) != v:
            raise ValueError(f"cannot change {k} when resuming (the run has {settings.get(k)!r}, asked {v!r})")
        settings[k] = v
    settings["out_dir"] = str(out_dir)
    return settings


def instance_noise_std(cfg: "TrainConfig", step: int) -> float:
    """The instance noise's std at `step` (0: the first): constant, or annealed linearly to 0 at `instance_noise_anneal`.

    Annealing keeps noise's help early, when D would win at once, and takes it away before the end, so
    that D sees, and G stops drawing, the faint speckle that constant noise hides (the faces model's 64-px SWD).
    """
    if cfg.instance_noise_anneal <= 0:
        return cfg.instance_noise
    return cfg.instance_noise * max(0.0, 1.0 - step / cfg.instance_noise_anneal)



class TrainingDiverged(RuntimeError):
    """Losses or weights became NaN/inf; the last good checkpoint is kept."""


class RunFolderError(OSError):
    """The run folder could not be written (full disk, read-only folder...); the message names it and the fix.

    Files are written atomically, so what was written before (the last checkpoint) is intact.
    """


@dataclass
class TrainResult:
    step: int
    out_dir: Path
    checkpoint: Path | None
    last_record: dict | None


def _noise_generator(seed: int, step: int, device: torch.device, rank: int = 0) -> torch.Generator:
    """The noise of step k depends only on (seed, k): this is what makes resume exact.

    With several processes rank r > 0 draws its own noise from (seed, k, r); rank 0 keeps the
    single-process stream.
    """
    g = torch.Generator(device=device)
    if rank == 0:
        g.manual_seed((seed * 2_000_003 + step * 104_729 + 77) % (2**63))
    else:
        digest = hashlib.blake2b(f"noise/{seed}/{step}/{rank}".encode(), digest_size=8).digest()
        g.manual_seed(int.from_bytes(digest, "little") % (2**63))
    return g


HESSIAN_CODES = 32  # codes of each step's batch the Hessian Penalty is taken at
HESSIAN_DIRECTIONS = 2  # Rademacher directions per code (the penalty is their variance: at least 2)
HESSIAN_EPSILON = 0.1  # finite-difference step along each direction


def hessian_penalty(generator, z: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
    """The Hessian Penalty (Peebles et al. 2020) of G's output with respect to z, in fp32.

    For Rademacher directions v, v^T H v = sum_ij v_i v_j H_ij; its variance over v is a multiple of the
    squared off-diagonal entries of the Hessian, so driving it to zero asks each z coordinate to change the
    image without interacting with the others: one factor per axis instead of a curved mix. Estimated by
    central differences (G(z + ev) - 2 G(z) + G(z - ev)) / e^2, all 2k + 1 batches in one forward so
    BatchNorm normalises them alike; the largest variance over output pixels, averaged over codes.
    """
    z = z[:HESSIAN_CODES]
    v = torch.randint(0, 2, (HESSIAN_DIRECTIONS, *z.shape), device=z.device, generator=noise).mul_(2).sub_(1)
    v = v.to(z.dtype).mul_(HESSIAN_EPSILON)
    batch = torch.cat([z, *(z + d for d in v), *(z - d for d in v)])
    out = generator(batch).float().unflatten(0, (2 * HESSIAN_DIRECTIONS + 1, z.shape[0]))
    centre, plus, minus = out[0], out[1 : 1 + HESSIAN_DIRECTIONS], out[1 + HESSIAN_DIRECTIONS :]
    second = (plus - 2 * centre + minus) / HESSIAN_EPSILON**2  # (k, n, C, H, W): v^T H v per output pixel
    return second.var(dim=0).flatten(1).amax(dim=1).mean()


def _make_adam(params, cfg: TrainConfig, device: torch.device) -> torch.optim.Adam:
    """Adam with the paper's settings; fused kernels where this torch has them for the device."""
    params = list(params)
    kwargs = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    if device.type in ("cuda", "cpu"):
        try:
            return torch.optim.Adam(params, fused=True, **kwargs)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.Adam(params, foreach=True, **kwargs)


def _match_state_layout(opt: torch.optim.Optimizer) -> None:
    """Give Adam's moments the memory layout (e.g. channels_last) of their parameters.

    Checkpoints store tensors contiguous; the fused Adam kernel walks param, grad and
    moments as raw memory, so a layout mismatch after loading silently changes results.
    """
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state.get(p, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == p.shape:
                    state[key] = torch.empty_like(p).copy_(value)


def _check_moment_shapes(opt: torch.optim.Optimizer, path: Path) -> None:
    """Adam's stored moments must have their parameters' shapes (else training would fail steps later)."""
    for group in opt.param_groups:
        for p in group["params"]:
            for key, value in opt.state.get(p, {}).items():
                if torch.is_tensor(value) and value.dim() > 0 and value.shape != p.shape:
                    raise CheckpointError(f"{path} is damaged: optimizer state {key} has shape {tuple(value.shape)} "
                                          f"for a weight of shape {tuple(p.shape)}")


class Trainer:
    """Runs one training run; `add_callback` hooks in logging or UI without new flags.

    Events: "on_log" (trainer, record), "on_sample" (trainer, png_path),
    "on_checkpoint" (trainer, path), "on_step_end" (trainer).
    """

    def __init__(self, config: TrainConfig, _checkpoint: Checkpoint | None = None):
        self.config = cfg = config
        self.out_dir = Path(cfg.out_dir)
        self.checkpoint_path = self.out_dir / "checkpoints" / CHECKPOINT_NAME
        if _checkpoint is None and self.checkpoint_path.exists():
            raise FileExistsError(
                f"{self.out_dir} already holds a run (at step {self._stored_step(self.checkpoint_path)}); "
                f"resume it with `dcgan train --resume {self.out_dir}` or choose another --out"
            )
        distributed.check_joined()
        if cfg.hessian_penalty > 0 and distributed.world_size() > 1:
            raise ValueError("--hessian-penalty runs in one process only for now (it calls G twice per step, "
                             "which DistributedDataParallel does not average); launch without torchrun")
        self.device = distributed.local_device(resolve_device(cfg.device))  # cuda:LOCAL_RANK under torchrun
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.precision = resolve_precision(cfg.precision, self.device)
        self.model_config = cfg.model_config()
        self.callbacks: dict[str, list[Callable]] = defaultdict(list)

        torch.manual_seed(cfg.seed)
        self.generator = Generator(self.model_config)
        self.discriminator = Discriminator(self.model_config)
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.generator.to(self.device, memory_format=memory_format)
        self.discriminator.to(self.device, memory_format=memory_format)
        self.opt_g = _make_adam(self.generator.parameters(), cfg, self.device)
        self.opt_d = _make_adam(self.discriminator.parameters(), cfg, self.device)
        self.step = 0
        self.train_seconds = 0.0
        self.images_seen = 0  # counted, not step x batch: a resumed run may use another number of processes
        if _checkpoint is not None:
            self._load_state(_checkpoint)
        elif cfg.init_from:
            self._load_initial_weights(cfg.init_from)
        self.average = self._start_average(_checkpoint)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        # the training step calls G and D through DDP when several processes train; samples and
        # checkpoints use self.generator / self.discriminator, the plain modules inside
        g = distributed.wrap(self.generator, self.device, cfg.sync_bn)
        self.d_wrapped = distributed.wrap(self.discriminator, self.device, cfg.sync_bn)
        self.g_step = torch.compile(g) if cfg.compile else g
        self.d_step = torch.compile(self.d_wrapped) if cfg.compile else self.d_wrapped
        self.fixed_z = sample_z(64, self.model_config, seed=cfg.seed + 1, device=self.device)
        self.batches = None  # built lazily in run(): data preparation can be slow
        self.last_record: dict | None = None

    # ---- construction ---------------------------------------------------------------
    @classmethod
    def resume(cls, out_dir: str | Path, **overrides) -> Trainer:
        """Continue the run in `out_dir` from its last checkpoint.

        `overrides` may change fields that do not alter the model (steps, device,
        intervals, progress...); the rest must match the stored run.
        """
        path = Path(out_dir) / "checkpoints" / CHECKPOINT_NAME
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint to resume at {path}; start a new run without --resume")
        ckpt = load_checkpoint(path)
        if not ckpt.is_training_state or ckpt.train_config is None:
            raise ValueError(f"{path} holds weights only (no optimizer state), so it cannot be resumed exactly")
        changeable = {"steps", "device", "precision", "log_every", "sample_every", "checkpoint_every",
                      "num_workers", "progress", "compile", "data_root", "sync_bn", "g_ema"}
        config = TrainConfig.from_dict(resumed_settings(ckpt.train_config, overrides, changeable, out_dir))
        if config.model_config() != ckpt.model_config:  # checked before the networks are built from it
            raise CheckpointError(f"{path} is damaged: its train config describes another model "
                                  f"({config.model_config()}) than its model config ({ckpt.model_config})")
        return cls(config, _checkpoint=ckpt)

    def _load_state(self, ckpt: Checkpoint) -> None:
        self.generator.load_state_dict(ckpt.generator)
        self.discriminator.load_state_dict(ckpt.discriminator)
        self.opt_g.load_state_dict(ckpt.optimizers["generator"])
        self.opt_d.load_state_dict(ckpt.optimizers["discriminator"])
        for opt in (self.opt_g, self.opt_d):
            _check_moment_shapes(opt, self.checkpoint_path)
            _match_state_layout(opt)
        if ckpt.rng is not None:
            restore_rng_state(ckpt.rng)
        self.step = ckpt.step
        self.train_seconds = float(ckpt.meta.get("train_seconds", 0.0))
        self.images_seen = int(ckpt.meta.get("images_seen", ckpt.step * self.config.batch_size))

    def _start_average(self, ckpt: Checkpoint | None) -> GeneratorAverage | None:
        """The average of G's weights (--g-ema): continued from the checkpoint's, or started from today's G.

        A run resumed with --g-ema that had none starts its average at the resumed step (the card says from which).
        """
        cfg = self.config
        if cfg.g_ema <= 0:
            return None
        if ckpt is not None and ckpt.generator_ema:
            since = int(ckpt.meta.get("g_ema_since", 0))
            average = GeneratorAverage(self.generator, cfg.g_ema, updates=int(ckpt.meta.get("g_ema_updates", 0)),
                                       since=since, warm_up=since == 0 and not cfg.init_from)
            average.load_state_dict(ckpt.generator_ema)
            return average
        # an untrained G is forgotten quickly (warm-up); a trained one (resumed, --init-from) is a fair start
        return GeneratorAverage(self.generator, cfg.g_ema, since=self.step, warm_up=self.step == 0 and not cfg.init_from)

    def _load_initial_weights(self, name_or_path: str) -> None:
        """Fine-tuning: G and D from a trained model whose architecture matches this run's; Adam and the step start afresh."""
        from .registry import resolve_checkpoint

        path = resolve_checkpoint(name_or_path)
        ckpt = load_checkpoint(path)
        theirs, ours = ckpt.model_config.to_dict(), self.model_config.to_dict()
        differ = [f"{k} {theirs.get(k)!r} (this run: {v!r})" for k, v in ours.items() if theirs.get(k) != v]
        if differ:
            raise ValueError(f"--init-from {name_or_path}: its architecture differs from this run's in {', '.join(differ)}; "
                             "give this run the same settings (e.g. --ngf, --ndf, --nz, --image-size)")
        if ckpt.discriminator is None:
            raise ValueError(f"--init-from {name_or_path}: {path} holds no discriminator, so training cannot continue from it")
        self.generator.load_state_dict(ckpt.generator)
        self.discriminator.load_state_dict(ckpt.discriminator)

    def add_callback(self, event: str, fn: Callable) -> None:
        if event not in ("on_log", "on_sample", "on_checkpoint", "on_step_end"):
            raise ValueError(f"unknown event {event!r}")
        self.callbacks[event].append(fn)

    def _fire(self, event: str, *args) -> None:
        for fn in self.callbacks[event]:
            fn(self, *args)

    # ---- data -----------------------------------------------------------------------
    def _build_batches(self):
        cfg = self.config
        ds = build_dataset(
            cfg.dataset,
            root=cfg.data_root,
            image_size=cfg.image_size,
            channels=cfg.channels,
            length=cfg.dataset_size,
            seed=cfg.seed,
            exclude=read_exclusion_list(cfg.exclude) if cfg.exclude else None,
        )
        if cfg.dataset in IN_MEMORY_DATASETS:
            key = None
            if cfg.dataset in PROCEDURAL_DATASETS:
                key = f"{cfg.dataset}-{cfg.image_size}px-seed{cfg.seed}-n{cfg.dataset_size}"
            images = materialize(ds, cache_key=key, progress=cfg.progress and distributed.is_main())
            return InMemoryBatches(images, cfg.batch_size, cfg.seed, self.device, self.rank, self.world_size)
        return StreamingBatches(ds, cfg.batch_size, cfg.seed, self.device, num_workers=cfg.num_workers,
                                rank=self.rank, world_size=self.world_size)

    # ---- the loop -------------------------------------------------------------------
    def _train_step(self, real: torch.Tensor, step: int) -> tuple[torch.Tensor, ...]:
        cfg, mc = self.config, self.model_config
        n = real.shape[0]
        g = _noise_generator(cfg.seed, step, self.device, self.rank)
        if mc.z_prior == "uniform":
            z = torch.rand(n, mc.nz, 1, 1, device=self.device, generator=g).mul_(2).sub_(1)
        else:
            z = torch.randn(n, mc.nz, 1, 1, device=self.device, generator=g)
        noise_real = noise_fake = None
        noise_std = instance_noise_std(cfg, step)
        if noise_std > 0:
            # Flat-coloured data (the procedural faces: 86% of neighbouring pixels are equal) let D
            # separate real from fake by any speckle at all; the same noise on both hides that cue.
            shape = (n, *real.shape[1:])
            noise_real = torch.randn(shape, device=self.device, generator=g).mul_(noise_std)
            noise_fake = torch.randn(shape, device=self.device, generator=g).mul_(noise_std)
        ones = torch.ones(n, device=self.device)
        zeros = torch.zeros(n, device=self.device)
        real_targets = ones if cfg.real_label == 1.0 else torch.full((n,), cfg.real_label, device=self.device)

        # (1) Update D: maximise log D(x) + log(1 - D(G(z)))
        with autocast(self.device, self.precision):
            fake = self.g_step(z)
            d_real_in, d_fake_in = (real, fake) if noise_real is None else (real + noise_real, fake + noise_fake)
            out_real = self.d_step(d_real_in)
            out_fake = self.d_step(d_fake_in.detach())
            loss_d = F.binary_cross_entropy_with_logits(out_real.float(), real_targets) + F.binary_cross_entropy_with_logits(
                out_fake.float(), zeros
            )
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # (2) Update G: maximise log D(G(z)) (the non-saturating loss of the GAN paper). D's gradients
        # from this pass are discarded, so DDP need not average them (no_sync); G's are averaged.
        with distributed.no_sync(self.d_wrapped), autocast(self.device, self.precision):
            out_gen = self.d_step(d_fake_in)
            loss_g = F.binary_cross_entropy_with_logits(out_gen.float(), ones)
        if cfg.hessian_penalty > 0:  # fp32: second differences of bf16 images would be rounding noise
            loss_g = loss_g + cfg.hessian_penalty * hessian_penalty(self.g_step, z, g)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if self.average is not None:
            self.average.update(self.generator)
        return (
            loss_d.detach(),
            loss_g.detach(),
            torch.sigmoid(out_real.detach().float()).mean(),
            torch.sigmoid(out_fake.detach().float()).mean(),
        )

    def run(self) -> TrainResult:
        """Train from the current step to `config.steps`; returns where it stopped."""
        cfg = self.config
        main = distributed.is_main()  # rank 0 alone writes files and shows progress
        if main:
            with self._writing():
                self.out_dir.mkdir(parents=True, exist_ok=True)
                write_json_atomic(self.out_dir / "config.json", cfg.to_dict())
                self._truncate_metrics(self.step)
        if self.batches is None:
            with distributed.main_first():  # rank 0 renders and caches a procedural set; the others read the cache
                self.batches = self._build_batches()
        if self.step >= cfg.steps:
            return TrainResult(self.step, self.out_dir, self._existing_checkpoint(), None)
        self.generator.train()
        self.discriminator.train()
        sums = torch.zeros(4, device=self.device)  # loss_d, loss_g, D(x), D(G(z)); summed on device, no syncs
        n_summed = 0
        interval_start, interval_step = time.perf_counter(), self.step
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not (cfg.progress and main), unit="step", desc="train",
                   dynamic_ncols=True)
        batches = self.batches.iterate(self.step)
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        try:
            while self.step < cfg.steps:
                real = next(batches).contiguous(memory_format=memory_format)
                stats = self._train_step(real, self.step)
                sums += torch.stack(stats)
                n_summed += 1
                self.step += 1
                self.images_seen += cfg.batch_size * self.world_size
                bar.update(1)
                done = self.step == cfg.steps
                ckpt_due = self.step % cfg.checkpoint_every == 0 or done
                if self.step % cfg.log_every == 0 or ckpt_due:
                    now = time.perf_counter()
                    with self._writing():
                        record = self._log(sums, n_summed, now - interval_start, self.step - interval_step)
                    self.train_seconds += now - interval_start
                    bar.set_postfix(
                        loss_d=f"{record['loss_d']:.3f}", loss_g=f"{record['loss_g']:.3f}", img_s=f"{record['img_per_s']:.0f}"
                    )
                    sums.zero_()
                    n_summed = 0
                    interval_start, interval_step = time.perf_counter(), self.step
                if (self.step % cfg.sample_every == 0 or done) and main:
                    with self._writing():
                        grid = self.write_samples()
                    self._fire("on_sample", grid)
                if ckpt_due:
                    with self._writing():
                        path = self.save()
                    if main:
                        self._fire("on_checkpoint", path)
                self._fire("on_step_end")
        finally:
            bar.close()
            self._report_skipped_files()
        return TrainResult(self.step, self.out_dir, self.checkpoint_path, self.last_record)

    def _report_skipped_files(self) -> None:
        """Say once, at the end, how many unreadable files a streamed data set skipped (in this process)."""
        dataset = getattr(self.batches, "dataset", None)
        if dataset is not None and getattr(dataset, "skipped_count", 0):
            tqdm.write(dataset.skipped_report())

    def _log(self, sums: torch.Tensor, n: int, seconds: float, steps: int) -> dict:
        # the one host-device sync per interval; averaged over the processes, so every rank takes the same decisions
        values = (distributed.mean_over_ranks(sums) / max(n, 1)).tolist()
        record = {
            "step": self.step,
            "loss_d": values[0],
            "loss_g": values[1],
            "d_real": values[2],
            "d_fake": values[3],
            "img_per_s": steps * self.config.batch_size * self.world_size / max(seconds, 1e-9),
            "images_seen": self.images_seen,
            "time": time.time(),
        }
        if not all(math.isfinite(v) for v in values):
            raise TrainingDiverged(
                f"losses became NaN/inf between steps {self.step - n + 1} and {self.step} "
                f"(loss_d={values[0]}, loss_g={values[1]}); stopped without saving. "
                f"{self._last_good_message()} Try a lower --lr or --precision fp32."
            )
        self.last_record = record
        if not distributed.is_main():
            return record
        with open(self.out_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        self._fire("on_log", record)
        return record

    def _last_good_message(self) -> str:
        path = self._existing_checkpoint()
        if path is None:
            return "No checkpoint was written before that."
        return f"The last good checkpoint is {path} (step {self._stored_step(path)})."

    @staticmethod
    def _stored_step(path: Path) -> str:
        """A checkpoint's step from its header (no tensors read); '?' when the header cannot be read."""
        try:
            return str(int(read_metadata(path).get("step", 0)))
        except (ValueError, OSError):
            return "?"

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a failed write into the run folder into one RunFolderError that names the folder and the fix."""
        try:
            yield
        except RunFolderError:
            raise
        except OSError as e:
            raise RunFolderError(self._write_failure_message(e)) from e

    def _write_failure_message(self, e: OSError) -> str:
        what = e.filename2 or e.filename or self.out_dir
        reason = e.strerror or str(e) or type(e).__name__
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            fix = f"free some space on the disk of {self.out_dir}"
        elif e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            fix = f"make {self.out_dir} writable"
        elif e.errno == errno.EISDIR:
            fix = f"move the folder {what} out of the way"
        else:
            fix = f"check that {self.out_dir} is a writable folder"
        last = self._existing_checkpoint()
        then = (f"then continue from the last checkpoint (step {self._stored_step(last)}, intact) with "
                f"`dcgan train --resume {self.out_dir}`" if last else "then start the run again (no checkpoint was written yet)")
        return f"cannot write {what} ({reason}) at step {self.step}; {fix}, {then}"

    def _existing_checkpoint(self) -> Path | None:
        return self.checkpoint_path if self.checkpoint_path.exists() else None

    def _truncate_metrics(self, step: int) -> None:
        """On resume, drop records written after the checkpoint: they will be written again."""
        path = self.out_dir / "metrics.jsonl"
        if not path.exists():
            return
        keep = []
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    keep.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut by a crash
        with atomic_write(path, "w") as f:
            f.write("".join(k + "\n" for k in keep))

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """G in eval mode (BatchNorm running statistics, as the app uses it); restores train mode.

        With --g-ema the average of G's weights draws, as the exported model will.
        """
        if self.average is not None:
            with autocast(self.device, self.precision):
                return self.average.generator()(z).float()
        was_training = self.generator.training
        self.generator.eval()
        try:
            with autocast(self.device, self.precision):
                return self.generator(z).float()
        finally:
            self.generator.train(was_training)

    def write_samples(self) -> Path:
        path = self.out_dir / "samples" / f"step_{self.step:06d}.png"
        save_png(path, image_grid(to_uint8(self.generate(self.fixed_z)), nrow=8))
        return path

    def save(self) -> Path:
        """Write the full training state atomically, refusing to overwrite a good one with NaN weights.

        With several processes every rank checks (their weights are identical, so they agree), rank 0
        writes from the plain modules (the file loads in a single process) and the others wait for it.
        """
        params = list(self.generator.parameters()) + list(self.discriminator.parameters())
        if not bool(torch.stack([p.detach().isfinite().all() for p in params]).all()):
            raise TrainingDiverged(
                f"weights became NaN/inf by step {self.step}; stopped without saving. "
                f"{self._last_good_message()} Try a lower --lr or --precision fp32."
            )
        if not distributed.is_main():
            distributed.barrier()
            return self.checkpoint_path
        average = {}
        if self.average is not None:
            average = {"g_ema_updates": self.average.updates, "g_ema_since": self.average.since}
        ckpt = Checkpoint(
            model_config=self.model_config,
            generator=self.generator.state_dict(),
            generator_ema=self.average.state_dict() if self.average is not None else None,
            discriminator=self.discriminator.state_dict(),
            step=self.step,
            train_config=self.config.to_dict(),
            meta={
                **average,
                "dataset": self.config.dataset,
                "images_seen": self.images_seen,
                "processes": self.world_size,
                "train_seconds": round(self.train_seconds, 3),
                "device": describe_device(self.device),
                "precision": self.precision,
                "torch": torch.__version__,
                "dcgan_explorer": __version__,
            },
            optimizers={"generator": self.opt_g.state_dict(), "discriminator": self.opt_d.state_dict()},
            rng=capture_rng_state(),
        )
        save_checkpoint(self.checkpoint_path, ckpt)
        distributed.barrier()
        return self.checkpoint_path


def train(config: TrainConfig) -> TrainResult:
    """Start a new run (see `Trainer` for resuming and callbacks)."""
    return Trainer(config).run()
