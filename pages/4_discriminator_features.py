"""What the discriminator's units respond to, seen with guided backpropagation (paper section 6.2, Fig. 5): each unit's top images from a pool of training images and samples, beside the same for a randomly initialised D; units ranked by selectivity; the units an uploaded picture makes fire.

The pool is the model's own training images (procedural ones are rendered again from the
run's data set seed) and generated samples of a seed. Guided backprop follows Springenberg
et al. 2014, with D's LeakyReLUs treated explicitly (see dcgan_core/analysis/guided_backprop.py).
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dcgan_core.analysis import guided_backprop as gb
from dcgan_core.analysis import units as un
from dcgan_core.analysis.neighbours import NoTrainingData
from dcgan_core.checkpoints import LoadedModel
from dcgan_core.images import image_grid
from explorer import app_state as keys
from explorer import renderer, widgets
from explorer.model_picker import require_model

POOL_SIZES = (128, 256, 512, 1024)  # images from each source
SOURCES = ("Pool image", "Upload")
FIRING_SHOWN = 12  # units in the "which units fire" chart
FIRING_MAPS = 4  # of which this many get a guided-backprop map
RANDOM_D_SEED = un.RANDOM_D_SEED
TRAINED, RANDOM = "trained", "random"
SELECTIVITY = "selectivity"
RANK_BY = (SELECTIVITY, "bed+window", *un.OBJECT_NAMES)  # the object rankings need a rooms model (boxes are known)


@st.cache_data(max_entries=8, show_spinner=False)
def pool_images(_model: LoadedModel, model_key: tuple, n: int, seed: int) -> tuple[np.ndarray, list[str], int, str]:
    """(uint8 (N, C, H, W) pool, a label per image, how many are training images, what they are)."""
    try:
        refs = renderer.training_images(_model.checkpoint.train_config, n)
        real = np.asarray(refs.images[:n])
        about = f"{len(real):,} training images ({refs.description}) and"
    except NoTrainingData as e:
        real = np.zeros((0, _model.config.channels, _model.config.image_size, _model.config.image_size), np.uint8)
        about = f"no training images ({e}), only"
    fake = renderer.sample_images(_model, model_key, seed, n).transpose(0, 3, 1, 2)
    labels = [f"training #{i}" for i in range(len(real))] + [f"sample #{i} of seed {seed}" for i in range(len(fake))]
    return np.ascontiguousarray(np.concatenate([real, fake])), labels, len(real), f"{about} {len(fake):,} samples of seed {seed}"


@st.cache_resource(max_entries=4, show_spinner=False)
def random_d(_model: LoadedModel, model_key: tuple, n: int, seed: int):
    """The random-D baseline, shared read-only: same architecture, BatchNorm statistics from the pool's real images."""
    pool, _, n_real, _ = pool_images(_model, model_key, n, seed)
    calibration = pool[:n_real] if n_real >= 2 else pool
    d = _model.discriminator
    return gb.random_discriminator(d.config, seed=RANDOM_D_SEED, calibration_images=calibration, device=gb.model_device(d))


def discriminator(model: LoadedModel, model_key: tuple, which: str, n: int, seed: int):
    return model.discriminator if which == TRAINED else random_d(model, model_key, n, seed)


@st.cache_data(max_entries=16, show_spinner=False)
def pool_responses(_model: LoadedModel, model_key: tuple, which: str, layer: int, n: int, seed: int) -> np.ndarray:
    pool, *_ = pool_images(_model, model_key, n, seed)
    return un.max_responses(discriminator(_model, model_key, which, n, seed), pool, layer)


@st.cache_data(max_entries=64, show_spinner=False)
def unit_maps(
    _model: LoadedModel, model_key: tuple, which: str, layer: int, n: int, seed: int, unit: int, k: int, rule: str, target: str
) -> tuple[np.ndarray, np.ndarray]:
    """(pool indices of the unit's top k images, their guided-backprop gradients (k, C, H, W))."""
    pool, *_ = pool_images(_model, model_key, n, seed)
    idx = un.top_images(pool_responses(_model, model_key, which, layer, n, seed), unit, k)
    d = discriminator(_model, model_key, which, n, seed)
    return idx, gb.guided_backprop(d, pool[idx], layer, unit, rule=rule, target=target).numpy()


