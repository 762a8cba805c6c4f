"""What the discriminator features page computes (paper section 6.2, Fig. 5), cached per (model weights, settings).

A pool of the model's own training images (procedural ones rendered again from the run's data
set seed) and generated samples of a seed; every unit's strongest response over it, for the
trained D and a randomly initialised D of the same architecture; each unit's top images with
guided-backprop maps (Springenberg et al. 2014, dcgan_core/analysis/guided_backprop.py); and the
units one picture makes fire. Images are uint8, NCHW in the pool and HWC for display.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from dcgan_core.analysis import guided_backprop as gb
from dcgan_core.analysis import units as un
from dcgan_core.analysis.neighbours import NoTrainingData
from dcgan_core.checkpoints import LoadedModel
from dcgan_core.images import image_grid
from dcgan_core.models import Discriminator

from . import renderer
from .model_picker import ActiveModel

RANDOM_D_SEED = un.RANDOM_D_SEED
TRAINED, RANDOM = "trained", "random"  # which D: the model's, or the random baseline
SELECTIVITY = "selectivity"
RANK_BY = (SELECTIVITY, "bed+window", *un.OBJECT_NAMES)  # the object rankings need a rooms model (boxes are known)
TARGET_NAMES = {"max": "strongest position (Fig. 5)", "sum": "sum over the map"}  # labels of guided_backprop.TARGETS
RULE_NOTE = (
    "Guided backprop lets only positive gradients through, and only where a rectifier's forward input was positive; "
    "D's LeakyReLU(0.2) is treated like a ReLU there (zero through its negative side), as Springenberg et al.'s rule "
    "prescribes. The leaky variant passes 0.2 of the positive gradient through off units."
)  # what the rules do, under the rule picker
POOL_SIZES = (128, 256, 512, 1024)  # images from each source
SOURCES = ("Pool image", "Upload")  # the picture whose firing units are listed
FIRING_SHOWN = 12  # units in the "which units fire" chart
FIRING_MAPS = 4  # of which this many get a guided-backprop map


def require_discriminator(model: ActiveModel, reads: str) -> Discriminator:
    """The picked model's D; for a generator-only model, a message saying what to pick instead, and the page stops.

    `reads` completes the message: "this page reads the discriminator".
    """
    if model.loaded.discriminator is None:
        st.error(
            f"Model **{model.name}** (`{model.entry.path}`) holds only a generator; {reads}. "
            "Pick a model trained with `dcgan train` (its checkpoints keep D) in the sidebar.",
            icon=":material/error:",
        )
        st.stop()
    return model.loaded.discriminator


def knows_boxes(model: ActiveModel) -> bool:
    """Whether units can be ranked by overlap with objects: a colour rooms model, whose renderer knows every box."""
    return (model.loaded.checkpoint.train_config or {}).get("dataset") == "rooms" and model.config.channels == 3


def layer_label(d: Discriminator, layer: int) -> str:
    """How the layer picker names a layer of D: "3: 64 maps of 4x4 (last conv, Fig. 5)"."""
    size, last = d.feature_sizes[layer], len(d.feature_channels) - 1
    return f"{layer}: {d.feature_channels[layer]} maps of {size}x{size}" + (" (last conv, Fig. 5)" if layer == last else "")


@dataclass(frozen=True)
class Pool:
    """The images units are ranked on: training images first, then samples."""

    images: np.ndarray  # uint8 (N, C, H, W)
    labels: list[str]  # one per image, for people ("training #3", "sample #6 of seed 0")
    n_real: int  # how many of them are training images
    about: str  # what they are, for the page's caption

    def __len__(self) -> int:
        return len(self.images)

    def picture(self, index: int) -> np.ndarray:
        """Pool image `index` as uint8 (H, W, C)."""
        return self.images[index].transpose(1, 2, 0)


@st.cache_data(max_entries=8, show_spinner=False)
def pool_images(_model: LoadedModel, model_key: tuple, n: int, seed: int) -> Pool:
    """Up to n training images of the model and samples 0..n-1 of `seed`."""
    try:
        refs = renderer.training_images(_model.checkpoint.train_config, n)
        real = np.asarray(refs.images[:n])
        about = f"{len(real):,} training images ({refs.description}) and"
    except NoTrainingData as e:
        real = np.zeros((0, _model.config.channels, _model.config.image_size, _model.config.image_size), np.uint8)
        about = f"no training images ({e}), only"
    fake = renderer.sample_images(_model, model_key, seed, n).transpose(0, 3, 1, 2)
    labels = [f"training #{i}" for i in range(len(real))] + [f"sample #{i} of seed {seed}" for i in range(len(fake))]
    return Pool(np.ascontiguousarray(np.concatenate([real, fake])), labels, len(real), f"{about} {len(fake):,} samples of seed {seed}")


@st.cache_resource(max_entries=4, show_spinner=False)
def random_d(_model: LoadedModel, model_key: tuple, n: int, seed: int) -> Discriminator:
    """The random-D baseline, shared read-only: same architecture, BatchNorm statistics from the pool's real images."""
    pool = pool_images(_model, model_key, n, seed)
    calibration = pool.images[: pool.n_real] if pool.n_real >= 2 else pool.images
    d = _model.discriminator
    return gb.random_discriminator(d.config, seed=RANDOM_D_SEED, calibration_images=calibration, device=gb.model_device(d))


