"""Widgets shared by the pages: crisp image display, downloads, errors, the page header."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import html
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import streamlit as st
from PIL import Image

from dcgan_core.analysis.neighbours import NoTrainingData
from dcgan_core.safetensors_files import CheckpointError
from dcgan_core.images import image_grid, png_bytes, upscale_nearest

DISPLAY_PX = 768  # small pictures are enlarged (nearest neighbour) to about this width before display
MAX_IMAGE_PX = 1460  # st.image shrinks wider pictures (bilinear, blurry): enlarge no further
JPEG_FROM_PX = 512 * 512  # colour pictures at least this many pixels (as shown) go as JPEG, smaller ones as PNG
JPEG_QUALITY = 95  # with full-resolution colour (4:4:4): about 40 dB PSNR on a 1060 x 1192 walk grid, 11 ms vs 275 ms PNG
ENCODED_CACHE_BYTES = 64 * 2**20  # encoded pictures kept for reruns, shared by every session

# Errors users can cause (bad files, models that do not fit, missing data). Anything else is a bug
# and should show as one.
USER_ERRORS = (CheckpointError, NoTrainingData, FileNotFoundError, ValueError, OSError)


def enlarge(array: np.ndarray, min_px: int = DISPLAY_PX) -> np.ndarray:
    """Blow up a uint8 (H, W, C) picture by an integer factor (nearest) to about `min_px` wide (at most MAX_IMAGE_PX)."""
    w = array.shape[1]
    return upscale_nearest(array, max(1, min(math.ceil(min_px / w), MAX_IMAGE_PX // w)))


class _EncodedPictures:
    """Encoded pictures by content, least recently used dropped past `max_bytes`; thread-safe (sessions share it)."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.size, self.items, self.lock = max_bytes, 0, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            return None

    def put(self, key, value: tuple[bytes, str]) -> None:
        with self.lock:
            if key not in self.items:
                self.items[key] = value
                self.size += len(value[0])
            while self.size > self.max_bytes and len(self.items) > 1:
                self.size -= len(self.items.popitem(last=False)[1][0])


_encoded = _EncodedPictures(ENCODED_CACHE_BYTES)


def encode_picture(array: np.ndarray, min_px: int = DISPLAY_PX, lossless: bool = False) -> tuple[bytes, str]:
    """(file bytes, "PNG" | "JPEG") of a uint8 (H, W, C) picture enlarged as `enlarge` does, for st.image.

    Large colour pictures are JPEG (quality JPEG_QUALITY, no chroma subsampling: visually
    lossless on GAN samples and 20x faster to encode than PNG); small ones, grey ones and
    `lossless` ones are PNG at compression level 1 (fast, exact). Encoded bytes are kept by
    content, so a rerun that shows the same picture encodes nothing.
    """
    digest = hashlib.blake2b(np.ascontiguousarray(array).data, digest_size=16).digest()
    key = (digest, array.shape, str(array.dtype), min_px, lossless)
    hit = _encoded.get(key)
    if hit is not None:
        return hit
    big = enlarge(array, min_px)
    picture = Image.fromarray(big[..., 0] if big.shape[-1] == 1 else big)
    buf = io.BytesIO()
    if not lossless and big.shape[-1] == 3 and big.shape[0] * big.shape[1] >= JPEG_FROM_PX:
        picture.save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
        value = (buf.getvalue(), "JPEG")
    else:
        picture.save(buf, format="PNG", compress_level=1)
        value = (buf.getvalue(), "PNG")
    _encoded.put(key, value)
    return value


def show_picture(
    array: np.ndarray, caption: str | None = None, min_px: int = DISPLAY_PX, width="stretch", lossless: bool = False
) -> None:
    """Show a uint8 (H, W, C) picture with crisp pixels (enlarged before the browser scales it).

    Large colour pictures go as near-lossless JPEG unless `lossless` (see `encode_picture`).
    """
    data, fmt = encode_picture(array, min_px, lossless)
    st.image(data, caption=caption, width=width, output_format=fmt)


def show_grid(images: np.ndarray, nrow: int | None = None, caption: str | None = None, min_px: int = DISPLAY_PX) -> np.ndarray:
    """Tile uint8 (N, H, W, C) images and show them; returns the grid at native size (for downloads)."""
    grid = image_grid(images, nrow=nrow)
    show_picture(grid, caption, min_px=min_px)
    return grid


def download_png(label: str, array: np.ndarray, file_name: str, key: str | None = None) -> None:
    """A button that downloads `array` as a lossless PNG, encoded only when clicked (not on every rerun)."""
    st.download_button(
        label, lambda: png_bytes(array), file_name=file_name, mime="image/png", key=key, icon=":material/download:"
    )


def scrolling_strip(array: np.ndarray, height_px: int = 128, caption: str | None = None) -> None:
    """A wide uint8 (H, W, C) picture at a fixed height in a horizontally scrolling box, pixels crisp."""
    alt = html.escape(caption or "picture", quote=True)
    st.html(
        f'<div style="overflow-x:auto;white-space:nowrap"><img alt="{alt}" src="{data_uri_png(array)}" '
        f'style="height:{height_px}px;max-width:none;image-rendering:pixelated"></div>'
    )
    if caption:
        st.caption(caption)


# Animations go at their own size and the browser enlarges them with crisp pixels: encoding a GIF
# blown up 4x took 0.2 s of every walk rerun, the native one 10x less.
_CRISP_GIFS = "<style>[data-testid='stImage'] img[src^='data:image/gif'] {image-rendering: pixelated}</style>"


def show_animation(gif: bytes, caption: str | None = None, width: int = 384) -> None:
    """Show GIF bytes `width` pixels wide, enlarged by the browser with crisp pixels (not blurred)."""
    st.markdown(_CRISP_GIFS, unsafe_allow_html=True)
    st.image("data:image/gif;base64," + base64.b64encode(gif).decode(), caption=caption, width=width)


def data_uri_png(array: np.ndarray) -> str:
    """A picture as a data: URI, for plotly layout images (nothing fetched from anywhere)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(array)).decode()


@functools.lru_cache(maxsize=1)
def app_icon() -> Image.Image:
    """The favicon: a procedural bedroom, drawn here (a material icon would be fetched from Google's servers)."""
    from dcgan_core.data.rooms import render_room

    return Image.fromarray(render_room(seed=3, image_size=32).image)


def page_header(title: str, paper: str, intro: str) -> None:
    """Title, the part of the paper the page reproduces, and a short explanation."""
    st.title(title)
    st.caption(paper)
    st.markdown(intro)


@contextlib.contextmanager
def user_errors(doing: str) -> Iterator[None]:
    """Show an error a user can fix as a message in the page (never a traceback), then stop the page."""
    try:
        yield
    except USER_ERRORS as e:
        st.error(f"Could not {doing}: {e}", icon=":material/error:")
        st.stop()


def file_stem(*parts) -> str:
    """A file name from settings, e.g. walk_rooms_seed0_9x8_slerp."""
    return "_".join(str(p).replace(" ", "-").replace("/", "-") for p in parts if p != "")
