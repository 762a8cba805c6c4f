"""Widgets to annotate generated images with boxes (streamlit-drawable-canvas), saved per model and object.

Used by the "Forgetting to draw windows" pages (paper section 6.3.1): the object field, the pool
navigator, the drawing canvas with its status and "no object" toggle, and the callbacks of the
buttons that change annotations. Every change is saved at once through
`dcgan_core.analysis.annotations.AnnotationStore` and given back to the canvas through
`initial_drawing` when it mounts (../shared/CANVAS.md: a reload loses what the canvas shows).
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import boxes_to_drawing, st_canvas

from dcgan_core.analysis import object_removal as removal
from dcgan_core.analysis.annotations import (
    Annotation, AnnotationError, AnnotationSet, make_annotation, pool_z, valid_object_name,
)
from dcgan_core.analysis.coco import read_annotations_file
from dcgan_core.data.rooms import OBJECT_NAMES
from explorer import app_state as keys
from explorer import forget, widgets

MESSAGES = {"success": st.success, "error": st.error, "info": st.info}


# ---------------------------------------------------------------------------- state helpers


def message(kind: str, text: str) -> None:
    """Show `text` above the annotator until another image is shown (callbacks run before the page is drawn, and
    the canvas reruns the page on its own, so a message shown only once would flash by)."""
    st.session_state[keys.FORGET_MESSAGE] = (kind, text, st.session_state.get(keys.FORGET_INDEX, 0))


def show_message() -> None:
    """The last action's message, while the image it was about is still shown."""
    shown = st.session_state.get(keys.FORGET_MESSAGE)
    if shown and shown[2] == st.session_state.get(keys.FORGET_INDEX, 0):
        MESSAGES[shown[0]](shown[1])
    else:
        st.session_state.pop(keys.FORGET_MESSAGE, None)


def bump_revision() -> None:
    """Annotations changed outside the canvases: remount them so they show what is saved now."""
    st.session_state[keys.FORGET_REVISION] = st.session_state.get(keys.FORGET_REVISION, 0) + 1


def clamp_state(key: str, lo, hi) -> None:
    """Keep a widget's stored value inside a range that just changed."""
    if key in st.session_state:
        st.session_state[key] = min(max(st.session_state[key], lo), hi)


def drawing_of(saved: Annotation | None, image_size: int) -> dict:
    """The canvas drawing (Fabric.js objects, canvas pixels) of a saved annotation's boxes (pixels of an
    `image_size` image)."""
    boxes = [] if saved is None else saved.boxes
    return boxes_to_drawing(
        forget.image_to_canvas_boxes(boxes, image_size), stroke_color=forget.BOX_COLOR, stroke_width=2,
        fill_color=forget.BOX_FILL,
    )


# ---------------------------------------------------------------------------- callbacks (run before the next script run)


def go_to(index: int) -> None:
    st.session_state[keys.FORGET_INDEX] = index


def go_to_next_unannotated(store, identity, object_name: str, seed: int, size: int, current: int) -> None:
    try:
        done = {a.index for a in store.load(identity, object_name).images if a.seed == seed}
    except AnnotationError as e:
        return message("error", str(e))
    order = [*range(current + 1, size), *range(0, current + 1)]
    todo = next((i for i in order if i not in done), None)
    if todo is None:
        message("info", f"Every image of the pool ({size}) is annotated.")
    else:
        go_to(todo)


def save_no_object(store, identity, object_name: str, seed: int, index: int, z: list[float], toggle_key: str) -> None:
    try:
        saved = store.load(identity, object_name).get(seed, index)
        if saved is not None and saved.boxes:
            return  # boxes win: the toggle is disabled then
        store.put(identity, object_name, [make_annotation(seed, index, z, (), no_object=bool(st.session_state[toggle_key]))])
    except (AnnotationError, OSError) as e:
        message("error", f"Could not save: {e}")


def auto_annotate(model, store, identity, object_name: str, seed: int, size: int) -> None:
    try:
        notes = store.load(identity, object_name)
        by_hand = {a.index for a in notes.images if a.seed == seed and a.source == "hand"}
        todo = [i for i in range(size) if i not in by_hand]
        made = forget.auto_annotate(model, object_name, seed, todo)
        store.put(identity, object_name, made)
    except (AnnotationError, OSError, ValueError) as e:
        return message("error", f"Could not auto-annotate: {e}")
    boxes = sum(len(a.boxes) for a in made)
    message(
        "success",
        f"The room instrument annotated {len(made)} of {len(todo)} images ({boxes} boxes); images you annotated by hand "
        f"({len(by_hand)}) were left alone. Its annotations are marked as instrument-made.",
    )
    bump_revision()


