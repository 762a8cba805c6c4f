"""An encoder E: image -> z for one generator, trained on G's own samples; its files; its training loop.

E mirrors D (strided convolutions, BatchNorm except on the input block, LeakyReLU 0.2) and ends
in a 4x4 convolution to nz numbers, squashed by tanh into the uniform prior's support [-1, 1]:

    64 px: channels x 64 x 64 -> nef x 32 x 32 -> (nef*2) x 16 x 16 -> (nef*4) x 8 x 8 -> (nef*8) x 4 x 4 -> nz

It is trained with G and D frozen in eval mode, on codes z drawn from the prior and their images x = G(z):

    loss = latent_weight * ||E(x) - z||^2                              (E finds the code G used)
         + image_weight  * reconstruction_loss(G(E(x)), x, D)           (G redraws the picture from E's code)

where `inversion.reconstruction_loss` is pixel MSE plus D's relative feature distances. A share
`real_fraction` of each batch can be training images of the GAN's own procedural data set (its
training seed, never a held-out one), seen through the image term only: E then also meets
pictures G cannot draw exactly, which is what it will be given.

Files are safetensors with a JSON header, like checkpoints: the encoder config, the identity of
the generator it inverts (name, SHA-256 fingerprint of G's config and fp16-rounded weights, step),
and a report of its training. Loading checks the header (format, config ranges, every weight's
shape) before any tensor is built, the tensor bytes against their checksum, and, given G, that
the encoder was made for exactly these weights.

Where encoders live: beside the model they invert (`default_encoder_path`), found by
`find_encoder`: models/NAME/encoder.safetensors, RUN/encoder.safetensors, or X.encoder.safetensors
beside a checkpoint file X.safetensors.

    trainer = EncoderTrainer(EncoderTrainConfig(model="faces", out_dir="runs/encoders/faces", steps=4000))
    trainer.run()                                           # RUN/encoder.safetensors (fp16), RUN/training_state.safetensors
    EncoderTrainer.resume("runs/encoders/faces", steps=6000).run()
    loaded = load_encoder("runs/encoders/faces/encoder.safetensors", generator=load_model("faces").generator)
    z = loaded.encoder(images)                              # (N, nz) in [-1, 1]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import __version__
from .checkpoints import LoadedModel, generator_fingerprint, load_model
from .device import autocast, describe_device, resolve_device, resolve_precision
from .files import atomic_write, write_bytes_atomic
from .images import image_grid, pixels_to_unit, png_bytes, to_uint8
from .inversion import reconstruction_loss
from .train import resumed_settings
from .models import (MAX_NZ, MAX_WIDTH, Generator, JsonConfig, ModelConfig, _is_whole, blocks_to_4px, check_pictures_and_prior,
                     init_dcgan_weights)
from .safetensors_files import (
    CheckpointError,
    SafetensorsHeader,
    check_weights_fit,
    read_checked_safetensors,
    safetensors_with_checksum,
)

FORMAT = "dcgan-explorer-encoder/1"
ENCODER_FILE = "encoder.safetensors"  # the usable encoder in a training folder (and beside a model)
TRAINING_STATE_FILE = "training_state.safetensors"  # encoder + Adam state + step: what --resume reads
CARD_FILE = "encoder.md"


class EncoderMismatch(CheckpointError):
    """An encoder made for other weights than the generator it is asked to invert."""


# ----------------------------------------------------------------------------- the network


@dataclass(frozen=True)
class EncoderConfig(JsonConfig):
    """Everything needed to rebuild E; stored in every encoder file."""

    KIND: ClassVar[str] = "encoder"

    image_size: int = 64  # 32, 64 or 128 px: the generator's
    channels: int = 3  # 1 (grayscale) or 3 (RGB): the generator's
    nz: int = 100  # size of the codes it makes: the generator's
    nef: int = 32  # width: channels of E's first block (doubling towards z, like D's ndf)
    z_prior: str = "uniform"  # the generator's prior: "uniform" ends in tanh (codes in [-1, 1]); "normal" is unbounded

    def __post_init__(self) -> None:
        check_pictures_and_prior(self.image_size, self.channels, self.z_prior)
        for name, top in (("nz", MAX_NZ), ("nef", MAX_WIDTH)):
            value = getattr(self, name)
            if not _is_whole(value) or not 1 <= value <= top:
                raise ValueError(f"{name} must be a whole number between 1 and {top}, got {value!r}")

    @classmethod
    def for_model(cls, config: ModelConfig, nef: int = 32) -> EncoderConfig:
        """The encoder shape that fits a generator's config."""
        return cls(image_size=config.image_size, channels=config.channels, nz=config.nz, nef=nef, z_prior=config.z_prior)

    def fits(self, config: ModelConfig) -> bool:
        return (self.image_size, self.channels, self.nz, self.z_prior) == (config.image_size, config.channels, config.nz,
                                                                         config.z_prior)

    @property
    def num_blocks(self) -> int:
        """Strided blocks down to 4x4: 3 at 32 px, 4 at 64 px, 5 at 128 px."""
        return blocks_to_4px(self.image_size)


