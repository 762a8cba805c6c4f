"""What the "Your images" page computes: the model's encoder, inverting images with a progress bar, saving the codes.

Inversion is `dcgan_core.inversion` (optimise, encode, hybrid); the codes are saved as a concept
set of the model (`saved_codes`), which every other page offers as a starting point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from dcgan_core.analysis import concept_sets, labelling
from dcgan_core.encoder import LoadedEncoder, find_encoder, load_encoder
from dcgan_core.images import to_pil, to_uint8
from dcgan_core.inversion import DEFAULT_STEPS, MAX_FILE_BYTES, Inversion, PreparedImages, invert, prepare_images

from . import app_state as keys
from . import arithmetic as arith
from . import renderer
from .saved_codes import identity

MAX_UPLOAD_MB = MAX_FILE_BYTES // 2**20  # the uploader refuses bigger files before they are sent
MAX_IMAGES = 32  # images inverted at once on the page (hybrid takes about a second each on a 2-core CPU)
TRAIN_CMD = "dcgan train-encoder --model {name}"


@st.cache_resource(max_entries=4, show_spinner="Loading the encoder...")
def _shared_encoder(path: str, mtime_ns: int, model_key: tuple, _generator) -> LoadedEncoder:
    # shared by every session, like the model: never trained or changed in place
    return load_encoder(path, generator=_generator)


def encoder_for(model) -> tuple[LoadedEncoder | None, str]:
    """(the model's encoder, "") or (None, why there is none and how to get one), in one line."""
    path = find_encoder(model.entry.path)
    if path is None:
        return None, (f"Model {model.name} has no encoder yet, so images are inverted by optimisation alone. "
                      f"`{TRAIN_CMD.format(name=model.name)}` trains one beside it (for the encode and hybrid methods).")
    try:
        return _shared_encoder(str(path), path.stat().st_mtime_ns, model.key, model.generator), ""
    except (ValueError, OSError) as e:  # CheckpointError and EncoderMismatch are ValueErrors
        return None, f"The encoder at {path} cannot be used ({e}); images are inverted by optimisation alone."


def methods_for(encoder: LoadedEncoder | None) -> list[str]:
    """Methods the page offers, its default first: hybrid (then optimise and encode) with an encoder, optimise alone without."""
    return ["hybrid", "optimise", "encode"] if encoder is not None else ["optimise"]


def uploaded_images(model, uploads) -> PreparedImages:
    """Streamlit uploads as G-sized images; InvalidImage (one line) for anything that is not a usable picture."""
    if len(uploads) > MAX_IMAGES:
        raise ValueError(f"{len(uploads)} images given; invert at most {MAX_IMAGES} at once (or use `dcgan invert` for a folder)")
    return prepare_images([(u.name, u.getvalue()) for u in uploads], model.config)


def training_images(model, start: int, count: int) -> PreparedImages:
    """Training images start..start+count-1 of the model's data set (NoTrainingData when they are not on this machine)."""
    refs = renderer.training_images(model.loaded.checkpoint.train_config, start + count)
    if start >= len(refs):
        raise ValueError(f"the training set here has {len(refs):,} images; pick a start below that")
    picked = range(start, min(start + count, len(refs)))
    return prepare_images([(f"training image {i}", to_pil(refs.image(i))) for i in picked], model.config)


def digest(images: torch.Tensor) -> str:
    """A short content key for a batch of prepared images (so a cached inversion is found again)."""
    return hashlib.blake2b(images.numpy().tobytes(), digest_size=16).hexdigest()


def invert_prepared(model, prepared: PreparedImages, method: str, steps: int, encoder: LoadedEncoder | None,
                    progress: Callable[[int, int], None] | None = None) -> Inversion:
    """Invert prepared images; the session keeps the last result, so reruns with the same images and settings are free.

    (Kept per session, not in st.cache_data: the result is this user's, and a cache hit could not replay the
    progress bar drawn from inside.)
    """
    steps = 0 if method == "encode" else int(steps)
    key = (model.key, digest(prepared.images), method, steps, f"{encoder.path}:{encoder.step}" if encoder is not None else "")
    kept = st.session_state.get(keys.YOURS_RESULT)
    if kept is not None and kept[0] == key:
        return kept[1]
    result = invert(model.generator, model.loaded.discriminator, prepared.images, method=method,
                    encoder=encoder.encoder if encoder is not None else None, steps=steps, progress=progress)
    st.session_state[keys.YOURS_RESULT] = (key, result)
    return result


def default_steps(method: str) -> int:
    return DEFAULT_STEPS[method]


@dataclass
class Comparison:
    """Per image, what the page shows side by side: original, reconstruction, and where they differ."""

    originals: np.ndarray  # uint8 (N, H, W, C)
    reconstructions: np.ndarray  # uint8 (N, H, W, C)
    differences: np.ndarray  # uint8 (N, H, W, 1): |original - reconstruction| averaged over channels, x3 for visibility
    errors: np.ndarray  # (N,) pixel RMSE on the 0-255 scale
    readings: tuple[list[str], list[str]] | None = None  # the face instrument's badges (original, reconstruction), faces only

    @property
    def median_error(self) -> float:
        return float(np.median(self.errors))


def comparison(model, prepared: PreparedImages, result: Inversion) -> Comparison:
    originals = to_uint8(prepared.images)
    reconstructions = to_uint8(result.reconstructions)
    diff = np.abs(originals.astype(np.int16) - reconstructions.astype(np.int16)).mean(-1, keepdims=True)
    errors = result.errors.numpy() * 127.5  # RMSE in [-1, 1] units -> 0-255 scale
    return Comparison(originals, reconstructions, np.clip(diff * 3, 0, 255).astype(np.uint8), errors,
                      face_readings(model, originals, reconstructions))


def face_readings(model, originals: np.ndarray, reconstructions: np.ndarray) -> tuple[list[str], list[str]] | None:
    """What the face instrument reads on each original and its reconstruction (badges like "WSG→"), on faces models
    only (elsewhere its readings mean nothing); did the inversion keep the person's attributes?"""
    if labelling.face_instrument_problem(model.loaded) is not None or model.config.channels != 3 or arith.instrument_error():
        return None
    before, after = arith.read(originals), arith.read(reconstructions)
    n = len(originals)
    return [arith.badge(before, i) for i in range(n)], [arith.badge(after, i) for i in range(n)]


def save_codes(model, name: str, result: Inversion) -> tuple[str, bool]:
    """Save the codes as the concept set `name` of the model (atomically); (its path, whether it replaced one)."""
    concept = concept_sets.ConceptSet(name.strip(), result.z, identity(model))
    path = concept_sets.concept_set_path(model.name, name)
    replaced = path.exists()
    concept_sets.save_concept_set(path, concept)
    return str(path), replaced

