"""Find the feature maps that draw windows and drop them (paper section 6.3.1, Fig. 6): a logistic regression on the generator's penultimate layer, fitted on the window boxes drawn on the previous page, finds the maps; dropping them removes the windows, dropping as many random maps does not.

The room instrument measures the effect (`dcgan forget measure --model rooms --n-annotate 150 --n 300`). Compute: `explorer.forget`; library: `dcgan_core.analysis.object_removal` and `.annotations`.
"""

import streamlit as st

from dcgan_core.analysis import object_removal as removal
from dcgan_core.analysis.annotations import AnnotationStore
from dcgan_core.data.rooms import OBJECT_NAMES
from explorer import annotation_widgets as annotate
from explorer import app_state as keys
from explorer import annotation_curve, annotator_name, forget, saved_codes, widgets
from explorer.charts.forget import fit_weights_figure
from explorer.forget import pct
from explorer.model_picker import require_model

SELECT_MODES = {"threshold": "weight above a threshold", "count": "the largest weights"}

widgets.page_header(
    "Forgetting to draw windows: fit, drop, measure",
    "Paper section 6.3.1, Fig. 6",
    "Fit a logistic regression that predicts from the second-highest convolution layer whether an activation lies "
    "in one of the boxes drawn on the page *Forgetting to draw windows*, then zero the maps with positive weights "
    "everywhere: the rooms are drawn again without their windows. Dropping as many random maps is the control.",
)
model = require_model()  # any size: boxes map onto the penultimate layer (S/2 px) of the model's own S-px images
g = model.generator
layer, n_maps = g.penultimate_layer, g.feature_channels[g.penultimate_layer]
store = AnnotationStore()
c = st.columns([1.2, 3])
object_name = annotate.object_picker(c[0])
measurable = object_name in OBJECT_NAMES
annotate.warn_unless_rooms(model)
with widgets.user_errors("read the saved annotations"):
    identity = forget.model_identity(model.loaded, model.key, model.name)
    notes = store.load(identity, object_name)
c[1].caption(f"{notes.n_boxes} boxes of {object_name} on {notes.n_images} images of {identity.describe()}, read from "
             f"`{store.path(identity, object_name)}`.")
fit_on, chosen = annotator_name.fit_on_picker(c[0], notes)  # whose boxes: one annotator's, or all merged per image
annotate.page_link("6_forget_to_draw.py", "1 · Annotate: draw the boxes")

tab_fit, tab_drop = st.tabs(["2 · Fit", "3 · Drop and measure"])
fits = st.session_state.setdefault(keys.FORGET_FIT, {})
fit_slot = (identity.fingerprint, object_name, fit_on)
fit = None
with tab_fit:
    st.markdown(
        f"Positives: the feature vectors (one value per map) of layer {layer} ({n_maps} maps at "
        f"{g.feature_sizes[layer]}x{g.feature_sizes[layer]}) at positions whose cell centre lies inside a box. "
        "Negatives: up to 64 random positions per image touching no box. Logistic regression (scikit-learn, "
        f"standardised activations, balanced classes, strong L2: C = {removal.DEFAULT_C:g}, so that correlated maps "
        "share weight instead of cancelling); accuracy held out by image."
    )
    if st.button("Fit logistic regression", type="primary", icon=":material/model_training:", disabled=chosen.n_boxes == 0):
        fits[fit_slot] = notes.to_json()
    if chosen.n_boxes == 0:
        st.info(f"Draw at least one {object_name} box (or auto-annotate) to fit.", icon=":material/info:")
    fit_json = fits.get(fit_slot)
    if fit_json:
        with st.spinner("Fitting..."), widgets.user_errors("fit the logistic regression"):
            fit = forget.fit_maps(model.loaded, model.key, fit_json, fit_on)
        if fit_json != notes.to_json():
            st.info("The annotations changed since this fit: fit again to use them.", icon=":material/info:")

with tab_drop:  # choose the maps first: the fit tab's chart shows them
    if fit is None:
        st.info("Fit the logistic regression first (tab 2).", icon=":material/info:")
        st.stop()
    s = st.columns([2, 2, 1])
    mode = s[0].segmented_control("Drop the maps with", list(SELECT_MODES), default="threshold", format_func=SELECT_MODES.get,
                                  required=True, key=keys.FORGET_SELECT)
    if mode == "threshold":
        threshold = s[1].slider(
            "Relative weight threshold (paper: 0)", -1.0, 1.0, 0.0, step=0.01, key=keys.FORGET_THRESHOLD,
            help="Drop the maps whose weight, divided by the largest |weight|, exceeds this. 0 drops every map "
            "with a positive weight, as the paper did.",
        )
        maps = forget.map_indices(fit.maps_above(threshold))
    else:
        st.session_state.setdefault(keys.FORGET_COUNT, len(fit.maps_above(0.0)))
        annotate.clamp_state(keys.FORGET_COUNT, 0, n_maps)
        maps = forget.map_indices(fit.top_maps(s[1].slider("Number of maps (largest weights)", 0, n_maps, key=keys.FORGET_COUNT)))
    s[2].metric("Maps dropped", f"{len(maps)} of {n_maps}")
