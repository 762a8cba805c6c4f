"""Widgets shared by the pages: crisp image display, downloads, errors, the page header."""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import math
from collections.abc import Iterator

import numpy as np
import streamlit as st
from PIL import Image

from dcgan_core.analysis.neighbours import NoTrainingData
from dcgan_core.checkpoints import CheckpointError
from dcgan_core.images import image_grid, png_bytes, upscale_nearest

DISPLAY_PX = 768  # small pictures are enlarged (nearest neighbour) to about this width before display
MAX_IMAGE_PX = 1460  # st.image shrinks wider pictures (bilinear, blurry): enlarge no further

# Errors users can cause (bad files, models that do not fit, missing data). Anything else is a bug
# and should show as one.
USER_ERRORS = (CheckpointError, NoTrainingData, FileNotFoundError, ValueError, OSError)


def enlarge(array: np.ndarray, min_px: int = DISPLAY_PX) -> np.ndarray:
    """Blow up a uint8 (H, W, C) picture by an integer factor (nearest) to about `min_px` wide (at most MAX_IMAGE_PX)."""
    w = array.shape[1]
    return upscale_nearest(array, max(1, min(math.ceil(min_px / w), MAX_IMAGE_PX // w)))


def show_picture(array: np.ndarray, caption: str | None = None, min_px: int = DISPLAY_PX, width="stretch") -> None:
    """Show a uint8 (H, W, C) picture with crisp pixels (enlarged before the browser scales it)."""
    big = enlarge(array, min_px)
    st.image(big[..., 0] if big.shape[-1] == 1 else big, caption=caption, width=width, output_format="PNG")


def show_grid(images: np.ndarray, nrow: int | None = None, caption: str | None = None, min_px: int = DISPLAY_PX) -> np.ndarray:
    """Tile uint8 (N, H, W, C) images and show them; returns the grid at native size (for downloads)."""
    grid = image_grid(images, nrow=nrow)
    show_picture(grid, caption, min_px=min_px)
    return grid


def download_png(label: str, array: np.ndarray, file_name: str, key: str | None = None) -> None:
    st.download_button(label, png_bytes(array), file_name=file_name, mime="image/png", key=key, icon=":material/download:")


def scrolling_strip(array: np.ndarray, height_px: int = 128, caption: str | None = None) -> None:
    """A wide uint8 (H, W, C) picture at a fixed height in a horizontally scrolling box, pixels crisp."""
    alt = html.escape(caption or "picture", quote=True)
    st.html(
        f'<div style="overflow-x:auto;white-space:nowrap"><img alt="{alt}" src="{data_uri_png(array)}" '
        f'style="height:{height_px}px;max-width:none;image-rendering:pixelated"></div>'
    )
    if caption:
        st.caption(caption)


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
