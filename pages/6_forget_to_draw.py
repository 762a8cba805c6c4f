"""Make the generator forget to draw windows (paper section 6.3.1, Fig. 6): draw window boxes on generated rooms with the mouse, fit a logistic regression that finds the feature maps drawing windows, then drop those maps and measure how many windows disappear, against dropping random maps.

Annotations are saved automatically per model and object (JSON files in $DCGAN_ANNOTATIONS_DIR,
default ~/.local/share/dcgan-explorer/annotations) and can be exported and imported. The object
is a field: beds, lamps, doors, pictures and rugs work the same way. Library:
`dcgan_core.analysis.object_removal`.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import boxes_to_drawing, st_canvas

from dcgan_core.analysis import object_removal as removal
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
from dcgan_core.data.rooms import OBJECT_NAMES
from dcgan_core.generate import generate
from dcgan_core.images import upscale_nearest
from dcgan_core.latent import sample_z
from explorer import app_state as keys
from explorer import widgets
from explorer.model_picker import require_model

CANVAS_PX = 384  # the 64-px image is drawn on at 6x
SCALE = CANVAS_PX // removal.IMAGE_SIZE
BOX_RGB = (255, 43, 43)
BOX_COLOR = "#ff2b2b"
BOX_FILL = "rgba(255, 43, 43, 0.12)"
SELECT_MODES = {"threshold": "weight above a threshold", "count": "the largest weights"}


# ---------------------------------------------------------------------------- compute, cached per model weights


@st.cache_data(max_entries=8, show_spinner=False)
def model_identity(_model, model_key: tuple, name: str) -> removal.ModelIdentity:
    return removal.ModelIdentity.of(name, _model.generator, _model.checkpoint.step)


@st.cache_data(max_entries=8, show_spinner="Generating the pool...")
def pool_images(_model, model_key: tuple, seed: int, size: int) -> np.ndarray:
    """uint8 (size, 64, 64, 3): pool images 0..size-1 of `seed`."""
    return generate(_model.generator, removal.pool_z(_model.config, seed, range(size)))


@st.cache_resource(show_spinner="Loading the room instrument...")
def room_instrument():
    """The shipped room instrument, shared read-only by every session."""
    return load_instrument(default_instrument_path("rooms"), kind="rooms")


@st.cache_data(max_entries=8, show_spinner=False)
def fit_maps(_model, model_key: tuple, annotations_json: str) -> removal.FitResult:
    notes = removal.AnnotationSet.from_json(annotations_json)
    return removal.fit_object_maps(removal.collect_training_data(_model.generator, notes))


@st.cache_data(max_entries=16, show_spinner=False)
def drop_pairs(_model, model_key: tuple, seed: int, n: int, layer: int, maps: tuple, control: tuple) -> np.ndarray:
    """uint8 (3n, H, W, C): n samples of `seed`, then with `maps` dropped, then with `control` dropped."""
    z = sample_z(n, _model.config, seed=seed)
    before, fitted = removal.generate_with_and_without(_model.generator, z, layer, maps)
    _, randomised = removal.generate_with_and_without(_model.generator, z, layer, control)
    return np.concatenate([before, fitted, randomised])


@st.cache_data(max_entries=16, show_spinner=False)
def measure(
    _model, model_key: tuple, object_name: str, n: int, seed: int, layer: int, maps: tuple, control: tuple
) -> removal.RemovalMeasurement:
    z = sample_z(n, _model.config, seed=seed)
    return removal.measure_removal(_model.generator, room_instrument(), z, layer, maps, object_name, random_control=control)


# ---------------------------------------------------------------------------- small helpers


def with_boxes(images: np.ndarray, notes: removal.AnnotationSet, seed: int) -> np.ndarray:
    """The pool with its annotations drawn: red boxes (orange when instrument-made), a green frame for 'none here'."""
    out = images.copy()
    for a in notes.images:
        if a.seed != seed or a.index >= len(out):
            continue
        img = out[a.index]
        if a.no_object:
            img[[0, -1], :], img[:, [0, -1]] = (40, 200, 80), (40, 200, 80)
        color = BOX_RGB if a.source == "hand" else (255, 160, 0)
        for x0, y0, x1, y1 in a.boxes:
            c0, r0 = int(x0), int(y0)
            c1, r1 = max(c0, int(np.ceil(x1)) - 1), max(r0, int(np.ceil(y1)) - 1)
            img[r0 : r1 + 1, [c0, c1]] = color
            img[[r0, r1], c0 : c1 + 1] = color
    return out


def drawing_of(saved: removal.Annotation | None) -> dict:
    """The canvas drawing (Fabric.js objects, canvas pixels) of a saved annotation's boxes."""
    boxes = [] if saved is None else saved.boxes
    return boxes_to_drawing(
        [{"left": x0 * SCALE, "top": y0 * SCALE, "width": (x1 - x0) * SCALE, "height": (y1 - y0) * SCALE} for x0, y0, x1, y1 in boxes],
        stroke_color=BOX_COLOR, stroke_width=2, fill_color=BOX_FILL,
    )