class Encoder(nn.Module):
    """Images (N, channels, S, S) in [-1, 1] -> codes (N, nz), inside [-1, 1] for a uniform prior.

    At 64 px: channels x 64 x 64 -> nef x 32 x 32 (no BatchNorm) -> (nef*2) x 16 x 16 -> (nef*4) x 8 x 8
        -> (nef*8) x 4 x 4 -> nz (a 4x4 convolution, with bias) -> tanh
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        widths = [config.nef * 2**i for i in range(config.num_blocks)]
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(config.channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2))]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)))
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(widths[-1], config.nz, 4, 1, 0)  # (nef*8) x 4 x 4 -> nz x 1 x 1
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.config.channels, self.config.image_size, self.config.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"images must have shape (N, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        z = self.head(self.blocks(x)).flatten(1)
        return torch.tanh(z) if self.config.z_prior == "uniform" else z


def expected_encoder_weights(config: EncoderConfig) -> dict[str, tuple[tuple[int, ...], bool]]:
    """{"encoder.<name>": (shape, is float)} of the encoder `config` builds, without allocating (meta device)."""
    with torch.device("meta"):
        net = Encoder(config)
    return {f"encoder.{k}": (tuple(v.shape), v.is_floating_point()) for k, v in net.state_dict().items()}


# ----------------------------------------------------------------------------- which generator


def generator_identity(name: str, model: LoadedModel) -> dict:
    """What an encoder file records about the generator it inverts: name (for people), fingerprint (for the machine)."""
    return {
        "name": str(name),
        "fingerprint": generator_fingerprint(model.generator),
        "step": int(model.checkpoint.step),
        "model_config": model.config.to_dict(),
        "checkpoint": str(model.path),
    }


def check_generator(loaded: LoadedEncoder, generator: Generator, where: str | Path | None = None) -> None:
    """Raise EncoderMismatch unless `loaded` was trained for exactly these generator weights."""
    mine = loaded.generator
    where = where or loaded.path
    if not loaded.config.fits(generator.config):
        raise EncoderMismatch(f"encoder {where} makes codes for a {loaded.config.image_size}-px model with nz "
                              f"{loaded.config.nz}; this model is {generator.config.image_size} px with nz {generator.config.nz}")
    if mine.get("fingerprint") != generator_fingerprint(generator):
        raise EncoderMismatch(
            f"encoder {where} was trained for model {mine.get('name', '?')!r} (step {mine.get('step', '?')}, weights "
            f"{str(mine.get('fingerprint', '?'))[:12]}), not for these weights; train one for this model with "
            "`dcgan train-encoder --model NAME --out DIR`"
        )


def model_name_of(checkpoint: str | Path) -> str:
    """The name people know a model file by: its run folder (RUN/checkpoints/x), model folder (NAME/model.safetensors) or stem."""
    checkpoint = Path(checkpoint)
    if checkpoint.parent.name == "checkpoints":
        return checkpoint.parent.parent.name
    return checkpoint.parent.name if checkpoint.stem == "model" else checkpoint.stem


def default_encoder_path(checkpoint: str | Path) -> Path:
    """Where the encoder of a model file lives: models/NAME/encoder.safetensors beside NAME/model.safetensors,
    RUN/encoder.safetensors for RUN/checkpoints/last.safetensors, else X.encoder.safetensors beside X.safetensors."""
    checkpoint = Path(checkpoint)
    if checkpoint.name == "model.safetensors":
        return checkpoint.parent / ENCODER_FILE
    if checkpoint.parent.name == "checkpoints":
        return checkpoint.parent.parent / ENCODER_FILE
    return checkpoint.with_name(checkpoint.name.removesuffix(".safetensors") + ".encoder.safetensors")


def find_encoder(checkpoint: str | Path) -> Path | None:
    """The encoder beside a model file (`default_encoder_path`), or None when there is none."""
    path = default_encoder_path(checkpoint)
    return path if path.is_file() else None


# ----------------------------------------------------------------------------- files


@dataclass
class LoadedEncoder:
    """An encoder file's network (in eval mode, no gradients) and what it says about itself."""

    encoder: Encoder
    config: EncoderConfig
    generator: dict  # identity of the generator it inverts (see `generator_identity`)
    step: int
    train_config: dict | None
    report: dict  # how it was trained and how it scored
    path: Path
    optimizer: dict | None = None  # Adam's state_dict, in a training-state file only


