"""Widgets to annotate generated images with boxes (streamlit-drawable-canvas), saved per model and object.

Used by the "Forgetting to draw windows" pages (paper section 6.3.1): the object field, the pool
navigator, the drawing canvas with its status and "no object" toggle, and the callbacks of the
buttons that change annotations. Every change is saved at once through
`dcgan_core.analysis.annotations.AnnotationStore` and given back to the canvas through
`initial_drawing` when it mounts (../shared/CANVAS.md: a reload loses what the canvas shows).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import CanvasResult, boxes_to_drawing, st_canvas

from dcgan_core.analysis import object_removal as removal
from dcgan_core.analysis.annotations import (
    DEFAULT_ANNOTATOR, INSTRUMENT, Annotation, AnnotationError, AnnotationSet, AnnotationStore, make_annotation,
    valid_object_name,
)
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.analysis.coco import read_annotations_file
from dcgan_core.data.rooms import OBJECT_NAMES
from explorer import app_state as keys
from explorer import forget, widgets
from explorer.annotator_name import current_annotator

MESSAGES = {"success": st.success, "error": st.error, "info": st.info}
MARK_COLORS = {"hand": forget.BOX_COLOR, "instrument": "#ffa000", "none": "#28c850", "shown": forget.SHOWN_COLOR}
KEY_LEGEND = (
    "Keys (pointer anywhere, not in a text field): **N** next not annotated · **X** no {object} here, next · "
    "**→ / ←** next / previous · **Z** undo · **E** edit mode, then click a box · **Delete** delete the selected box "
    "· **A** accept boxes suggested from earlier weights · click the pool below to jump to an image"
)

# The keys work with the canvas focused: Streamlit's button shortcuts (N, X, arrows) see key presses that come out of
# the canvas' shadow DOM. This listener, in the capture phase, runs first: (1) a move right after a drag would lose
# the box (the canvas sends a drawing 200 ms after the mouse-up, and the next image unmounts it), so a move key
# within 400 ms of a mouse-up first clicks the canvas' own "send" button; (2) Z, E and Delete press the canvas'
# toolbar buttons (undo, edit, delete selected), which change the drawing and send it; (3) a click on the pool grid
# picture is turned into the pool index under the pointer and sent as the trigger `picked`.
_KEYS_JS = """
const MOVE_KEYS = new Set(['n', 'x', 'arrowleft', 'arrowright']);
const CANVAS_KEYS = {z: 'Undo', e: 'Edit', delete: 'Delete selected', backspace: 'Delete selected'};
const typing = (e) => e.composedPath().some((n) => n && n.tagName
    && (['INPUT', 'TEXTAREA', 'SELECT'].includes(n.tagName) || n.isContentEditable));