def message(kind: str, text: str) -> None:
    """Show `text` above the annotator until another image is shown (callbacks run before the page is drawn, and
    the canvas reruns the page on its own, so a message shown only once would flash by)."""
    st.session_state[keys.FORGET_MESSAGE] = (kind, text, st.session_state.get(keys.FORGET_INDEX, 0))


def bump_revision() -> None:
    """Annotations changed outside the canvases: remount them so they show what is saved now."""
    st.session_state[keys.FORGET_REVISION] = st.session_state.get(keys.FORGET_REVISION, 0) + 1


def clamp_state(key: str, lo, hi) -> None:
    if key in st.session_state:
        st.session_state[key] = min(max(st.session_state[key], lo), hi)


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def table_row(row: dict) -> dict:
    """A row of `RemovalMeasurement.rows()` as text: shares in percent, pixel change in 0-255 units."""
    out = {}
    for k, v in row.items():
        if k == "pixel change":
            out[k] = f"{v:.1f}"
        elif k in ("condition", "maps dropped"):
            out[k] = v
        else:
            out[k] = pct(v)
    return out


# ---------------------------------------------------------------------------- callbacks (run before the next script run)


def go_to(index: int) -> None:
    st.session_state[keys.FORGET_INDEX] = index


def go_to_next_unannotated(store, identity, object_name: str, seed: int, size: int, current: int) -> None:
    try:
        done = {a.index for a in store.load(identity, object_name).images if a.seed == seed}
    except removal.AnnotationError as e:
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
        store.put(identity, object_name, [removal.make_annotation(seed, index, z, (), no_object=bool(st.session_state[toggle_key]))])
    except (removal.AnnotationError, OSError) as e:
        message("error", f"Could not save: {e}")


def auto_annotate(model, store, identity, object_name: str, seed: int, size: int) -> None:
    try:
        notes = store.load(identity, object_name)
        by_hand = {a.index for a in notes.images if a.seed == seed and a.source == "hand"}
        todo = [i for i in range(size) if i not in by_hand]
        made = removal.auto_annotate(
            model.generator, room_instrument(), removal.pool_z(model.config, seed, todo), object_name, seed=seed, indices=todo
        )
        store.put(identity, object_name, made)
    except (removal.AnnotationError, OSError, ValueError) as e:
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
    except (removal.AnnotationError, OSError) as e:
        return message("error", f"Could not remove them: {e}")
    message("success", f"Removed {before} instrument-made annotations; hand-drawn ones are kept.")
    bump_revision()


def import_annotations(store, identity, object_name: str) -> None:
    uploaded = st.session_state.get(keys.FORGET_IMPORT)
    if uploaded is None:
        return
    try:
        _, n = store.import_json(identity, object_name, uploaded.getvalue())
    except removal.AnnotationError as e:
        return message("error", f"Import of {uploaded.name} refused: {e}")
    except OSError as e:
        return message("error", f"Could not save the imported annotations: {e}")
    message("success", f"Imported {n} annotated images from {uploaded.name} (they replace the same images' annotations).")
    bump_revision()


# ---------------------------------------------------------------------------- the page

widgets.page_header(
    "Forgetting to draw windows",
    "Paper section 6.3.1, Fig. 6",
    "Does the generator have feature maps that *draw windows*? Draw boxes around the windows of generated rooms "
    "(the paper drew 52 boxes on 150 samples), fit a logistic regression that predicts from the second-highest "
    "convolution layer whether an activation lies on a window, then zero the maps with positive weights everywhere: "
    "the rooms are drawn again without their windows. Dropping as many random maps is the control.",
)
model = require_model(image_size=removal.IMAGE_SIZE, what="forgetting to draw windows (the room instrument reads 64-px images)")
g = model.generator
layer = g.penultimate_layer
n_maps = g.feature_channels[layer]
store = removal.AnnotationStore()