def save_encoder(
    path: str | Path,
    encoder: Encoder,
    generator: dict,
    *,
    step: int = 0,
    train_config: dict | None = None,
    report: dict | None = None,
    optimizer: dict | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write an encoder file atomically; with `optimizer` it can be resumed. `dtype` float16 halves a shipped file
    (2.2 MB at nef 32); loading gives float32 back."""
    tensors = {f"encoder.{k}": v.detach().cpu().to(dtype).contiguous() if v.is_floating_point() else v.detach().cpu().contiguous()
               for k, v in encoder.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "encoder_config": json.dumps(encoder.config.to_dict()),
        "generator": json.dumps(generator),
        "step": str(int(step)),
        "train_config": json.dumps(train_config),
        "report": json.dumps(report or {}),
    }
    if optimizer is not None:
        for pid, pstate in optimizer["state"].items():
            for key, value in pstate.items():
                value = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"optim.state.{pid}.{key}"] = value.detach().cpu().contiguous()
        metadata["optim.param_groups"] = json.dumps(optimizer["param_groups"])
    write_bytes_atomic(path, safetensors_with_checksum(tensors, metadata))


def _check_encoder_header(header: SafetensorsHeader) -> EncoderConfig:
    if header.metadata.get("format") != FORMAT:
        raise CheckpointError(f"{header.path} is a safetensors file but not a dcgan-explorer encoder (no '{FORMAT}' format tag)")
    try:
        config = EncoderConfig.from_dict(json.loads(header.metadata["encoder_config"]))
        generator = json.loads(header.metadata["generator"])
        if not isinstance(generator, dict):
            raise ValueError("its generator entry is not a JSON object")
    except KeyError as e:
        raise CheckpointError(f"{header.path} is damaged: its header has no {e.args[0]}") from None
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{header.path} has an impossible encoder header ({e}); the file is damaged") from None
    check_weights_fit(header, expected_encoder_weights(config), f"encoder config (nef {config.nef}, nz {config.nz}, "
                      f"{config.image_size} px)", prefixes=("encoder.",))
    return config


def load_encoder(path: str | Path, generator: Generator | None = None, device: torch.device | str = "cpu") -> LoadedEncoder:
    """Read an encoder file, checked before any tensor is built; with `generator`, refuse one made for other weights.

    Raises CheckpointError (EncoderMismatch for another generator) with a one-line message naming the file.
    """
    path = Path(path)
    header, tensors = read_checked_safetensors(path, _check_encoder_header, what="encoder")
    config = EncoderConfig.from_dict(json.loads(header.metadata["encoder_config"]))
    try:
        meta = header.metadata
        train_config = json.loads(meta.get("train_config", "null"))
        report = json.loads(meta.get("report", "{}"))
        step = int(meta.get("step", 0))
        optimizer = None
        if "optim.param_groups" in meta:
            state: dict[int, dict] = {}
            for k, v in tensors.items():
                if k.startswith("optim.state."):
                    pid, key = k[len("optim.state."):].split(".", 1)
                    state.setdefault(int(pid), {})[key] = v
            optimizer = {"state": state, "param_groups": json.loads(meta["optim.param_groups"])}
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path} is damaged: its header cannot be read ({type(e).__name__}: {e})") from None
    encoder = Encoder(config)
    encoder.load_state_dict({k[len("encoder."):]: v.float() if v.is_floating_point() else v
                             for k, v in tensors.items() if k.startswith("encoder.")})
    encoder.to(device).eval().requires_grad_(False)
    loaded = LoadedEncoder(encoder, config, json.loads(header.metadata["generator"]), step, train_config,
                           report if isinstance(report, dict) else {}, path, optimizer)
    if generator is not None:
        check_generator(loaded, generator)
    return loaded


# ----------------------------------------------------------------------------- training


@dataclass
class EncoderTrainConfig(JsonConfig):
    """One encoder training run. The defaults fit a 64-px model in about half an hour on one CPU thread."""

    KIND: ClassVar[str] = "training"
    STRICT: ClassVar[bool] = False  # old runs resume

    model: str = "rooms"  # the GAN to invert: a name from `dcgan models`, a run folder or a checkpoint
    out_dir: str = "runs/encoders/rooms"  # training folder: encoder, training state, metrics, reconstructions, card
    steps: int = 4000  # Adam steps
    batch_size: int = 64  # images per step (G's samples, plus real ones when real_fraction > 0)
    nef: int = 32  # encoder width: channels of its first block (doubling towards z, like D's ndf)
    lr: float = 2e-4  # Adam learning rate
    beta1: float = 0.9  # Adam beta1 (E is trained by regression, not adversarially: the usual 0.9)
    beta2: float = 0.999  # Adam beta2
    latent_weight: float = 1.0  # weight of ||E(G(z)) - z||^2 (mean over z's coordinates)
    image_weight: float = 1.0  # weight of reconstruction_loss(G(E(x)), x): pixel MSE + feature_weight x D's features
    feature_weight: float = 1.0  # weight of D's relative feature distance inside the image term (0: pixels only)
    real_fraction: float = 0.25  # share of each batch from the GAN's procedural training set (image term only); 0: G's samples only
    real_images: int = 10_000  # training images rendered for that share (the GAN's data set seed, never a held-out one)
    seed: int = 0  # E's initial weights, the codes z and the order of real images all follow from it
    log_every: int = 50  # steps between metrics records
    checkpoint_every: int = 250  # steps between checkpoints (and validation, reconstructions, card)
    device: str = "auto"  # auto (CUDA, then MPS, then CPU) | cpu | cuda | mps
    precision: str = "auto"  # auto (bf16 where the hardware has it) | bf16 | fp32
    progress: bool = True  # show a progress bar

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "nef", "log_every", "checkpoint_every", "real_images"):
            if not _is_whole(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"Adam betas must be in [0, 1), got ({self.beta1}, {self.beta2})")
        for name in ("latent_weight", "image_weight", "feature_weight"):
            if not (getattr(self, name) >= 0 and math.isfinite(getattr(self, name))):
                raise ValueError(f"{name} must be a weight >= 0, got {getattr(self, name)}")
        if not 0 <= self.real_fraction < 1:
            raise ValueError(f"real_fraction must be in [0, 1), got {self.real_fraction}")


VALIDATION_SEED = 424_242  # seed of the fixed G samples every checkpoint scores E on (training codes come from `seed`)
VALIDATION_RENDER_SEED = 10_001  # renders E is scored on: `dcgan eval`'s held-out seed (never trained on)
VALIDATION_N = 256


@dataclass
class EncoderTrainResult:
    step: int
    out_dir: Path
    encoder: Path
    last_record: dict | None


def _code_generator(seed: int, step: int) -> torch.Generator:
    """The codes of step k depend only on (seed, k): a resumed run sees exactly the codes it would have."""
    digest = hashlib.blake2b(f"encoder/{seed}/{step}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") % (2**63))


class EncoderTrainer:
    """Trains an encoder for one generator; `add_callback("on_log" | "on_checkpoint", fn)` hooks in a progress bar.

    The training folder holds: training_state.safetensors (E, Adam, step: what resume reads),
    encoder.safetensors (the usable encoder, with its report), metrics.jsonl, reconstructions.png
    (G's samples and held-out renders above E's reconstructions) and encoder.md (a model card).
    """

    def __init__(self, config: EncoderTrainConfig, *, command: str | None = None, _state: LoadedEncoder | None = None):
        self.config = cfg = config
        self.out_dir = Path(cfg.out_dir)
        self.state_path = self.out_dir / TRAINING_STATE_FILE
        if _state is None and self.state_path.exists():
            raise FileExistsError(f"{self.out_dir} already holds an encoder run; resume it with "
                                  f"`dcgan train-encoder --resume --out {self.out_dir}` or choose another --out")
        self.device = resolve_device(cfg.device)
        self.precision = resolve_precision(cfg.precision, self.device)
        self.model = load_model(cfg.model, device=self.device)
        if self.model.discriminator is None and cfg.feature_weight > 0:
            raise ValueError(f"{self.model.path} holds no discriminator; train with --feature-weight 0 (pixels only)")
        self.identity = generator_identity(model_name_of(self.model.path), self.model)
        earlier = []
        if _state is not None:  # (files of the first version kept one "command")
            earlier = list(_state.report.get("commands") or [c for c in [_state.report.get("command")] if c])
        self.commands = earlier + [command] if command else earlier  # the first trained, later ones resumed
        torch.manual_seed(cfg.seed)
        self.encoder = Encoder(EncoderConfig.for_model(self.model.config, cfg.nef)).to(self.device)
        self.opt = torch.optim.Adam(self.encoder.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.step = 0
        self.train_seconds = 0.0
        self.callbacks: dict[str, list[Callable]] = {"on_log": [], "on_checkpoint": []}
        self.last_record: dict | None = None
        self.validation: dict = {}
        if _state is not None:
            check_generator(_state, self.model.generator, self.state_path)
            if _state.config != self.encoder.config:
                raise CheckpointError(f"{self.state_path} holds an encoder of another shape ({_state.config}) than its "
                                      f"train config describes")
            self.encoder.load_state_dict(_state.encoder.state_dict())
            if _state.optimizer is None:
                raise CheckpointError(f"{self.state_path} holds no optimizer state, so it cannot be resumed")
            self.opt.load_state_dict(_state.optimizer)
            self.step = _state.step
            self.train_seconds = float(_state.report.get("train_seconds", 0.0))
        self._real = None  # built lazily in run(): rendering takes a while
        self._validation_renders: torch.Tensor | None = None

    @classmethod
    def resume(cls, out_dir: str | Path, **overrides) -> EncoderTrainer:
        """Continue the run in `out_dir`; `overrides` may change steps, intervals, device, precision, progress."""
        path = Path(out_dir) / TRAINING_STATE_FILE
        if not path.exists():
            raise FileNotFoundError(f"no encoder run to resume at {path}; start one without --resume")
        state = load_encoder(path)
        if state.train_config is None:
            raise CheckpointError(f"{path} has no train config, so it cannot be resumed")
        changeable = {"steps", "log_every", "checkpoint_every", "device", "precision", "progress"}
        command = overrides.pop("command", None)
        settings = resumed_settings(state.train_config, overrides, changeable, out_dir)
        return cls(EncoderTrainConfig.from_dict(settings), command=command, _state=state)

    def add_callback(self, event: str, fn: Callable) -> None:
        if event not in self.callbacks:
            raise ValueError(f"unknown event {event!r}; choose one of {', '.join(self.callbacks)}")
        self.callbacks[event].append(fn)

    # ---- data -----------------------------------------------------------------------
    def _dataset_name(self) -> str | None:
        from .data import PROCEDURAL_DATASETS

        tc = self.model.checkpoint.train_config or {}
        dataset = tc.get("dataset") or self.model.checkpoint.meta.get("dataset")
        return dataset if dataset in PROCEDURAL_DATASETS and self.model.config.channels == 3 else None

    def _renders(self, seed: int, n: int, progress: bool) -> torch.Tensor:
        from .data import build_dataset
        from .data.loading import materialize

        name, size = self._dataset_name(), self.model.config.image_size
        ds = build_dataset(name, image_size=size, length=n, seed=seed)
        return materialize(ds, cache_key=f"{name}-{size}px-seed{seed}-n{n}", progress=progress)

    def _real_batches(self):
        """Batches of the GAN's own training renders (its data set seed), or None without a procedural data set."""
        from .data.loading import InMemoryBatches

        cfg = self.config
        n_real = min(int(round(cfg.batch_size * cfg.real_fraction)), cfg.batch_size - 1)  # at least one of G's samples
        if n_real == 0 or self._dataset_name() is None:
            return None
        train_seed = int((self.model.checkpoint.train_config or {}).get("seed", 0))
        images = self._renders(train_seed, max(cfg.real_images, n_real), cfg.progress)
        return InMemoryBatches(images, n_real, cfg.seed, self.device)

    def real_note(self) -> str:
        cfg = self.config
        if cfg.real_fraction == 0:
            return "G's samples only"
        if self._dataset_name() is None:
            return "G's samples only (the model's training data is not a procedural data set, so real_fraction is unused)"
        seed = int((self.model.checkpoint.train_config or {}).get("seed", 0))
        return (f"G's samples, and {cfg.real_fraction:.0%} of each batch from {cfg.real_images:,} of the model's own "
                f"{self._dataset_name()} training renders (data set seed {seed}; image term only)")

    # ---- the loop -------------------------------------------------------------------
    def _train_step(self, real: torch.Tensor | None) -> dict[str, torch.Tensor]:
        cfg, mc = self.config, self.model.config
        g, d = self.model.generator, self.model.discriminator
        n_fake = cfg.batch_size - (0 if real is None else len(real))
        gen = _code_generator(cfg.seed, self.step)
        if mc.z_prior == "uniform":
            z = torch.rand(n_fake, mc.nz, generator=gen) * 2 - 1
        else:
            z = torch.randn(n_fake, mc.nz, generator=gen)
        z = z.to(self.device)
        with torch.no_grad(), autocast(self.device, self.precision):
            x = g(z).float()
        if real is not None:
            x = torch.cat([x, real])
        with autocast(self.device, self.precision):
            codes = self.encoder(x).float()
            image_loss = reconstruction_loss(g(codes), x, d, cfg.feature_weight).mean()
        latent_loss = (codes[:n_fake] - z).pow(2).mean()
        loss = cfg.latent_weight * latent_loss + cfg.image_weight * image_loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach(), "latent": latent_loss.detach(), "image": image_loss.detach()}

    def run(self) -> EncoderTrainResult:
        """Train from the current step to `config.steps`; Ctrl-C (KeyboardInterrupt) keeps the last checkpoint."""
        cfg = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._truncate_metrics()
        if self._real is None:
            self._real = self._real_batches()
        if self.step >= cfg.steps:
            return EncoderTrainResult(self.step, self.out_dir, self.out_dir / ENCODER_FILE, self.last_record)
        real_iter = self._real.iterate(self.step) if self._real is not None else None
        self.encoder.train()
        sums: dict[str, float] = {}
        n_summed, interval_start, interval_step = 0, time.perf_counter(), self.step
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not cfg.progress, unit="step", desc="train encoder",
                   dynamic_ncols=True)
        try:
            while self.step < cfg.steps:
                parts = self._train_step(next(real_iter) if real_iter is not None else None)
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                n_summed += 1
                self.step += 1
                bar.update(1)
                done = self.step == cfg.steps
                due = self.step % cfg.checkpoint_every == 0 or done
                if self.step % cfg.log_every == 0 or due:
                    now = time.perf_counter()
                    self.train_seconds += now - interval_start
                    record = self._log(sums, n_summed, now - interval_start, self.step - interval_step)
                    bar.set_postfix(loss=f"{record['loss']:.4f}", latent=f"{record['latent']:.4f}",
                                    image=f"{record['image']:.4f}")
                    sums, n_summed = {}, 0
                    interval_start, interval_step = time.perf_counter(), self.step
                if due:
                    self.save()
                    interval_start = time.perf_counter()  # validation and writing are not training time
        finally:
            bar.close()
            self.encoder.eval()
        return EncoderTrainResult(self.step, self.out_dir, self.out_dir / ENCODER_FILE, self.last_record)

    def _log(self, sums: dict[str, float], n: int, seconds: float, steps: int) -> dict:
        record = {"step": self.step, **{k: v / max(n, 1) for k, v in sums.items()},
                  "img_per_s": steps * self.config.batch_size / max(seconds, 1e-9), "time": time.time()}
        if not all(math.isfinite(record[k]) for k in sums):
            raise FloatingPointError(f"the encoder's loss became NaN/inf by step {self.step}; stopped without saving. "
                                     f"Resume from the last checkpoint with a lower --lr")
        self.last_record = record
        with open(self.out_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        for fn in self.callbacks["on_log"]:
            fn(self, record)
        return record

    def _truncate_metrics(self) -> None:
        """On resume, drop records written after the checkpoint: they will be written again."""
        path = self.out_dir / "metrics.jsonl"
        if not path.exists():
            return
        keep = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError, KeyError, TypeError):
                if json.loads(line)["step"] <= self.step:
                    keep.append(line)
        with atomic_write(path, "w") as f:
            f.write("".join(k + "\n" for k in keep))

    # ---- validation, files ----------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> tuple[dict, np.ndarray]:
        """Scores on fixed G samples (and held-out renders), and a picture of originals above reconstructions."""
        from .latent import sample_z

        g = self.model.generator
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            z = sample_z(VALIDATION_N, self.model.config, seed=VALIDATION_SEED, device=self.device)
            x = g(z).float()
            codes = self.encoder(x).float()
            recon = g(codes).float()
            scores = {
                "samples_latent_rmse": float((codes - z).pow(2).mean().sqrt()),
                "samples_image_rmse": float((recon - x).pow(2).flatten(1).mean(1).sqrt().mean()),
                "samples_n": VALIDATION_N,
            }
            rows = [x[:8], recon[:8]]
            if self._dataset_name() is not None:
                if self._validation_renders is None:
                    self._validation_renders = self._renders(VALIDATION_RENDER_SEED, VALIDATION_N, progress=False)
                real = pixels_to_unit(self._validation_renders).to(self.device)
                real_recon = g(self.encoder(real).float()).float()
                scores["renders_image_rmse"] = float((real_recon - real).pow(2).flatten(1).mean(1).sqrt().mean())
                scores["renders"] = f"{self._dataset_name()} renders, data set seed {VALIDATION_RENDER_SEED} (held out)"
                rows += [real[:8], real_recon[:8]]
        finally:
            self.encoder.train(was_training)
        return scores, image_grid(to_uint8(torch.cat(rows).cpu()), nrow=8)

    def report(self) -> dict:
        cfg = self.config
        return {
            "commands": self.commands,
            "steps": self.step,
            "images_seen": self.step * cfg.batch_size,
            "train_seconds": round(self.train_seconds, 1),
            "data": self.real_note(),
            "device": describe_device(self.device),
            "precision": self.precision,
            "torch": torch.__version__,
            "dcgan_explorer": __version__,
            "validation": self.validation,
        }

    def save(self) -> Path:
        """Validate, then write the training state, the encoder, the reconstructions and the card, each atomically."""
        for p in self.encoder.parameters():
            if not bool(p.detach().isfinite().all()):
                raise FloatingPointError(f"the encoder's weights became NaN/inf by step {self.step}; stopped without saving")
        self.validation, grid = self.validate()
        report = self.report()
        train_config = self.config.to_dict()
        save_encoder(self.state_path, self.encoder, self.identity, step=self.step, train_config=train_config, report=report,
                     optimizer=self.opt.state_dict())
        path = self.out_dir / ENCODER_FILE
        save_encoder(path, self.encoder, self.identity, step=self.step, train_config=train_config, report=report,
                     dtype=torch.float16)  # the usable (shipped) copy, like the models' fp16 exports
        write_bytes_atomic(self.out_dir / "reconstructions.png", png_bytes(grid))
        write_bytes_atomic(self.out_dir / CARD_FILE, encoder_card(load_encoder(path)).encode())
        for fn in self.callbacks["on_checkpoint"]:
            fn(self, path)
        return path