function canvasButton(label) {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  for (const host of main.querySelectorAll('*')) {
    const button = host.shadowRoot && host.shadowRoot.querySelector(`button.dc-icon-button[aria-label="${label}"]`);
    if (button) return button;
  }
  return null;
}
// The annotations over the pool grid picture (an SVG in native grid pixels, stretched with it): the picture itself
// never changes, so a move sends a few numbers, not a new picture.
function drawMarks(d, tries) {
  const box = document.querySelector('.st-key-%(grid)s');
  if (!d || !d.grid || !box || !box.querySelector('[data-testid="stImage"] img')) {
    if (tries > 0) requestAnimationFrame(() => drawMarks(window.__dcganAnnotationKeys.data, tries - 1));
    return;
  }
  let svg = box.querySelector(':scope > svg.dcgan-pool-marks');
  if (!svg) {
    svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'dcgan-pool-marks');
    svg.setAttribute('preserveAspectRatio', 'xMinYMin meet');
    box.appendChild(svg);
  }
  const g = d.grid, pitch = g.tile + g.pad, c = d.colors;
  const at = (i) => [g.pad + (i %% g.cols) * pitch, g.pad + Math.floor(i / g.cols) * pitch];
  const rect = (x, y, w, h, color, cls) => `<rect x="${x}" y="${y}" width="${w}" height="${h}" stroke="${color}"${cls ? ` class="${cls}"` : ''}/>`;
  let out = '';
  for (const [i, kind, boxes] of d.marks) {
    const [x, y] = at(i);
    if (kind === 'none') out += rect(x + 0.5, y + 0.5, g.tile - 1, g.tile - 1, c.none, '');
    for (const [x0, y0, x1, y1] of boxes) out += rect(x + x0, y + y0, x1 - x0, y1 - y0, c[kind] || c.hand, '');
  }
  const [x, y] = at(d.shown);
  out += rect(x - g.pad / 2, y - g.pad / 2, g.tile + g.pad, g.tile + g.pad, c.shown, 'shown');
  svg.setAttribute('viewBox', `0 0 ${g.width} ${g.height}`);
  svg.innerHTML = out;
}
export default function ({ data, setTriggerValue }) {
  const s = window.__dcganAnnotationKeys || (window.__dcganAnnotationKeys = { lastUp: -1e9 });
  s.data = typeof data === 'string' ? JSON.parse(data) : data;
  s.setTriggerValue = setTriggerValue;
  drawMarks(s.data, 120);
  if (!s.installed) {
    s.onKey = (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.repeat || typing(e)) return;
      const key = (e.key || '').toLowerCase();
      if (MOVE_KEYS.has(key)) {
        if (performance.now() - s.lastUp < 400) { const send = canvasButton('Update the app with this drawing'); if (send) send.click(); }
      } else if (key in CANVAS_KEYS) {
        const button = canvasButton(CANVAS_KEYS[key]);
        if (button && !button.disabled) { e.preventDefault(); button.click(); }
      }
    };
    s.onUp = () => { s.lastUp = performance.now(); };
    s.onClick = (e) => {
      const img = e.target && e.target.closest && e.target.closest('.st-key-%(grid)s [data-testid="stImage"] img');
      const g = s.data && s.data.grid;
      if (!img || !g) return;
      const r = img.getBoundingClientRect(), pitch = g.tile + g.pad;
      const col = Math.floor(((e.clientX - r.left) / r.width * g.width - g.pad) / pitch);
      const row = Math.floor(((e.clientY - r.top) / r.height * g.height - g.pad) / pitch);
      const index = row * g.cols + col;
      if (col >= 0 && col < g.cols && row >= 0 && index < g.n) s.setTriggerValue('picked', index);
    };
    document.addEventListener('keydown', s.onKey, true);
    document.addEventListener('pointerup', s.onUp, true);
    document.addEventListener('mouseup', s.onUp, true);
    document.addEventListener('click', s.onClick, true);
    s.installed = true;
  }
  return () => {
    document.removeEventListener('keydown', s.onKey, true);
    document.removeEventListener('pointerup', s.onUp, true);
    document.removeEventListener('mouseup', s.onUp, true);
    document.removeEventListener('click', s.onClick, true);
    s.installed = false;
  };
}
""" % {"grid": keys.FORGET_GRID}
_KEYS_CSS = f""".st-key-{keys.FORGET_GRID} {{position: relative}}
.st-key-{keys.FORGET_GRID} img {{cursor: pointer}}
svg.dcgan-pool-marks {{position: absolute; left: 0; top: 0; width: 100%; pointer-events: none; fill: none}}
svg.dcgan-pool-marks rect {{vector-effect: non-scaling-stroke; stroke-width: 1.5px}}
svg.dcgan-pool-marks rect.shown {{stroke-width: 3px}}"""
_keys_component = st.components.v2.component("dcgan_annotation_keys", js=_KEYS_JS, css=_KEYS_CSS, isolate_styles=False)


@dataclass(frozen=True)
class ShownImage:
    """The pool image on the canvas: where its annotation is saved, and the canvas (widget key) that shows it."""

    store: AnnotationStore
    identity: ModelIdentity
    object_name: str
    seed: int
    index: int
    z: tuple[float, ...]
    image_size: int
    canvas_key: str
    annotator: str = DEFAULT_ANNOTATOR  # whose record this session edits

    def load(self) -> AnnotationSet:
        return forget.saved_annotations(self.store, self.identity, self.object_name)

    def put(self, annotation: Annotation) -> AnnotationSet:
        return self.store.put(self.identity, self.object_name, [annotation])

    def annotation(self, boxes=(), no_object: bool = False) -> Annotation:
        return make_annotation(self.seed, self.index, self.z, boxes, no_object=no_object, image_size=self.image_size,
                               annotator=self.annotator)

    def saved_in(self, notes: AnnotationSet) -> Annotation | None:
        """This annotator's record of the image, else the instrument's (a suggestion until the person saves theirs)."""
        return notes.get(self.seed, self.index, self.annotator) or notes.get(self.seed, self.index, INSTRUMENT)


def shown_image(model, store, identity, object_name: str, pool_seed: int, index: int) -> ShownImage:
    revision = st.session_state.get(keys.FORGET_REVISION, 0)
    return ShownImage(
        store, identity, object_name, int(pool_seed), int(index),
        tuple(forget.pool_codes(model.loaded, model.key, pool_seed)[index].tolist()), model.config.image_size,
        f"{keys.FORGET_CANVAS_PREFIX}{identity.fingerprint[:10]}_{object_name}_{pool_seed}_{index}_r{revision}",
        current_annotator(),
    )


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


def go_to_next_unannotated(store, identity, object_name: str, seed: int, size: int, current: int,
                           annotator: str = DEFAULT_ANNOTATOR) -> None:
    try:
        done = {a.index for a in forget.saved_annotations(store, identity, object_name).images
                if a.seed == seed and a.annotator in (annotator, INSTRUMENT)}
    except AnnotationError as e:
        return message("error", str(e))
    order = [*range(current + 1, size), *range(0, current + 1)]
    todo = next((i for i in order if i not in done), None)
    if todo is None:
        message("info", f"Every image of the pool ({size}) is annotated.")
    else:
        go_to(todo)


def save_canvas(shown: ShownImage) -> None:
    """Save what the canvas of `shown` holds, if it changed since the last run (on_change of the canvas, and the
    first step of every move: a drawing sent with a move key is saved although the next run shows another image)."""
    state = st.session_state.get(shown.canvas_key)
    drawing = state.get("drawing") if isinstance(state, dict) else None
    seen_key = keys.FORGET_SEEN_PREFIX + shown.canvas_key
    if not isinstance(drawing, dict) or seen_key not in st.session_state:
        return
    boxes = forget.canvas_to_image_boxes(CanvasResult(drawing.get("raw"), None, False).boxes, shown.image_size)
    try:
        saved = shown.saved_in(shown.load())
        now = shown.annotation(boxes, no_object=bool(saved and saved.no_object))
        if now.boxes == st.session_state[seen_key]:
            return  # nothing drawn here since the last run: never overwrite what another tab saved
        st.session_state[seen_key] = now.boxes
        if now.boxes != (saved.boxes if saved else ()):
            shown.put(now)
    except (AnnotationError, OSError) as e:
        message("error", f"Could not save the boxes of image #{shown.index}: {e}")


def move_to(shown: ShownImage, index: int) -> None:
    save_canvas(shown)
    go_to(index)


def next_not_annotated(shown: ShownImage, size: int) -> None:
    save_canvas(shown)
    go_to_next_unannotated(shown.store, shown.identity, shown.object_name, shown.seed, size, shown.index, shown.annotator)


def none_here_next(shown: ShownImage, size: int) -> None:
    """Mark the shown image as having no object and go to the next image not annotated (one key: X)."""
    save_canvas(shown)
    try:
        saved = shown.saved_in(shown.load())
        if saved is not None and saved.boxes:
            return message("error", f"Image #{shown.index} has boxes: delete them (E, click a box, Delete) to mark it "
                                    f"as having no {shown.object_name}.")
        shown.put(shown.annotation(no_object=True))
    except (AnnotationError, OSError) as e:
        return message("error", f"Could not save: {e}")
    go_to_next_unannotated(shown.store, shown.identity, shown.object_name, shown.seed, size, shown.index, shown.annotator)


def take_grid_pick(model, store, identity, object_name: str, pool_seed: int, pool_size: int) -> None:
    """on_picked_change of the keys component: a click on the pool grid (its trigger `picked`, a pool index) shows
    that image."""
    index = (st.session_state.get(keys.FORGET_KEYS) or {}).get("picked")
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < pool_size:
        current = min(max(int(st.session_state.get(keys.FORGET_INDEX, 0)), 0), pool_size - 1)
        move_to(shown_image(model, store, identity, object_name, pool_seed, current), index)


def save_no_object(
    store, identity, object_name: str, seed: int, index: int, z: list[float], toggle_key: str, shown: bool = None,
    annotator: str = DEFAULT_ANNOTATOR,
) -> None:
    """on_change of the "no object" toggle, which showed `shown`. Streamlit may call it with the value it showed
    (seen after a key moved on: X saved "none" and the toggle's call then undid it); only a flip is saved."""
    if shown is not None and bool(st.session_state[toggle_key]) == shown:
        return
    try:
        notes = store.load(identity, object_name)
        saved = notes.get(seed, index, annotator) or notes.get(seed, index, INSTRUMENT)
        if saved is not None and saved.boxes:
            return  # boxes win: the toggle is disabled then
        store.put(identity, object_name, [make_annotation(seed, index, z, (), no_object=bool(st.session_state[toggle_key]),
                                                          annotator=annotator)])
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


def image_navigator(model, store, identity, object_name: str, pool_seed: int, pool_size: int) -> ShownImage:
    """The pool image to annotate: its number, Previous, Next, Next not annotated and "none here, next", with keys."""
    clamp_state(keys.FORGET_INDEX, 0, pool_size - 1)
    st.session_state.setdefault(keys.FORGET_INDEX, 0)
    nav = st.columns([1, 1, 1, 1.5, 1.7], vertical_alignment="bottom")
    index = int(nav[0].number_input("Image", 0, pool_size - 1, key=keys.FORGET_INDEX))
    shown = shown_image(model, store, identity, object_name, pool_seed, index)
    nav[1].button("Previous", icon=":material/arrow_back:", on_click=move_to, args=(shown, max(index - 1, 0)),
                  disabled=index == 0, shortcut="Left")
    nav[2].button("Next", icon=":material/arrow_forward:", on_click=move_to, args=(shown, min(index + 1, pool_size - 1)),
                  disabled=index >= pool_size - 1, shortcut="Right")
    nav[3].button("Next not annotated", icon=":material/skip_next:", on_click=next_not_annotated, args=(shown, pool_size),
                  shortcut="N")
    nav[4].button(f"No {object_name} here, next", icon=":material/block:", on_click=none_here_next,
                  args=(shown, pool_size), shortcut="X")
    st.caption(KEY_LEGEND.format(object=object_name))
    return shown


def accept_suggestion(shown: ShownImage, suggested: Annotation, size: int) -> None:
    """Save boxes carried over from earlier weights as this annotator's record, then go on (key A)."""
    try:
        shown.put(shown.annotation(suggested.boxes, no_object=suggested.no_object))
    except (AnnotationError, OSError) as e:
        return message("error", f"Could not save: {e}")
    go_to_next_unannotated(shown.store, shown.identity, shown.object_name, shown.seed, size, shown.index, shown.annotator)


def annotator(model, shown: ShownImage, notes: AnnotationSet, image: np.ndarray, pool_size: int | None = None) -> AnnotationSet:
    """Pool image `shown.index` on a drawing canvas, what is saved for it, and the "no object" toggle.

    The canvas shows the image at a whole-number scale (`forget.canvas_scale`: 12x at 32 px, 6x at
    64, 3x at 128); boxes are kept in pixels of the model's own image size. A box drawn, moved or
    deleted on the canvas is saved at once (only this image is rewritten; `save_canvas` as the
    canvas' on_change, and here); returns the annotations as saved after this run.
    """
    size, object_name, pool_seed, index = shown.image_size, shown.object_name, shown.seed, shown.index
    store, identity, canvas_key = shown.store, shown.identity, shown.canvas_key
    z_i = shown.z
    saved = shown.saved_in(notes)
    step, suggested = None, None
    if saved is None:  # boxes drawn on earlier weights of this run, offered on the new picture of the same z
        step, hints = forget.suggestions_for(store, identity, object_name, model.config)
        suggested = hints.get((pool_seed, index))
    drawing_key, seen_key = keys.FORGET_DRAWING_PREFIX + canvas_key, keys.FORGET_SEEN_PREFIX + canvas_key
    if canvas_key not in st.session_state or drawing_key not in st.session_state:
        # the canvas mounts (new session, page switch, other image): start from what is saved. While it stays
        # mounted its initial drawing must not change, or the canvas would reload it and lose its undo history.
        st.session_state[drawing_key] = drawing_of(saved or suggested, size)
        st.session_state[seen_key] = (saved or suggested).boxes if (saved or suggested) else ()  # shown, not yet saved

    canvas_px = forget.canvas_px(size)
    left, right = st.columns([canvas_px + 40, 420])
    with left:
        st.caption(f"pool image #{index} of seed {pool_seed} · {model.describe()}")  # room for the canvas toolbar
        result = st_canvas(
            background_image=forget.canvas_background(image, model.key, pool_seed, index), width=canvas_px,
            height=canvas_px, drawing_mode="labeled_rect", stroke_width=2, stroke_color=forget.BOX_COLOR,
            fill_color=forget.BOX_FILL, initial_drawing=st.session_state[drawing_key], update_streamlit=True, key=canvas_key,
            on_change=functools.partial(save_canvas, shown),
        )
    drawn = forget.canvas_to_image_boxes(result.boxes, size)
    now = make_annotation(pool_seed, index, z_i, drawn, no_object=bool(saved and saved.no_object), image_size=size,
                          annotator=shown.annotator)
    elsewhere = False
    if now.boxes != st.session_state[seen_key]:  # drawn, moved or deleted here since the last run: save
        st.session_state[seen_key] = now.boxes
        if now.boxes != (saved.boxes if saved else ()):
            with widgets.user_errors("save the boxes"):
                notes = store.put(identity, object_name, [now])  # only this image is rewritten
            saved = shown.saved_in(notes)
    elif now.boxes != (saved.boxes if saved else ()):
        elsewhere = True  # changed on disk by another tab: never overwrite it with what this tab merely shows

    with right:
        if elsewhere:
            st.warning("This image's boxes were changed in another tab; reload the page to see them here.",
                       icon=":material/sync_problem:")
        if saved is None and suggested is not None:
            what = (f"{len(suggested.boxes)} box{'es' if len(suggested.boxes) != 1 else ''}" if suggested.boxes
                    else f"no {object_name}")
            st.markdown(f"**Suggested from step {step}:** {what}, annotated on earlier weights of this run (the same z "
                        "draws this picture now). Accept, or fix the boxes: any change saves them as yours.")
            st.button("Accept the suggestion", icon=":material/check:", shortcut="A", on_click=accept_suggestion,
                      args=(shown, suggested, pool_size or index + 1))
        elif saved is None:
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
            on_change=save_no_object,
            args=(store, identity, object_name, pool_seed, index, list(z_i), none_key, bool(saved and saved.no_object),
                  shown.annotator),
            help="Images without the object add only negatives to the fit. Delete the boxes first to use this.",
        )
        st.caption(
            "Drag on the picture to draw a box; **N** goes on to the next image. Hover over the picture for the "
            "toolbar above it: the edit toggle (then drag a box to move it, drag a corner to resize, or select it "
            "and *delete selected*), undo, redo and reset. Every change is saved at once; clicks without a drag (boxes under 2 px) are ignored."
        )
    return notes