c = st.columns([1.2, 1, 1, 2])
object_name = c[0].selectbox(
    "Object", OBJECT_NAMES, key=keys.FORGET_OBJECT, accept_new_options=True, persist_state="session",
    help="What to annotate and forget. The room instrument can auto-annotate and measure "
    + ", ".join(OBJECT_NAMES) + "; other objects can be annotated and fitted by hand.",
)
if not removal.valid_object_name(object_name or ""):
    st.error(f"Object name {object_name!r}: use letters, digits, - and _ (e.g. window).", icon=":material/error:")
    st.stop()
pool_seed = int(c[1].number_input("Pool seed", 0, 2**31 - 1, 0, key=keys.FORGET_POOL_SEED, persist_state="session"))
pool_size = int(c[2].number_input(
    "Pool size", 10, removal.POOL_MAX, removal.PAPER_IMAGES, step=10, key=keys.FORGET_POOL_SIZE, persist_state="session",
    help=f"Generated images offered for annotation (the paper used {removal.PAPER_IMAGES}).",
))
measurable = object_name in OBJECT_NAMES
dataset = model.entry.meta.get("dataset")
if dataset and dataset != "rooms":
    st.warning(
        f"Model **{model.name}** was trained on {dataset}, not rooms: the room instrument's readings of its pictures "
        "mean little. Pick a rooms model in the sidebar for the paper's experiment.", icon=":material/warning:",
    )

with widgets.user_errors("read the saved annotations"):
    identity = model_identity(model.loaded, model.key, model.name)
    notes = store.load(identity, object_name)
    images = pool_images(model.loaded, model.key, pool_seed, pool_size)
c[3].caption(
    f"Annotations of {object_name} on {identity.describe()} are saved automatically in "
    f"`{store.path(identity, object_name)}`."
)

tab_annotate, tab_fit, tab_drop = st.tabs(["1 · Annotate", "2 · Fit", "3 · Drop and measure"])

