"""What the discriminator's units respond to, seen with guided backpropagation (paper section 6.2, Fig. 5): each unit's top images from a pool of training images and samples, beside the same for a randomly initialised D; units ranked by selectivity; the units an uploaded picture makes fire.

The pool is the model's own training images (procedural ones are rendered again from the
run's data set seed) and generated samples of a seed. Guided backprop follows Springenberg
et al. 2014, with D's LeakyReLUs treated explicitly (see dcgan_core/analysis/guided_backprop.py).
"""

import streamlit as st

from dcgan_core.analysis import guided_backprop as gb
from dcgan_core.analysis import units as un
from explorer import app_state as keys
from explorer import discriminator as dfeat
from explorer import widgets
from explorer.charts.discriminator import firing_figure, unit_ranking_figure
from explorer.discriminator import RANDOM, SELECTIVITY, TRAINED
from explorer.model_picker import require_model

widgets.page_header(
    "Discriminator features",
    "Paper section 6.2, Fig. 5 (guided backpropagation of D's features; a random D for comparison)",
    "Every feature map (*unit*) of a discriminator layer is a detector. For a unit, the images of a pool that make it fire most, "
    "each with its **guided backpropagation** map: which pixels, changed, would raise the unit's strongest response. A trained "
    "D's units should look at objects (beds, windows); a randomly initialised D with the same architecture, shown beside it, "
    "has no reason to.",
)
model = require_model(what="the discriminator features page")
d_trained = dfeat.require_discriminator(model, "this page reads the discriminator")

n_layers = len(d_trained.feature_channels)
if st.session_state.get(keys.DFEAT_LAYER) not in range(n_layers):  # first visit, or a model with fewer layers
    st.session_state[keys.DFEAT_LAYER] = n_layers - 1
c = st.columns([3, 2, 1, 2])
layer = int(c[0].selectbox("Layer of D", range(n_layers), key=keys.DFEAT_LAYER, format_func=lambda i: dfeat.layer_label(d_trained, i)))
pool_n = int(c[1].segmented_control(
    "Pool: images of each source", dfeat.POOL_SIZES, default=256, required=True, key=keys.DFEAT_POOL, persist_state="session",
    help="this many training images and this many generated samples",
))
seed = int(c[2].number_input("Sample seed", 0, 2**31 - 1, 0, key=keys.DFEAT_SEED, persist_state="session"))
k = int(c[3].slider("Top images per unit", 2, 12, 6, key=keys.DFEAT_K))
with st.expander("Backward rule"):
    r = st.columns(2)
    rule = r[0].selectbox("Rule through the rectifiers", gb.RULES, format_func=gb.RULE_NAMES.get, key=keys.DFEAT_RULE)
    target = r[1].segmented_control(
        "Unit's value", gb.TARGETS, default="max", required=True, key=keys.DFEAT_TARGET, format_func=dfeat.TARGET_NAMES.get
    )
    st.caption(dfeat.RULE_NOTE)

with st.spinner("Computing every unit's responses over the pool (once per setting)..."), widgets.user_errors("analyse the pool"):
    pool = dfeat.pool_images(model.loaded, model.key, pool_n, seed)
    resp = dfeat.responses(model.loaded, model.key, layer, pool_n, seed)
if len(pool) < 2:
    st.warning("The pool has fewer than 2 images; pick a larger pool.", icon=":material/warning:")
    st.stop()
st.caption(f"Pool: {pool.about} · {model.describe()}")

# ---------------------------------------------------------------------------- units overview
sel = dfeat.selectivities(resp)
rank_by = SELECTIVITY
if dfeat.knows_boxes(model):  # a rooms model: the objects' boxes are known, so units can be ranked by overlap with them
    rank_by = st.segmented_control(
        "Rank units by", dfeat.RANK_BY, default=SELECTIVITY, required=True, key=keys.DFEAT_RANK_BY,
        format_func=lambda r: r if r == SELECTIVITY else f"overlap with {r}",
        help="selectivity: how much a unit's top images stand out. Overlap: how well the region where the unit fires "
        "matches the object's boxes in rendered rooms (Network Dissection's IoU), to find object detectors.",
    )
score, score_name = sel, "selectivity"
if rank_by != SELECTIVITY:
    with st.spinner(f"Measuring every unit's overlap with {rank_by} on {pool_n} rendered rooms..."), widgets.user_errors("rank the units"):
        score = dfeat.object_overlaps(model.loaded, model.key, layer, pool_n, seed, rank_by)
    score_name = f"IoU with {rank_by}"
st.header(f"Units ranked by {'selectivity' if rank_by == SELECTIVITY else f'overlap with {rank_by}'}")
order = dfeat.ranking(score)
st.plotly_chart(unit_ranking_figure(score, order, score_name), width="stretch", key="dfeat_selectivity")
st.caption(dfeat.score_note(rank_by, pool_n))