def remove_instrument_made(store, identity, object_name: str) -> None:
    try:
        before = store.load(identity, object_name).n_instrument
        store.remove_source(identity, object_name, "instrument")
    except (AnnotationError, OSError) as e:
        return message("error", f"Could not remove them: {e}")
    message("success", f"Removed {before} instrument-made annotations; hand-drawn ones are kept.")
    bump_revision()


def import_annotations(store, identity, object_name: str, config) -> None:
    """An uploaded file (our JSON or COCO) for these weights and this object, merged into the store."""
    uploaded = st.session_state.get(keys.FORGET_IMPORT)
    if uploaded is None:
        return
    try:
        imported = read_annotations_file(uploaded.getvalue(), identity, object_name, config, where=uploaded.name)
        n = imported.n_images
        store.put(identity, object_name, imported.images)
    except AnnotationError as e:
        return message("error", f"Import of {uploaded.name} refused: {e}")
    except OSError as e:
        return message("error", f"Could not save the imported annotations: {e}")
    message("success", f"Imported {n} annotated images from {uploaded.name} (they replace the same images' annotations).")
    bump_revision()


# ---------------------------------------------------------------------------- widgets


def object_picker(where=st) -> str:
    """The object field ("window" by default; any name of letters, digits, - and _); stops the page on a bad name."""
    object_name = where.selectbox(
        "Object", OBJECT_NAMES, key=keys.FORGET_OBJECT, accept_new_options=True, persist_state="session",
        help="What to annotate and forget. The room instrument can auto-annotate and measure "
        + ", ".join(OBJECT_NAMES) + "; other objects can be annotated and fitted by hand.",
    )
    if not valid_object_name(object_name or ""):
        st.error(f"Object name {object_name!r}: use letters, digits, - and _ (e.g. window).", icon=":material/error:")
        st.stop()
    return object_name


def warn_unless_rooms(model) -> None:
    """A model trained on another data set: the room instrument's readings mean little."""
    dataset = model.entry.meta.get("dataset")
    if dataset and dataset != "rooms":
        st.warning(
            f"Model **{model.name}** was trained on {dataset}, not rooms: the room instrument's readings of its pictures "
            "mean little. Pick a rooms model in the sidebar for the paper's experiment.", icon=":material/warning:",
        )


def image_navigator(store, identity, object_name: str, pool_seed: int, pool_size: int) -> int:
    """The pool image to annotate: its number, Previous, Next and Next not annotated."""
    clamp_state(keys.FORGET_INDEX, 0, pool_size - 1)
    st.session_state.setdefault(keys.FORGET_INDEX, 0)
    nav = st.columns([1.2, 1, 1, 1.6, 2.2], vertical_alignment="bottom")
    index = int(nav[0].number_input("Image", 0, pool_size - 1, key=keys.FORGET_INDEX))
    nav[1].button("Previous", icon=":material/arrow_back:", on_click=go_to, args=(max(index - 1, 0),), disabled=index == 0)
    nav[2].button("Next", icon=":material/arrow_forward:", on_click=go_to, args=(min(index + 1, pool_size - 1),),
                  disabled=index >= pool_size - 1)
    nav[3].button("Next not annotated", icon=":material/skip_next:", on_click=go_to_next_unannotated,
                  args=(store, identity, object_name, pool_seed, pool_size, index))
    return index