# ---------------------------------------------------------------------------- 1. annotate
with tab_annotate:
    shown = st.session_state.get(keys.FORGET_MESSAGE)
    if shown and shown[2] == st.session_state.get(keys.FORGET_INDEX, 0):
        {"success": st.success, "error": st.error, "info": st.info}[shown[0]](shown[1])
    else:
        st.session_state.pop(keys.FORGET_MESSAGE, None)

    progress = st.container()  # filled once this run's drawing is saved
    clamp_state(keys.FORGET_INDEX, 0, pool_size - 1)
    st.session_state.setdefault(keys.FORGET_INDEX, 0)
    nav = st.columns([1.2, 1, 1, 1.6, 2.2], vertical_alignment="bottom")
    index = int(nav[0].number_input("Image", 0, pool_size - 1, key=keys.FORGET_INDEX))
    nav[1].button("Previous", icon=":material/arrow_back:", on_click=go_to, args=(max(index - 1, 0),), disabled=index == 0)
    nav[2].button("Next", icon=":material/arrow_forward:", on_click=go_to, args=(min(index + 1, pool_size - 1),),
                  disabled=index >= pool_size - 1)
    nav[3].button("Next not annotated", icon=":material/skip_next:", on_click=go_to_next_unannotated,
                  args=(store, identity, object_name, pool_seed, pool_size, index))

    z_i = removal.pool_z(model.config, pool_seed, [index])[0]
    saved = notes.get(pool_seed, index)
    revision = st.session_state.get(keys.FORGET_REVISION, 0)
    canvas_key = f"{keys.FORGET_CANVAS_PREFIX}{identity.fingerprint[:10]}_{object_name}_{pool_seed}_{index}_r{revision}"
    drawing_key, seen_key = keys.FORGET_DRAWING_PREFIX + canvas_key, keys.FORGET_SEEN_PREFIX + canvas_key
    if canvas_key not in st.session_state or drawing_key not in st.session_state:
        # the canvas mounts (new session, page switch, other image): start from what is saved. While it stays
        # mounted its initial drawing must not change, or the canvas would reload it and lose its undo history.
        st.session_state[drawing_key] = drawing_of(saved)
        st.session_state[seen_key] = saved.boxes if saved else ()

    left, right = st.columns([CANVAS_PX + 40, 420])
    with left:
        st.caption(f"pool image #{index} of seed {pool_seed} · {model.describe()}")  # room for the canvas toolbar
        result = st_canvas(
            background_image=Image.fromarray(upscale_nearest(images[index], SCALE)), width=CANVAS_PX, height=CANVAS_PX,
            drawing_mode="labeled_rect", stroke_width=2, stroke_color=BOX_COLOR, fill_color=BOX_FILL,
            initial_drawing=st.session_state[drawing_key], update_streamlit=True, key=canvas_key,
        )
    drawn = [
        (b["left"] / SCALE, b["top"] / SCALE, (b["left"] + b["width"]) / SCALE, (b["top"] + b["height"]) / SCALE)
        for b in result.boxes
    ]
    now = removal.make_annotation(pool_seed, index, z_i, drawn, no_object=bool(saved and saved.no_object))
    elsewhere = False
    if now.boxes != st.session_state[seen_key]:  # drawn, moved or deleted here since the last run: save
        st.session_state[seen_key] = now.boxes
        if now.boxes != (saved.boxes if saved else ()):
            with widgets.user_errors("save the boxes"):
                notes = store.put(identity, object_name, [now])  # only this image is rewritten
            saved = notes.get(pool_seed, index)
    elif now.boxes != (saved.boxes if saved else ()):
        elsewhere = True  # changed on disk by another tab: never overwrite it with what this tab merely shows

    with progress:
        m = st.columns(4)
        in_pool = [a for a in notes.images if a.seed == pool_seed and a.index < pool_size]
        m[0].metric("Images annotated", f"{len(in_pool)} / {pool_size}", help=f"The paper annotated {removal.PAPER_IMAGES} samples.")
        m[1].metric("Boxes drawn", notes.n_boxes, help=f"The paper drew {removal.PAPER_BOXES} window boxes.")
        m[2].metric(f"Marked: no {object_name}", sum(a.no_object for a in notes.images))
        m[3].metric("Made by the instrument", notes.n_instrument, help="Auto-annotated images, not drawn by a person.")
        if notes.n_images != len(in_pool):
            st.caption(f"{notes.n_images - len(in_pool)} more annotated images are from other pool seeds or beyond the pool size.")

    with right:
        if elsewhere:
            st.warning("This image's boxes were changed in another tab; reload the page to see them here.",
                       icon=":material/sync_problem:")
        if saved is None:
            st.markdown(f"**Not annotated yet.** Draw a box around each {object_name}, or mark the image as having none.")
        elif saved.boxes:
            by = "made by the instrument: edit them to make them yours" if saved.source == "instrument" else "drawn by hand"
            st.markdown(f"**{len(saved.boxes)} box{'es' if len(saved.boxes) > 1 else ''} saved** ({by}).")
            st.caption("Boxes in image pixels (x0, y0, x1, y1): " + ", ".join(
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

    with st.expander("The whole pool, with its annotations", icon=":material/grid_view:"):
        widgets.show_grid(
            with_boxes(images, notes, pool_seed), nrow=15, min_px=1200,
            caption=f"pool images 0-{pool_size - 1} of seed {pool_seed} · red: boxes by hand, orange: by the instrument, "
            f"green frame: no {object_name}",
        )

    st.subheader("Share, import, auto-annotate")
    t = st.columns(3)
    with t[0]:
        st.download_button(
            "Export annotations (JSON)", notes.to_json(), mime="application/json", on_click="ignore",
            file_name=f"{widgets.file_stem('annotations', model.name, identity.fingerprint[:8], object_name)}.json",
            icon=":material/download:", disabled=notes.n_images == 0,
        )
        st.caption(f"{notes.n_images} images, {notes.n_boxes} boxes; seed, index, z and boxes in 64-px image pixels.")
    with t[1]:
        st.file_uploader(
            "Import annotations (JSON exported here)", type=["json"], key=keys.FORGET_IMPORT, on_change=import_annotations,
            args=(store, identity, object_name), max_upload_size=removal.MAX_IMPORT_BYTES // 1_000_000,
            help="Only annotations drawn on this model's weights and for this object are accepted.",
        )
    with t[2]:
        st.button(
            "Auto-annotate with the instrument", icon=":material/smart_toy:", disabled=not measurable,
            on_click=auto_annotate, args=(model.loaded, store, identity, object_name, pool_seed, pool_size),
        )
        st.caption(
            "**For a demo without drawing.** The room instrument (a classifier, not a person) boxes the "
            f"{object_name}s of every pool image you have not annotated by hand; these are marked instrument-made."
            if measurable else f"The room instrument does not know {object_name}s: annotate them by hand."
        )
        st.button(
            "Remove instrument-made annotations", icon=":material/delete:", disabled=notes.n_instrument == 0,
            on_click=remove_instrument_made, args=(store, identity, object_name),
        )
    older = store.others(identity, object_name)
    if older:
        st.caption(
            f"{len(older)} annotation file(s) of {model.name} for other weights (e.g. an earlier training step) are in "
            f"`{store.root}`; they do not apply to these weights."
        )

# ---------------------------------------------------------------------------- 2. fit
fits = st.session_state.setdefault(keys.FORGET_FIT, {})
fit_slot = (identity.fingerprint, object_name)
fit = None
with tab_fit:
    st.markdown(
        f"Positives: the feature vectors (one value per map) of layer {layer} ({n_maps} maps at "
        f"{g.feature_sizes[layer]}x{g.feature_sizes[layer]}) at positions whose cell centre lies inside a box. "
        "Negatives: up to 64 random positions per image touching no box. Logistic regression (scikit-learn, "
        f"standardised activations, balanced classes, strong L2: C = {removal.DEFAULT_C:g}, so that correlated maps "
        "share weight instead of cancelling); accuracy held out by image."
    )
    if st.button("Fit logistic regression", type="primary", icon=":material/model_training:", disabled=notes.n_boxes == 0):
        fits[fit_slot] = notes.to_json()
    if notes.n_boxes == 0:
        st.info(f"Draw at least one {object_name} box (or auto-annotate) to fit.", icon=":material/info:")
    fit_json = fits.get(fit_slot)
    if fit_json:
        with st.spinner("Fitting..."), widgets.user_errors("fit the logistic regression"):
            fit = fit_maps(model.loaded, model.key, fit_json)
        if fit_json != notes.to_json():
            st.info("The annotations changed since this fit: fit again to use them.", icon=":material/info:")

# ---------------------------------------------------------------------------- 3. drop and measure (choose maps first)
with tab_drop:
    if fit is None:
        st.info("Fit the logistic regression first (tab 2).", icon=":material/info:")
        maps = np.zeros(0, np.int64)
    else:
        s = st.columns([2, 2, 1])
        mode = s[0].segmented_control(
            "Drop the maps with", list(SELECT_MODES), default="threshold", format_func=SELECT_MODES.get, required=True,
            key=keys.FORGET_SELECT,
        )
        if mode == "threshold":
            threshold = s[1].slider(
                "Relative weight threshold (paper: 0)", -1.0, 1.0, 0.0, step=0.01, key=keys.FORGET_THRESHOLD,
                help="Drop the maps whose weight, divided by the largest |weight|, exceeds this. 0 drops every map "
                "with a positive weight, as the paper did.",
            )
            maps = fit.maps_above(threshold)
        else:
            st.session_state.setdefault(keys.FORGET_COUNT, len(fit.maps_above(0.0)))
            clamp_state(keys.FORGET_COUNT, 0, n_maps)
            count = s[1].slider("Number of maps (largest weights)", 0, n_maps, key=keys.FORGET_COUNT)
            maps = fit.top_maps(count)
        s[2].metric("Maps dropped", f"{len(maps)} of {n_maps}")

with tab_fit:
    if fit is not None:
        m = st.columns(5)
        m[0].metric("Held-out accuracy", pct(fit.accuracy),
                    help=f"Fitted on other images, scored on {fit.n_test_images} held-out images' positions."
                    if fit.accuracy is not None else "Needs at least 4 annotated images, with boxes on both sides of the split.")
        m[1].metric("Balanced accuracy", pct(fit.balanced_accuracy), help="Mean of the accuracy on positives and on negatives.")
        m[2].metric("Positives", f"{fit.n_positive:,}", help=f"Feature positions inside a {object_name} box.")
        m[3].metric("Negatives", f"{fit.n_negative:,}", help="Feature positions touching no box, sampled from the same images.")
        m[4].metric("Images", fit.n_images)
        dropped = np.zeros(n_maps, bool)
        dropped[maps] = True
        fig = go.Figure(go.Bar(
            x=np.arange(n_maps), y=fit.relative_weights, marker_color=np.where(dropped, BOX_COLOR, "#4c78a8"),
            hovertemplate="map %{x}<br>weight %{y:.3f}<extra></extra>",
        ))
        fig.update_layout(
            xaxis_title=f"feature map of layer {layer}", yaxis_title="weight / largest |weight|", height=340,
            margin=dict(l=10, r=10, t=30, b=10), title=f"Logistic regression weights ({len(maps)} maps dropped in red)",
        )
        st.plotly_chart(fig, width="stretch")
        st.caption(
            f"A positive weight: the map is more active on {object_name}s than elsewhere. Held-out accuracy "
            f"{pct(fit.accuracy)} on {fit.n_test_images} images never seen by the fit (split by image, not position)."
        )

with tab_drop:
    if fit is not None:
        p = st.columns([1, 1, 1, 3])
        pairs_seed = int(p[0].number_input("Seed of the samples", 0, 2**31 - 1, 1, key=keys.FORGET_PAIRS_SEED))
        pairs_n = int(p[1].slider("Samples", 4, 16, 8, key=keys.FORGET_PAIRS_N))
        control_seed = int(p[2].number_input("Seed of the random maps", 0, 2**31 - 1, 0, key=keys.FORGET_RANDOM_SEED))
        control = removal.random_maps(n_maps, len(maps), control_seed)
        maps_t, control_t = tuple(int(i) for i in maps), tuple(int(i) for i in control)
        with st.spinner("Generating..."), widgets.user_errors("generate the pairs"):
            grid = drop_pairs(model.loaded, model.key, pairs_seed, pairs_n, layer, maps_t, control_t)
        widgets.show_grid(
            grid, nrow=pairs_n, min_px=1200,
            caption=f"samples 0-{pairs_n - 1} of seed {pairs_seed}: as generated (top), with the {len(maps)} fitted maps "
            f"of layer {layer} dropped (middle), with {len(control)} random maps dropped (bottom, random seed "
            f"{control_seed}) · {model.describe()}",
        )
        st.caption(f"Fitted maps dropped: {', '.join(map(str, sorted(maps_t))) or 'none'}. Random: "
                   f"{', '.join(map(str, control_t)) or 'none'}.")

        st.subheader("Measure with the room instrument")
        if not measurable:
            st.info(f"The room instrument does not know {object_name}s; it measures {', '.join(OBJECT_NAMES)}.", icon=":material/info:")
        else:
            q = st.columns([1, 1, 2], vertical_alignment="bottom")
            n = int(q[0].number_input("z's to measure", 50, 2000, 300, step=50, key=keys.FORGET_MEASURE_N))
            mseed = int(q[1].number_input("Seed of the z's", 0, 2**31 - 1, 1, key=keys.FORGET_MEASURE_SEED))
            settings = (identity.fingerprint, object_name, n, mseed, maps_t, control_t)
            if q[2].button("Measure", type="primary", icon=":material/straighten:"):
                st.session_state[keys.FORGET_MEASURED] = settings
            asked = st.session_state.get(keys.FORGET_MEASURED)
            if asked is not None and asked != settings:
                st.caption("The settings changed since the last measurement: measure again.")
            if asked == settings:
                with st.spinner(f"Generating {n} z's three times and reading them with the instrument..."), \
                        widgets.user_errors("measure"):
                    r = measure(model.loaded, model.key, object_name, n, mseed, layer, maps_t, control_t)
                ctx = r.context_object
                k = st.columns(4)
                k[0].metric(f"With a {object_name}", pct(r.presence_before[object_name]), help="Before any drop.")
                k[1].metric(f"{object_name.capitalize()}s removed, fitted maps", pct(r.fitted.removed),
                            help=f"Of the {r.n_with_object} images with a {object_name}, the share without one after the drop.")
                k[2].metric(
                    f"{object_name.capitalize()}s removed, random maps", pct(r.random.removed),
                    help=f"The control: mean of {len(r.random.removed_per_draw)} draws of {len(control)} random maps "
                    f"(seeds {control_seed}, {control_seed + 1}, ...; the first is the one shown above): "
                    + ", ".join(pct(v) for v in r.random.removed_per_draw) + ".",
                )
                k[3].metric(f"{ctx.capitalize()}s kept, fitted maps", pct(r.fitted.kept.get(ctx)),
                            help=f"Of the images with a {ctx} before, the share that still has one: the scene stays a room.")
                st.dataframe([table_row(row) for row in r.rows()], hide_index=True, width="stretch")
                st.caption(
                    f"{r.n} z's of seed {mseed} generated as they are, with the {len(maps)} fitted maps dropped, and with "
                    f"{len(control)} random maps dropped (mean of {len(r.random.removed_per_draw)} draws); presence read by the room "
                    "instrument (P >= 0.5). Pixel change: "
                    "mean absolute change, 0-255. The paper's effect: most windows gone with the fitted maps, few with "
                    "random ones, and the rest of the room still there."
                )