def encode_seconds_per_image(encoder: Encoder, batch_size: int = 16, repeats: int = 20) -> float:
    """Measured seconds per image of `encoder` at `batch_size` on its device, with the current thread count."""
    cfg = encoder.config
    x = torch.zeros(batch_size, cfg.channels, cfg.image_size, cfg.image_size, device=next(encoder.parameters()).device)
    with torch.no_grad():
        encoder(x)
        start = time.perf_counter()
        for _ in range(repeats):
            encoder(x)
    return (time.perf_counter() - start) / (repeats * batch_size)


def encoder_card(loaded: LoadedEncoder) -> str:
    """A model card (markdown) for an encoder file: what it inverts, how it was trained, how well it does."""
    cfg, gen, report = loaded.config, loaded.generator, loaded.report
    tc = loaded.train_config or {}
    params = sum(p.numel() for p in loaded.encoder.parameters())
    val = report.get("validation", {})
    lines = [
        f"# Encoder for `{gen.get('name', '?')}`: image -> z",
        "",
        "Trained by this project with its own command; nothing here was downloaded. Used by `dcgan invert` "
        "(methods encode and hybrid) when it sits beside the model as `encoder.safetensors`.",
        "",
        "| | |",
        "|---|---|",
        f"| generator | `{gen.get('name', '?')}` at step {gen.get('step', '?')}, weights {str(gen.get('fingerprint', '?'))[:12]} |",
        f"| architecture | DCGAN-style (mirror of D): {cfg.channels}x{cfg.image_size}x{cfg.image_size} -> "
        + "x".join(str(cfg.nef * 2**i) for i in range(cfg.num_blocks)) + f" channels -> {cfg.nz} "
        f"({'tanh, inside [-1, 1]' if cfg.z_prior == 'uniform' else 'linear'}); {params:,} weights |",
        f"| training | {report.get('steps', loaded.step):,} steps of {tc.get('batch_size', '?')} images: {report.get('data', '?')} |",
        f"| loss | {tc.get('latent_weight', '?')} x latent MSE + {tc.get('image_weight', '?')} x (pixel MSE + "
        f"{tc.get('feature_weight', '?')} x D's relative feature distance); Adam lr {tc.get('lr', '?')}, "
        f"betas ({tc.get('beta1', '?')}, {tc.get('beta2', '?')}) |",
        f"| training time | {report.get('train_seconds', 0) / 60:.1f} min on {report.get('device', '?')}, "
        f"{report.get('precision', '?')}; torch {report.get('torch', '?')} |",
        "",
        "## Validation",
        f"On {val.get('samples_n', '?')} fixed samples of G (seed {VALIDATION_SEED}): latent RMSE "
        f"{val.get('samples_latent_rmse', float('nan')):.3f} (a uniform code has RMS {1 / math.sqrt(3):.3f}), "
        f"image RMSE {val.get('samples_image_rmse', float('nan')):.3f} ([-1, 1] pixel units).",
    ]
    if "renders_image_rmse" in val:
        lines.append(f"On {val.get('samples_n', '?')} {val.get('renders')}: image RMSE {val['renders_image_rmse']:.3f}.")
    lines += ["", "Command (later lines resumed the run):", "", "```bash", *(report.get("commands") or ["(not recorded)"]),
              "```", ""]
    return "\n".join(lines)
