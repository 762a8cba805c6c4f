"""Everything the pages show that takes compute, cached per (model weights, settings).

Widgets only set parameters; these functions do the work (the stylegan3 viz/renderer.py
split). Results go in `st.cache_data`, with the shared model passed as `_model` (not
hashed) and its `model_key` (checkpoint path, mtime) naming the weights, so every
picture is a pure function of (checkpoint, seed, settings) and is computed once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from dcgan_core.analysis.neighbours import ReferenceImages, nearest_neighbours, reference_images
from dcgan_core.checkpoints import LoadedModel
from dcgan_core.generate import generate
from dcgan_core.latent import WalkSmoothness, pca_2d, sample_z, walk_path, walk_smoothness

from .walk import SavedWaypoints, walk_animation_gif

PICK_GRID_SIZE = 16  # samples offered for pinning as waypoints


@st.cache_data(max_entries=64, show_spinner=False)
def sample_images(_model: LoadedModel, model_key: tuple, seed: int, n: int) -> np.ndarray:
    """uint8 (n, H, W, C): samples 0..n-1 of `seed` (z = sample_z(n, config, seed))."""
    return generate(_model.generator, sample_z(n, _model.config, seed=seed))


@dataclass
class Walk:
    """A rendered latent walk and what the page reports about it."""

    frames: np.ndarray  # uint8 (F, H, W, C)
    z: np.ndarray  # (F, nz)
    segment: np.ndarray  # (F,) segment of each frame
    t: np.ndarray  # (F,) position in its segment
    waypoint_frames: np.ndarray  # (k,) frame index of each waypoint
    waypoint_labels: list[str]  # where each waypoint came from, for people
    smoothness: WalkSmoothness
    pca: np.ndarray  # (F, 2) frames' codes on the walk's two principal axes
    explained: np.ndarray  # (2,) variance share of those axes
    seconds: float  # time to build it (generation included)


def walk_waypoints(
    config, seed: int, points: int, pick_seed: int, pins: tuple[int, ...], saved: SavedWaypoints | None = None
) -> tuple[torch.Tensor, list[str]]:
    """The walk's waypoints: saved codes first, then pinned samples of the pick grid, then random points of `seed`
    up to `points` (at least two waypoints in all)."""
    first = torch.from_numpy(saved.z).float() if saved is not None else torch.empty(0, config.nz)
    labels = [f"code #{i} of saved set {saved.name!r}" for i in range(len(first))] if saved is not None else []
    pinned = sample_z(PICK_GRID_SIZE, config, seed=pick_seed)[list(pins)] if pins else torch.empty(0, config.nz)
    labels += [f"sample #{i} of seed {pick_seed} (pinned)" for i in pins]
    chosen = len(first) + len(pins)
    n_random = max(points - chosen, 2 - chosen, 0)
    random = sample_z(points, config, seed=seed)[:n_random]
    labels += [f"random point {i} of seed {seed}" for i in range(n_random)]
    return torch.cat([first, pinned, random]), labels


@st.cache_data(max_entries=32, show_spinner=False)
def render_walk(
    _model: LoadedModel, model_key: tuple, seed: int, points: int, steps: int, method: str, pick_seed: int,
    pins: tuple[int, ...], saved: SavedWaypoints | None = None,
) -> Walk:
    start = time.perf_counter()
    waypoints, labels = walk_waypoints(_model.config, seed, points, pick_seed, pins, saved)
    path = walk_path(waypoints, steps=steps, method=method)
    frames = generate(_model.generator, path.z, precision="auto")  # a preview: bf16 where the CPU has it (2.2x)
    seconds = time.perf_counter() - start
    coords, explained = pca_2d(path.z)
    return Walk(
        frames=frames,
        z=path.z.numpy(),
        segment=path.segment.numpy(),
        t=path.t.numpy(),
        waypoint_frames=np.arange(waypoints.shape[0]) * steps,
        waypoint_labels=labels,
        smoothness=walk_smoothness(frames),
        pca=coords,
        explained=explained,
        seconds=seconds,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def walk_gif(
    _model: LoadedModel, model_key: tuple, seed: int, points: int, steps: int, method: str, pick_seed: int,
    pins: tuple[int, ...], fps: float, bounce: bool, scale: int, saved: SavedWaypoints | None = None,
) -> bytes:
    """The walk as a looping GIF (one palette for the whole walk: see `walk_animation_gif`)."""
    walk = render_walk(_model, model_key, seed, points, steps, method, pick_seed, pins, saved)
    return walk_animation_gif(walk.frames, fps=fps, scale=scale, bounce=bounce)


def _reference_key(train_config: dict | None) -> tuple:
    tc = train_config or {}
    return tuple(str(tc.get(k)) for k in ("dataset", "image_size", "channels", "seed", "dataset_size", "data_root"))


@st.cache_resource(max_entries=2, show_spinner=False)
def _shared_reference_images(key: tuple, _train_config: dict | None, limit: int) -> ReferenceImages:
    # read-only arrays shared by all sessions (st.cache_data would copy them on every hit)
    return reference_images(_train_config, limit=limit)


def training_images(train_config: dict | None, limit: int) -> ReferenceImages:
    """A model's training images (see `reference_images`); raises NoTrainingData when there are none here."""
    return _shared_reference_images(_reference_key(train_config), train_config, limit)


@st.cache_data(max_entries=32, show_spinner=False)
def sample_neighbours(
    _model: LoadedModel, model_key: tuple, seed: int, n: int, k: int, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """(indices (n, k), L2 distances (n, k)) of the training images nearest to each of the n samples of `seed`."""
    samples = sample_images(_model, model_key, seed, n)
    refs = training_images(_model.checkpoint.train_config, limit)
    return nearest_neighbours(samples.transpose(0, 3, 1, 2), refs.images, k=k)


@st.cache_data(max_entries=8, show_spinner=False)
def training_nearest_distances(train_config: dict | None, limit: int, n: int = 64) -> np.ndarray:
    """L2 distance from each of n training images to its nearest *other* training image: the yardstick for samples."""
    refs = training_images(train_config, limit)
    n = min(n, len(refs) - 1)
    if n < 1:
        return np.zeros(0)
    step = max(1, len(refs) // n)
    queries = np.asarray(refs.images[::step][:n])
    _, dist = nearest_neighbours(queries, refs.images, k=2)
    return dist[:, 1]  # column 0 is the image itself