def discriminator(model: LoadedModel, model_key: tuple, which: str, n: int, seed: int) -> Discriminator:
    """The model's D (`which` TRAINED) or the random baseline of the pool (RANDOM)."""
    return model.discriminator if which == TRAINED else random_d(model, model_key, n, seed)


@st.cache_data(max_entries=16, show_spinner=False)
def pool_responses(_model: LoadedModel, model_key: tuple, which: str, layer: int, n: int, seed: int) -> np.ndarray:
    """(N, units): each unit's strongest response to each pool image."""
    pool = pool_images(_model, model_key, n, seed)
    return un.max_responses(discriminator(_model, model_key, which, n, seed), pool.images, layer)


def responses(model: LoadedModel, model_key: tuple, layer: int, n: int, seed: int) -> dict[str, np.ndarray]:
    """{TRAINED, RANDOM: pool_responses} for one layer."""
    return {w: pool_responses(model, model_key, w, layer, n, seed) for w in (TRAINED, RANDOM)}


def selectivities(resp: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per D, each unit's selectivity: std of its top 1% of pool images above its mean (units.selectivity)."""
    return {w: un.selectivity(r) for w, r in resp.items()}


@st.cache_data(max_entries=64, show_spinner=False)
def unit_maps(
    _model: LoadedModel, model_key: tuple, which: str, layer: int, n: int, seed: int, unit: int, k: int, rule: str, target: str
) -> tuple[np.ndarray, np.ndarray]:
    """(pool indices of the unit's top k images, their guided-backprop gradients (k, C, H, W))."""
    pool = pool_images(_model, model_key, n, seed)
    idx = un.top_images(pool_responses(_model, model_key, which, layer, n, seed), unit, k)
    d = discriminator(_model, model_key, which, n, seed)
    return idx, gb.guided_backprop(d, pool.images[idx], layer, unit, rule=rule, target=target).numpy()


@st.cache_data(max_entries=4, show_spinner=False)
def selection_rooms(n: int, image_size: int) -> tuple[np.ndarray, list]:
    """n rendered rooms with their boxes, which the pool does not hold: rendered once for every D and object."""
    return un.render_rooms(n, un.SELECT_SEED, image_size)


@st.cache_data(max_entries=16, show_spinner=False)
def object_overlap(_model: LoadedModel, model_key: tuple, which: str, layer: int, n: int, seed: int, objects: tuple[str, ...]) -> np.ndarray:
    """Each unit's Network-Dissection IoU with the objects' boxes, on n rendered rooms the pool does not hold."""
    images, boxes = selection_rooms(n, _model.config.image_size)
    return un.object_iou(discriminator(_model, model_key, which, n, seed), images, boxes, objects, layer)


def object_overlaps(model: LoadedModel, model_key: tuple, layer: int, n: int, seed: int, rank_by: str) -> dict[str, np.ndarray]:
    """{TRAINED, RANDOM: object_overlap} with the objects of `rank_by` ("bed+window" is both)."""
    return {w: object_overlap(model, model_key, w, layer, n, seed, tuple(rank_by.split("+"))) for w in (TRAINED, RANDOM)}


def ranking(scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per D, its units from the highest score down (ties in unit order)."""
    return {w: np.argsort(-s, kind="stable") for w, s in scores.items()}


def score_note(rank_by: str, n: int) -> str:
    """What the units' score means: selectivity, or the overlap with `rank_by`'s boxes on n rendered rooms."""
    if rank_by == SELECTIVITY:
        return (
            "Selectivity: how far the unit's top 1% of pool images lift its strongest response above its mean, in standard deviations. A unit "
            "that fires for a few images (an object detector) scores high; one that answers every image alike scores low."
        )
    return (
        f"Overlap (Network Dissection, Bau et al. 2017): a unit is *on* where its map exceeds its top 0.5% over {n} "
        f"rendered rooms (data set seed {un.SELECT_SEED}, not in the pool); the score is the IoU of that region with the "
        f"{rank_by} boxes. Trained units above the random D's curve are the object detectors training made. "
        "`dcgan units measure` measures where such units' guided-backprop maps fall."
    )


def to_rgb(images: np.ndarray) -> np.ndarray:
    """uint8 (..., H, W, C) with C 1 or 3, as 3 channels."""
    return images if images.shape[-1] == 3 else np.repeat(images, 3, axis=-1)


def triptychs(images_nchw: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """One row per image: the image, its gradient image, the gradient magnitude over a grey copy; tiled uint8 (H', W', 3)."""
    images = images_nchw.transpose(0, 2, 3, 1)
    rgb = to_rgb(images)
    heat = gb.heat_overlay(images, gb.saliency(maps))
    return image_grid(np.stack([rgb, to_rgb(gb.gradient_image(maps)), heat], axis=1).reshape(-1, *rgb.shape[1:]), nrow=3)


@dataclass(frozen=True)
class TopImages:
    """A unit's top images of the pool, strongest first, with their guided-backprop maps."""

    indices: np.ndarray  # (k,) pool indices
    responses: np.ndarray  # (k,) the unit's strongest response to each
    grid: np.ndarray  # uint8 (H', W', 3): see triptychs


def top_images(
    model: LoadedModel, model_key: tuple, which: str, layer: int, n: int, seed: int, unit: int, k: int, rule: str, target: str
) -> TopImages:
    pool = pool_images(model, model_key, n, seed)
    idx, maps = unit_maps(model, model_key, which, layer, n, seed, unit, k, rule, target)
    values = pool_responses(model, model_key, which, layer, n, seed)[idx, unit]
    return TopImages(idx, values, triptychs(pool.images[idx], maps))


@dataclass(frozen=True)
class Firing:
    """How strongly each unit of a layer fires for one picture, measured against the pool."""

    responses: np.ndarray  # (units,) the picture's strongest response per unit
    relative: np.ndarray  # (units,) the same in standard deviations above the unit's pool mean
    units: np.ndarray  # the FIRING_SHOWN units with the highest relative response, highest first


def firing_units(d: Discriminator, picture: np.ndarray, layer: int, pool_resp: np.ndarray) -> Firing:
    """Which units of `layer` fire for a uint8 (H, W, C) picture, relative to their responses over the pool (N, units)."""
    own = un.max_responses(d, picture.transpose(2, 0, 1)[None], layer)[0]
    z = un.relative_responses(own, pool_resp)
    return Firing(own, z, np.argsort(-z, kind="stable")[:FIRING_SHOWN])


def firing_maps(d: Discriminator, picture: np.ndarray, layer: int, units: list[int], rule: str, target: str) -> np.ndarray:
    """Guided backprop of `units` for a uint8 (H, W, C) picture: gradient images above their magnitudes, uint8 (H', W', 3)."""
    batch = np.repeat(picture.transpose(2, 0, 1)[None], len(units), axis=0)
    maps = gb.guided_backprop(d, batch, layer, units, rule=rule, target=target)
    tiles = np.concatenate([to_rgb(gb.gradient_image(maps)), gb.heat_overlay(np.repeat(picture[None], len(units), axis=0), gb.saliency(maps))])
    return image_grid(tiles, nrow=len(units))