@st.cache_data(max_entries=4, show_spinner=False)
def selection_rooms(n: int, image_size: int) -> tuple[np.ndarray, list]:
    """n rendered rooms with their boxes, which the pool does not hold: rendered once for every D and object."""
    return un.render_rooms(n, un.SELECT_SEED, image_size)


@st.cache_data(max_entries=16, show_spinner=False)
def object_overlap(_model: LoadedModel, model_key: tuple, which: str, layer: int, n: int, seed: int, objects: tuple[str, ...]) -> np.ndarray:
    """Each unit's Network-Dissection IoU with the objects' boxes, on n rendered rooms the pool does not hold."""
    images, boxes = selection_rooms(n, _model.config.image_size)
    return un.object_iou(discriminator(_model, model_key, which, n, seed), images, boxes, objects, layer)


def triptychs(images_nchw: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """One row per image: the image, its gradient image, the gradient magnitude over a grey copy; tiled uint8 (H', W', 3)."""
    images = images_nchw.transpose(0, 2, 3, 1)
    rgb = images if images.shape[-1] == 3 else np.repeat(images, 3, axis=-1)
    grads = gb.gradient_image(maps)
    grads = grads if grads.shape[-1] == 3 else np.repeat(grads, 3, axis=-1)
    heat = gb.heat_overlay(images, gb.saliency(maps))
    return image_grid(np.stack([rgb, grads, heat], axis=1).reshape(-1, *rgb.shape[1:]), nrow=3)


widgets.page_header(
    "Discriminator features",
    "Paper section 6.2, Fig. 5 (guided backpropagation of D's features; a random D for comparison)",
    "Every feature map (*unit*) of a discriminator layer is a detector. For a unit, the images of a pool that make it "
    "fire most, each with its **guided backpropagation** map: which pixels, changed, would raise the unit's strongest "
    "response. A trained D's units should look at objects (beds, windows); a randomly initialised D with the same "
    "architecture, shown beside it, has no reason to.",
)
model = require_model(what="the discriminator features page")
d_trained = model.loaded.discriminator
if d_trained is None:
    st.error(
        f"Model **{model.name}** (`{model.entry.path}`) holds only a generator; this page reads the discriminator. "
        "Pick a model trained with `dcgan train` (its checkpoints keep D) in the sidebar.",
        icon=":material/error:",
    )
    st.stop()

n_layers = len(d_trained.feature_channels)
if st.session_state.get(keys.DFEAT_LAYER) not in range(n_layers):  # first visit, or a model with fewer layers
    st.session_state[keys.DFEAT_LAYER] = n_layers - 1
c = st.columns([3, 2, 1, 2])
layer = int(
    c[0].selectbox(
        "Layer of D", range(n_layers), key=keys.DFEAT_LAYER,
        format_func=lambda i: f"{i}: {d_trained.feature_channels[i]} maps of {d_trained.feature_sizes[i]}x{d_trained.feature_sizes[i]}"
        + (" (last conv, Fig. 5)" if i == n_layers - 1 else ""),
    )
)
pool_n = int(
    c[1].segmented_control(
        "Pool: images of each source", POOL_SIZES, default=256, required=True, key=keys.DFEAT_POOL, persist_state="session",
        help="this many training images and this many generated samples",
    )
)
seed = int(c[2].number_input("Sample seed", 0, 2**31 - 1, 0, key=keys.DFEAT_SEED, persist_state="session"))
k = int(c[3].slider("Top images per unit", 2, 12, 6, key=keys.DFEAT_K))
with st.expander("Backward rule"):
    r = st.columns(2)
    rule = r[0].selectbox("Rule through the rectifiers", gb.RULES, format_func=gb.RULE_NAMES.get, key=keys.DFEAT_RULE)
    target = r[1].segmented_control(
        "Unit's value", gb.TARGETS, default="max", required=True, key=keys.DFEAT_TARGET,
        format_func=lambda t: "strongest position (Fig. 5)" if t == "max" else "sum over the map",
    )
    st.caption(
        "Guided backprop lets only positive gradients through, and only where a rectifier's forward input was positive; "
        "D's LeakyReLU(0.2) is treated like a ReLU there (zero through its negative side), as Springenberg et al.'s rule "
        "prescribes. The leaky variant passes 0.2 of the positive gradient through off units."
    )

with st.spinner("Computing every unit's responses over the pool (once per setting)..."), widgets.user_errors("analyse the pool"):
    pool, pool_labels, n_real, pool_about = pool_images(model.loaded, model.key, pool_n, seed)
    resp = {w: pool_responses(model.loaded, model.key, w, layer, pool_n, seed) for w in (TRAINED, RANDOM)}
if len(pool) < 2:
    st.warning("The pool has fewer than 2 images; pick a larger pool.", icon=":material/warning:")
    st.stop()
st.caption(f"Pool: {pool_about} · {model.describe()}")

# ---------------------------------------------------------------------------- units overview
sel = {w: un.selectivity(resp[w]) for w in resp}
knows_boxes = (model.loaded.checkpoint.train_config or {}).get("dataset") == "rooms" and model.config.channels == 3
rank_by = SELECTIVITY
if knows_boxes:
    rank_by = st.segmented_control(
        "Rank units by", RANK_BY, default=SELECTIVITY, required=True, key=keys.DFEAT_RANK_BY,
        format_func=lambda r: r if r == SELECTIVITY else f"overlap with {r}",
        help="selectivity: how much a unit's top images stand out. Overlap: how well the region where the unit fires "
        "matches the object's boxes in rendered rooms (Network Dissection's IoU), to find object detectors.",
    )
if rank_by == SELECTIVITY:
    score, score_name = sel, "selectivity"
else:
    with st.spinner(f"Measuring every unit's overlap with {rank_by} on {pool_n} rendered rooms..."), widgets.user_errors("rank the units"):
        score = {w: object_overlap(model.loaded, model.key, w, layer, pool_n, seed, tuple(rank_by.split("+"))) for w in resp}
    score_name = f"IoU with {rank_by}"
st.header(f"Units ranked by {'selectivity' if rank_by == SELECTIVITY else f'overlap with {rank_by}'}")
order = {w: np.argsort(-score[w], kind="stable") for w in score}
fig = go.Figure()
for w, name, color in ((TRAINED, "trained D", "#4c78a8"), (RANDOM, "random D", "#bab0ac")):
    fig.add_trace(
        go.Scatter(
            x=np.arange(1, len(order[w]) + 1), y=score[w][order[w]], mode="lines+markers", name=name,
            marker=dict(size=4, color=color), line=dict(color=color), customdata=order[w],
            hovertemplate="rank %{x}: unit %{customdata}, " + score_name + " %{y:.3f}<extra>" + name + "</extra>",
        )
    )
fig.update_layout(
    xaxis_title="unit rank",
    yaxis_title="selectivity (std above the mean, top 1%)" if rank_by == SELECTIVITY else score_name,
    height=300, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12),
)
st.plotly_chart(fig, width="stretch", key="dfeat_selectivity")
if rank_by == SELECTIVITY:
    st.caption(
        "Selectivity: how far the unit's top 1% of pool images lift its strongest response above its mean, in standard "
        "deviations. A unit that fires for a few images (an object detector) scores high; one that answers every image "
        "alike scores low."
    )