def annotator(model, store, identity, notes: AnnotationSet, image: np.ndarray, object_name: str, pool_seed: int,
              index: int) -> AnnotationSet:
    """Pool image `index` on a drawing canvas, what is saved for it, and the "no object" toggle.

    The canvas shows the image at a whole-number scale (`forget.canvas_scale`: 12x at 32 px, 6x at
    64, 3x at 128); boxes are kept in pixels of the model's own image size. A box drawn, moved or
    deleted on the canvas is saved at once (only this image is rewritten); returns the annotations
    as saved after this run.
    """
    size = model.config.image_size
    z_i = pool_z(model.config, pool_seed, [index])[0]
    saved = notes.get(pool_seed, index)
    revision = st.session_state.get(keys.FORGET_REVISION, 0)
    canvas_key = f"{keys.FORGET_CANVAS_PREFIX}{identity.fingerprint[:10]}_{object_name}_{pool_seed}_{index}_r{revision}"
    drawing_key, seen_key = keys.FORGET_DRAWING_PREFIX + canvas_key, keys.FORGET_SEEN_PREFIX + canvas_key
    if canvas_key not in st.session_state or drawing_key not in st.session_state:
        # the canvas mounts (new session, page switch, other image): start from what is saved. While it stays
        # mounted its initial drawing must not change, or the canvas would reload it and lose its undo history.
        st.session_state[drawing_key] = drawing_of(saved, size)
        st.session_state[seen_key] = saved.boxes if saved else ()

    canvas_px = forget.canvas_px(size)
    left, right = st.columns([canvas_px + 40, 420])
    with left:
        st.caption(f"pool image #{index} of seed {pool_seed} · {model.describe()}")  # room for the canvas toolbar
        result = st_canvas(
            background_image=Image.fromarray(forget.canvas_picture(image)), width=canvas_px,
            height=canvas_px, drawing_mode="labeled_rect", stroke_width=2, stroke_color=forget.BOX_COLOR,
            fill_color=forget.BOX_FILL, initial_drawing=st.session_state[drawing_key], update_streamlit=True, key=canvas_key,
        )
    drawn = forget.canvas_to_image_boxes(result.boxes, size)
    now = make_annotation(pool_seed, index, z_i, drawn, no_object=bool(saved and saved.no_object), image_size=size)
    elsewhere = False
    if now.boxes != st.session_state[seen_key]:  # drawn, moved or deleted here since the last run: save
        st.session_state[seen_key] = now.boxes
        if now.boxes != (saved.boxes if saved else ()):
            with widgets.user_errors("save the boxes"):
                notes = store.put(identity, object_name, [now])  # only this image is rewritten
            saved = notes.get(pool_seed, index)
    elif now.boxes != (saved.boxes if saved else ()):
        elsewhere = True  # changed on disk by another tab: never overwrite it with what this tab merely shows

    with right:
        if elsewhere:
            st.warning("This image's boxes were changed in another tab; reload the page to see them here.",
                       icon=":material/sync_problem:")
        if saved is None:
            st.markdown(f"**Not annotated yet.** Draw a box around each {object_name}, or mark the image as having none.")
        elif saved.boxes:
            by = "made by the instrument: edit them to make them yours" if saved.source == "instrument" else "drawn by hand"
            st.markdown(f"**{len(saved.boxes)} box{'es' if len(saved.boxes) > 1 else ''} saved** ({by}).")
            st.caption(f"Boxes in pixels of the {size}-px image (x0, y0, x1, y1): " + ", ".join(
                f"({x0:.0f}, {y0:.0f}, {x1:.0f}, {y1:.0f})" for x0, y0, x1, y1 in saved.boxes))
        else:
            by = " (by the instrument)" if saved.source == "instrument" else ""
            st.markdown(f"**Marked: no {object_name}**{by}.")
        none_key = keys.FORGET_NONE_PREFIX + canvas_key
        st.session_state[none_key] = bool(saved and saved.no_object)  # always what is saved (another tab may change it)
        st.toggle(
            f"No {object_name} in this image", key=none_key, disabled=bool(saved and saved.boxes),
            on_change=save_no_object, args=(store, identity, object_name, pool_seed, index, z_i.tolist(), none_key),
            help="Images without the object add only negatives to the fit. Delete the boxes first to use this.",
        )
        st.caption(
            "Drag on the picture to draw a box. Hover over the picture for the toolbar above it: the edit toggle "
            "(then drag a box to move it, drag a corner to resize, or select it and *delete selected*), undo, redo "
            "and reset. Every change is saved at once; clicks without a drag (boxes under 2 px) are ignored."
        )
    return notes


def progress_metrics(notes: AnnotationSet, object_name: str, pool_seed: int, pool_size: int) -> None:
    """How much of the pool is annotated, against the paper's 150 images and 52 boxes."""
    m = st.columns(4)
    in_pool = [a for a in notes.images if a.seed == pool_seed and a.index < pool_size]
    m[0].metric("Images annotated", f"{len(in_pool)} / {pool_size}", help=f"The paper annotated {removal.PAPER_IMAGES} samples.")
    m[1].metric("Boxes drawn", notes.n_boxes, help=f"The paper drew {removal.PAPER_BOXES} window boxes.")
    m[2].metric(f"Marked: no {object_name}", sum(a.no_object for a in notes.images))
    m[3].metric("Made by the instrument", notes.n_instrument, help="Auto-annotated images, not drawn by a person.")
    if notes.n_images != len(in_pool):
        st.caption(f"{notes.n_images - len(in_pool)} more annotated images are from other pool seeds or beyond the pool size.")


def page_link(script_name: str, label: str) -> None:
    """A link to another page registered by Home.py (plain text when this page runs on its own, without it)."""
    pages = st.session_state.get(keys.PAGES) or []
    path = next((p for p, _ in pages if p.endswith(script_name)), None)
    if path is None:
        st.markdown(f"**{label}** (a page of this app)")
    else:
        st.page_link(path, label=label)