with tab_fit:
    m = st.columns(5)
    m[0].metric("Held-out accuracy", pct(fit.accuracy),
                help=f"Fitted on other images, scored on {fit.n_test_images} held-out images' positions."
                if fit.accuracy is not None else "Needs at least 4 annotated images, with boxes on both sides of the split.")
    m[1].metric("Balanced accuracy", pct(fit.balanced_accuracy), help="Mean of the accuracy on positives and on negatives.")
    m[2].metric("Positives", f"{fit.n_positive:,}", help=f"Feature positions inside a {object_name} box.")
    m[3].metric("Negatives", f"{fit.n_negative:,}", help="Feature positions touching no box, sampled from the same images.")
    m[4].metric("Images", fit.n_images)
    st.plotly_chart(fit_weights_figure(fit.relative_weights, maps, layer), width="stretch")
    st.caption(f"A positive weight: the map is more active on {object_name}s than elsewhere. Held-out accuracy "
               f"{pct(fit.accuracy)} on {fit.n_test_images} images never seen by the fit (split by image, not position).")
    annotation_curve.how_many_are_enough(model, chosen, keys.FORGET_CURVE)

with tab_drop:
    p = st.columns([1, 1, 1, 3])
    pairs_seed = int(p[0].number_input("Seed of the samples", 0, 2**31 - 1, 1, key=keys.FORGET_PAIRS_SEED))
    pairs_n = int(p[1].slider("Samples", 4, 16, 8, key=keys.FORGET_PAIRS_N))
    control_seed = int(p[2].number_input("Seed of the random maps", 0, 2**31 - 1, 0, key=keys.FORGET_RANDOM_SEED))
    control = forget.map_indices(removal.random_maps(n_maps, len(maps), control_seed))
    with p[3]:
        mine = saved_codes.saved_codes_picker(model, "Or your own rooms (saved codes)", keys.FORGET_SAVED)
    shown, pairs_n = saved_codes.codes_of(mine, 16), len(mine.z[:16]) if mine else pairs_n
    with st.spinner("Generating..."), widgets.user_errors("generate the pairs"):
        grid = forget.drop_pairs(model.loaded, model.key, pairs_seed, pairs_n, layer, maps, control, shown)
    rooms = f"your saved codes {mine.name!r}" if mine else f"samples 0-{pairs_n - 1} of seed {pairs_seed}"
    widgets.show_grid(grid, nrow=pairs_n, min_px=1200, caption=f"{rooms}: as generated "
                      f"(top), with the {len(maps)} fitted maps of layer {layer} dropped (middle), with {len(control)} random "
                      f"maps dropped (bottom, random seed {control_seed}) · {model.describe()}")
    st.caption(f"Fitted maps dropped: {', '.join(map(str, sorted(maps))) or 'none'}. Random: {', '.join(map(str, control)) or 'none'}.")

    st.subheader("Measure with the room instrument")
    if not measurable:
        st.info(f"The room instrument does not know {object_name}s; it measures {', '.join(OBJECT_NAMES)}.",
                icon=":material/info:")
        st.stop()
    q = st.columns([1, 1, 2], vertical_alignment="bottom")
    n = int(q[0].number_input("z's to measure", 50, 2000, 300, step=50, key=keys.FORGET_MEASURE_N))
    mseed = int(q[1].number_input("Seed of the z's", 0, 2**31 - 1, 1, key=keys.FORGET_MEASURE_SEED))
    settings = (identity.fingerprint, object_name, n, mseed, maps, control)
    if q[2].button("Measure", type="primary", icon=":material/straighten:"):
        st.session_state[keys.FORGET_MEASURED] = settings
    asked = st.session_state.get(keys.FORGET_MEASURED)
    if asked is not None and asked != settings:
        st.caption("The settings changed since the last measurement: measure again.")
    if asked != settings:
        st.stop()
    with st.spinner(f"Generating {n} z's three times and reading them with the instrument..."), widgets.user_errors("measure"):
        r = forget.measure(model.loaded, model.key, object_name, n, mseed, layer, maps, control)
    ctx, k = r.context_object, st.columns(4)
    k[0].metric(f"With a {object_name}", pct(r.presence_before[object_name]), help="Before any drop.")
    k[1].metric(f"{object_name.capitalize()}s removed, fitted maps", pct(r.fitted.removed),
                help=f"Of the {r.n_with_object} images with a {object_name}, the share without one after the drop.")
    k[2].metric(f"{object_name.capitalize()}s removed, random maps", pct(r.random.removed),
                help=f"The control: mean of {len(r.random.removed_per_draw)} draws of {len(control)} random maps "
                f"(seeds {control_seed}, {control_seed + 1}, ...; the first is the one shown above): "
                + ", ".join(pct(v) for v in r.random.removed_per_draw) + ".")
    k[3].metric(f"{ctx.capitalize()}s kept, fitted maps", pct(r.fitted.kept.get(ctx)),
                help=f"Of the images with a {ctx} before, the share that still has one: the scene stays a room.")
    st.dataframe([forget.table_row(row) for row in r.rows()], hide_index=True, width="stretch")
    st.caption(
        f"{r.n} z's of seed {mseed} generated as they are, with the {len(maps)} fitted maps dropped, and with "
        f"{len(control)} random maps dropped (mean of {len(r.random.removed_per_draw)} draws); presence read by the room "
        "instrument (P >= 0.5). Pixel change: mean absolute change, 0-255. The paper's effect: most windows gone with the "
        "fitted maps, few with random ones, and the rest of the room still there."
    )