else:
    st.caption(
        f"Overlap (Network Dissection, Bau et al. 2017): a unit is *on* where its map exceeds its top 0.5% over {pool_n} "
        f"rendered rooms (data set seed {un.SELECT_SEED}, not in the pool); the score is the IoU of that region with the "
        f"{rank_by} boxes. Trained units above the random D's curve are the object detectors training made. "
        "`python -m dcgan_core.analysis.units measure` measures where such units' guided-backprop maps fall."
    )

units_ranked = [int(u) for u in order[TRAINED]]
ranking = (rank_by, layer)
if st.session_state.get(keys.DFEAT_UNIT) not in units_ranked or st.session_state.get(keys.DFEAT_UNIT_RANKING) != ranking:
    st.session_state[keys.DFEAT_UNIT] = units_ranked[0]  # a new ranking opens on its top unit
    st.session_state[keys.DFEAT_UNIT_RANKING] = ranking
rank_of = {u: i for i, u in enumerate(units_ranked)}
unit = int(
    st.selectbox(
        f"Unit of the trained D (highest {score_name} first)", units_ranked, key=keys.DFEAT_UNIT,
        format_func=lambda u: f"unit {u} · {score_name} {score[TRAINED][u]:.{2 if rank_by == SELECTIVITY else 3}f} · rank {rank_of[u] + 1}",
    )
)
rank = rank_of[unit]
random_unit = int(order[RANDOM][rank])