def pool_grid(model, images: np.ndarray, notes: AnnotationSet, shown: ShownImage, on_pick) -> None:
    """The whole pool with its annotations (drawn by the browser over a picture that never changes) and the shown
    image framed in blue; a click on an image shows it. Also mounts the page's key listener."""
    with st.container(key=keys.FORGET_GRID):
        st.image(forget.pool_grid_picture(images, model.key, shown.seed, len(images)), width="stretch")
    st.caption(f"pool images 0-{len(images) - 1} of seed {shown.seed}, {forget.POOL_GRID_COLUMNS} a row: click one to "
               f"annotate it · blue: on the canvas · red: boxes by hand, orange: by the instrument, green frame: "
               f"no {shown.object_name}")
    marks = {"grid": forget.pool_grid_geometry(len(images), shown.image_size), "shown": shown.index,
             "marks": forget.grid_marks(notes, shown.seed, len(images)), "colors": MARK_COLORS}
    _keys_component(data=json.dumps(marks), key=keys.FORGET_KEYS, on_picked_change=on_pick, width="stretch",
                    height="content")  # data as one string: no data frame checks of each value


@st.fragment
def annotation_panel(model, store, identity, object_name: str, pool_seed: int, pool_size: int, images: np.ndarray) -> None:
    """Step 1 of the page, rerun on its own (a fragment): moving to the next image redraws only this.

    The message of the last action, the progress, the navigator and its keys, the canvas, and the clickable pool."""
    with st.empty():  # always one element, message or not: the canvas below never moves, so it is never remounted
        show_message()  # (a remount would lose its undo history and show the drawing it was first given)
    progress = st.container()  # filled once this run's drawing is saved
    with widgets.user_errors("read the saved annotations"):
        notes = forget.saved_annotations(store, identity, object_name)
    shown = image_navigator(model, store, identity, object_name, pool_seed, pool_size)
    notes = annotator(model, shown, notes, images[shown.index], pool_size)
    with progress:
        progress_metrics(notes, object_name, pool_seed, pool_size)
    pool_grid(model, images, notes, shown, functools.partial(
        take_grid_pick, model, store, identity, object_name, pool_seed, pool_size))


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
