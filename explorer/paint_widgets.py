"""Widgets of the "Paint with units" page (GANPaint): the picture picker, the drawing canvas, the edit history's buttons.

The canvas (streamlit-drawable-canvas, ../shared/CANVAS.md) shows the picture as edited so far;
what is painted on it becomes a bool (S, S) region at the image size, kept under
`app_state.PAINT_REGION` (the page reads it from there, and tests set it there: AppTest cannot
draw). Applying an edit stacks it on the picture's history and remounts the canvas, empty, on
the new picture (its key holds the picture and a revision number).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from dcgan_core.images import upscale_nearest
from dcgan_core.latent import sample_z

from . import app_state as keys
from . import dissection as dis
from . import renderer, saved_codes, widgets

CANVAS_PX = 384  # a 64-px picture is painted on at 6x
PICK_GRID = 16  # samples offered to paint on
STROKE = "rgba(255, 214, 0, 0.55)"  # the region's yellow, see-through
FILL = "rgba(255, 214, 0, 0.35)"
MIN_COVER = 0.25  # an image pixel is in the region when at least this share of it is painted
TOOLS = {"freedraw": "brush", "rect": "box"}
MESSAGES = {"error": st.error, "info": st.info}


# ---------------------------------------------------------------------------- the picture


def picture_picker(model) -> tuple[np.ndarray, str, str]:
    """The code to paint on: a sample of a seed's grid, or one of the model's saved codes.

    Returns (z float32 (nz,), an id for the edit history and the canvas key, a caption).
    """
    c = st.columns([1, 1, 2, 1])
    seed = int(c[0].number_input("Seed", 0, 2**31 - 1, 0, key=keys.PAINT_SEED))
    index = int(c[1].number_input("Picture", 0, PICK_GRID - 1, 0, key=keys.PAINT_INDEX, help="# in the grid below"))
    with c[2]:
        saved = saved_codes.saved_codes_picker(model, "Or one of your saved codes", keys.PAINT_SAVED,
                                               help="Codes saved on the Your images page (or any concept set of this model).")
    if saved is not None:
        code = int(c[3].number_input("Code", 0, len(saved.z) - 1, 0, key=keys.PAINT_CODE))
        z = saved_codes.codes_of(saved)[code]
        return z, f"saved:{saved.name}:{code}", f"code #{code} of your saved set {saved.name!r}"
    with st.expander(f"Samples 0-{PICK_GRID - 1} of seed {seed}", expanded=False, icon=":material/grid_view:"):
        with widgets.user_errors("generate the samples"):
            grid = renderer.sample_images(model.loaded, model.key, seed, PICK_GRID)
        widgets.show_grid(grid, nrow=8, caption=f"samples 0-{PICK_GRID - 1} of seed {seed}: pick one by its number", min_px=512)
    z = sample_z(PICK_GRID, model.config, seed=seed)[index].numpy()
    return z, f"seed:{seed}:{index}", f"sample #{index} of seed {seed}"


# ---------------------------------------------------------------------------- the region


def region_from_alpha(alpha: np.ndarray, size: int) -> np.ndarray:
    """bool (size, size): the image pixels at least MIN_COVER covered by the canvas's strokes (alpha (H, W), 0 = none)."""
    painted = Image.fromarray(((alpha > 0) * 255).astype(np.uint8))
    cover = np.asarray(painted.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255
    return cover >= MIN_COVER


def canvas(picture: np.ndarray, picture_key: str, tool: str, brush_px: int) -> None:
    """The picture on a drawing canvas; what is painted on it goes to session state as the region (see module doc)."""
    size = picture.shape[0]
    scale = max(1, CANVAS_PX // size)
    revision = st.session_state.get(keys.PAINT_REVISION, 0)
    key = f"{keys.PAINT_CANVAS_PREFIX}{hashlib.blake2b(picture_key.encode(), digest_size=6).hexdigest()}_r{revision}"
    result = st_canvas(
        background_image=Image.fromarray(upscale_nearest(picture, scale)), width=size * scale, height=size * scale,
        drawing_mode=tool, stroke_width=brush_px * scale, stroke_color=STROKE, fill_color=FILL,
        update_streamlit=True, return_image_data=True, key=key,
    )
    objects = (result.json_data or {}).get("objects") or []
    now = (key, hashlib.blake2b(json.dumps(objects, sort_keys=True).encode(), digest_size=12).hexdigest())
    seen = st.session_state.get(keys.PAINT_SEEN)
    if seen is None or seen[0] != key:  # a canvas just mounted, empty: nothing is painted
        st.session_state[keys.PAINT_REGION] = None
    elif seen != now:  # painted (or undone, or cleared) on the canvas since the last run
        data = result.image_data if objects else None
        region = None if data is None else region_from_alpha(data[..., 3], size)
        st.session_state[keys.PAINT_REGION] = region if region is not None and region.any() else None
    st.session_state[keys.PAINT_SEEN] = now


def painted_region() -> np.ndarray | None:
    return st.session_state.get(keys.PAINT_REGION)


# ---------------------------------------------------------------------------- the history of edits


def history_key(model, picture_key: str) -> tuple[str, str]:
    return (str(model.key), picture_key)


def edits_of(model, picture_key: str) -> list[dis.Edit]:
    """The edits applied to this picture, in order (the next one stacks on them)."""
    return list((st.session_state.get(keys.PAINT_EDITS) or {}).get(history_key(model, picture_key), []))


def _set_edits(model, picture_key: str, edits: list[dis.Edit]) -> None:
    every = dict(st.session_state.get(keys.PAINT_EDITS) or {})
    every[history_key(model, picture_key)] = edits
    st.session_state[keys.PAINT_EDITS] = every
    st.session_state[keys.PAINT_REVISION] = st.session_state.get(keys.PAINT_REVISION, 0) + 1  # the canvas remounts empty
    st.session_state[keys.PAINT_REGION] = None


def apply_edit(model, picture_key: str, report: dis.Report, class_name: str, layer: int, k: int, mode: str,
               strength: float) -> None:
    """Callback of Apply: the painted region with these settings becomes the next edit of the picture."""
    try:
        edit = dis.make_edit(report, class_name, layer, k, painted_region(), mode, strength)
    except ValueError as e:
        st.session_state[keys.PAINT_MESSAGE] = ("info", f"Nothing applied: {e}.")
        return
    _set_edits(model, picture_key, [*edits_of(model, picture_key), edit])


def undo(model, picture_key: str) -> None:
    _set_edits(model, picture_key, edits_of(model, picture_key)[:-1])


def reset(model, picture_key: str) -> None:
    _set_edits(model, picture_key, [])


def show_message() -> None:
    """The last button's one-line message, shown once."""
    shown = st.session_state.pop(keys.PAINT_MESSAGE, None)
    if shown:
        MESSAGES[shown[0]](shown[1], icon=":material/info:")


def share_text(class_name: str, before: float | None, after: float | None) -> str:
    """"window pixels in the region: 0% -> 34%"."""
    if before is None or after is None:
        return ""
    return f"{class_name} pixels in the region: {before:.0%} → {after:.0%}"