# ---------------------------------------------------------------------------- top images
st.header(f"Top {k} images of unit {unit}, with guided backprop")
k_shown = min(k, len(pool))
cols = st.columns(2)
for col, which, u, title in (
    (cols[0], TRAINED, unit, f"Trained D · unit {unit}"),
    (cols[1], RANDOM, random_unit, f"Random D · unit {random_unit} (its rank-{rank + 1} unit)"),
):
    with col:
        st.subheader(title)
        with widgets.user_errors("compute guided backprop"):
            idx, maps = unit_maps(model.loaded, model.key, which, layer, pool_n, seed, u, k_shown, rule, target)
        values = resp[which][idx, u]
        widgets.show_picture(
            triptychs(pool[idx], maps),
            caption=f"{'trained' if which == TRAINED else 'random'} D, layer {layer}, unit {u} (selectivity {sel[which][u]:.2f}): "
            f"top {len(idx)} of {len(pool)} pool images; columns: image, {rule} backprop, gradient magnitude",
            min_px=384,
        )
        st.caption("Rows: " + "; ".join(f"{pool_labels[i]} ({v:.2f})" for i, v in zip(idx, values)))
st.caption(
    f"The random D has the same architecture, weights from the paper's init (seed {RANDOM_D_SEED}) and BatchNorm statistics "
    f"from the pool's training images; it is shown at the same rank by {score_name}, as the fairest match."
)

# ---------------------------------------------------------------------------- one image
st.header("Which units fire for an image?")
source = st.segmented_control("Image", SOURCES, default=SOURCES[0], required=True, key=keys.DFEAT_SOURCE)
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
    index = int(
        st.selectbox("Pool image", range(len(pool)), key=keys.DFEAT_POOL_INDEX, format_func=lambda i: f"#{i}: {pool_labels[i]}")
    )
    image = pool[index].transpose(1, 2, 0)
    image_label = pool_labels[index]

batch = image.transpose(2, 0, 1)[None]
with widgets.user_errors("compute the responses"):
    own = un.max_responses(d_trained, batch, layer)[0]
z = un.relative_responses(own, resp[TRAINED])
firing = np.argsort(-z, kind="stable")[:FIRING_SHOWN]
left, right = st.columns([1, 2])
with left:
    widgets.show_picture(image, caption=f"{image_label} at {cfg.image_size} px", min_px=256)
with right:
    bars = go.Figure(
        go.Bar(
            x=[f"unit {u}" for u in firing], y=z[firing], customdata=own[firing], marker_color="#4c78a8",
            hovertemplate="%{x}: %{y:.2f} std above its pool mean (response %{customdata:.2f})<extra></extra>",
        )
    )
    bars.update_layout(yaxis_title="std above the unit's pool mean", height=280, margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(bars, width="stretch", key="dfeat_firing")
top = [int(u) for u in firing[:FIRING_MAPS]]
with widgets.user_errors("compute guided backprop"):
    maps = gb.guided_backprop(d_trained, np.repeat(batch, len(top), axis=0), layer, top, rule=rule, target=target)
grads = gb.gradient_image(maps)
grads = grads if grads.shape[-1] == 3 else np.repeat(grads, 3, axis=-1)
tiles = np.concatenate([grads, gb.heat_overlay(np.repeat(image[None], len(top), axis=0), gb.saliency(maps))])
widgets.show_picture(
    image_grid(tiles, nrow=len(top)),
    caption=f"{rule} backprop of the {len(top)} units that fire most for {image_label} (trained D, layer {layer}): "
    + ", ".join(f"unit {u} ({z[u]:+.1f} std)" for u in top)
    + "; top row the gradient image, bottom row its magnitude",
    min_px=512,
)