units_ranked = [int(u) for u in order[TRAINED]]
if st.session_state.get(keys.DFEAT_UNIT) not in units_ranked or st.session_state.get(keys.DFEAT_UNIT_RANKING) != (rank_by, layer):
    st.session_state[keys.DFEAT_UNIT] = units_ranked[0]  # a new ranking opens on its top unit
    st.session_state[keys.DFEAT_UNIT_RANKING] = (rank_by, layer)
rank_of = {u: i for i, u in enumerate(units_ranked)}
unit = int(st.selectbox(
    f"Unit of the trained D (highest {score_name} first)", units_ranked, key=keys.DFEAT_UNIT,
    format_func=lambda u: f"unit {u} · {score_name} {score[TRAINED][u]:.{2 if rank_by == SELECTIVITY else 3}f} · rank {rank_of[u] + 1}",
))
rank = rank_of[unit]
random_unit = int(order[RANDOM][rank])  # the random D's unit at the same rank

# ---------------------------------------------------------------------------- top images
st.header(f"Top {k} images of unit {unit}, with guided backprop")
cols = st.columns(2)
for col, which, u, title in (
    (cols[0], TRAINED, unit, f"Trained D · unit {unit}"),
    (cols[1], RANDOM, random_unit, f"Random D · unit {random_unit} (its rank-{rank + 1} unit)"),
):
    with col:
        st.subheader(title)
        with widgets.user_errors("compute guided backprop"):
            top = dfeat.top_images(model.loaded, model.key, which, layer, pool_n, seed, u, min(k, len(pool)), rule, target)
        widgets.show_picture(
            top.grid,
            caption=f"{'trained' if which == TRAINED else 'random'} D, layer {layer}, unit {u} (selectivity {sel[which][u]:.2f}): "
            f"top {len(top.indices)} of {len(pool)} pool images; columns: image, {rule} backprop, gradient magnitude",
            min_px=384,
        )
        st.caption("Rows: " + "; ".join(f"{pool.labels[i]} ({v:.2f})" for i, v in zip(top.indices, top.responses)))
st.caption(
    f"The random D has the same architecture, weights from the paper's init (seed {dfeat.RANDOM_D_SEED}) and BatchNorm statistics "
    f"from the pool's training images; it is shown at the same rank by {score_name}, as the fairest match."
)

# ---------------------------------------------------------------------------- one image
st.header("Which units fire for an image?")
source = st.segmented_control("Image", dfeat.SOURCES, default=dfeat.SOURCES[0], required=True, key=keys.DFEAT_SOURCE)
cfg = model.config
if source == "Upload":
    upload = st.file_uploader(
        f"A picture (centre-cropped to a square and resized to {cfg.image_size} px; up to {un.MAX_UPLOAD_BYTES // 2**20} MiB)",
        type=list(un.UPLOAD_TYPES), key=keys.DFEAT_UPLOAD,
    )
    if upload is None:
        st.info("Upload a picture to see which units of this layer fire most for it.", icon=":material/info:")
        st.stop()
    with widgets.user_errors(f"read {upload.name}"):
        image = un.load_uploaded_image(upload.getvalue(), cfg.image_size, cfg.channels)
    image_label = f"upload {upload.name}"
else:
    if st.session_state.get(keys.DFEAT_POOL_INDEX, 0) >= len(pool):
        st.session_state[keys.DFEAT_POOL_INDEX] = 0
    index = int(st.selectbox("Pool image", range(len(pool)), key=keys.DFEAT_POOL_INDEX, format_func=lambda i: f"#{i}: {pool.labels[i]}"))
    image, image_label = pool.picture(index), pool.labels[index]

with widgets.user_errors("compute the responses"):
    firing = dfeat.firing_units(d_trained, image, layer, resp[TRAINED])
left, right = st.columns([1, 2])
with left:
    widgets.show_picture(image, caption=f"{image_label} at {cfg.image_size} px", min_px=256)
with right:
    st.plotly_chart(firing_figure(firing.units, firing.relative, firing.responses), width="stretch", key="dfeat_firing")
top_units = [int(u) for u in firing.units[: dfeat.FIRING_MAPS]]
with widgets.user_errors("compute guided backprop"):
    maps = dfeat.firing_maps(d_trained, image, layer, top_units, rule, target)
widgets.show_picture(
    maps,
    caption=f"{rule} backprop of the {len(top_units)} units that fire most for {image_label} (trained D, layer {layer}): "
    + ", ".join(f"unit {u} ({firing.relative[u]:+.1f} std)" for u in top_units)
    + "; top row the gradient image, bottom row its magnitude",
    min_px=512,
)
