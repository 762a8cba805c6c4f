"""Samples of the model from a seed (paper Figs. 2-3), the same z under every model, and the nearest training images of a sample, to check that the model does not copy its training set (paper section 4.1 and 6.1).

Nearest neighbours are found by pixel L2 distance among the model's own training images
(procedural data sets are rendered again from the run's data set seed).
"""

import streamlit as st

from dcgan_core.analysis.neighbours import NoTrainingData
from explorer import app_state as keys
from explorer import renderer, samples, widgets
from explorer.model_picker import compatible_entries, load_entry, require_model

COUNTS = (16, 32, 64)
REFERENCE_LIMITS = (2_000, 10_000, 50_000)

widgets.page_header(
    "Samples",
    "Paper Figs. 2-3 (generated bedrooms) and the memorisation check of sections 4.1 and 6.1",
    "A seeded grid of samples, the same codes fed to other models, and the training images closest to a "
    "sample: if the model copied its data, a sample's nearest training image would be (almost) identical.",
)
model = require_model()

c = st.columns([1, 2, 3])
seed = int(c[0].number_input("Seed", 0, 2**31 - 1, 0, key=keys.SAMPLES_SEED, persist_state="session"))
count = int(c[1].segmented_control("Samples", COUNTS, default=32, required=True, key=keys.SAMPLES_COUNT, persist_state="session"))
nrow = 8 if count <= 32 else 16
with widgets.user_errors("generate samples"):
    images = renderer.sample_images(model.loaded, model.key, seed, count)
settings = f"samples 0-{count - 1} of seed {seed} · {model.describe()}"
grid = widgets.show_grid(images, nrow=nrow, caption=settings, min_px=1024)
widgets.download_png("Grid as PNG", grid, f"{widgets.file_stem('samples', model.name, f'seed{seed}', f'n{count}')}.png", key="samples_png")

st.header("The same z under every model")
others = compatible_entries(model)
if not others:
    st.info(
        f"No other model takes the same z ({model.config.nz}-d, {model.config.z_prior}); add one to compare "
        "(e.g. another run, or the same run at an earlier checkpoint copied to the models folder).",
        icon=":material/info:",
    )
else:
    chosen = st.multiselect(
        "Models to compare", [e.name for e in others], default=[e.name for e in others][:3], key=keys.SAMPLES_COMPARE
    )
    shown = min(count, 8)
    st.caption(f"samples 0-{shown - 1} of seed {seed}: the same {model.config.nz}-d codes for every model")
    st.markdown(f"**{model.name}** (picked)")
    widgets.show_grid(images[:shown], nrow=shown, min_px=1024)
    by_name = {e.name: e for e in others}
    for name in chosen:
        st.markdown(f"**{name}**")
        try:
            other = load_entry(by_name[name])
            widgets.show_grid(
                renderer.sample_images(other.loaded, other.key, seed, shown), nrow=shown, min_px=1024,
                caption=f"seed {seed} · {other.describe()}",
            )
        except widgets.USER_ERRORS as e:
            st.error(f"Could not use model {name} ({by_name[name].path}): {e}", icon=":material/error:")

st.header("Nearest training images")
n = st.columns([1, 1, 2])
if st.session_state.get(keys.SAMPLES_QUERY, 0) >= count:  # fewer samples than before
    st.session_state[keys.SAMPLES_QUERY] = 0
query = int(n[0].selectbox("Sample", range(count), format_func=lambda i: f"#{i}", key=keys.SAMPLES_QUERY))
k = int(n[1].slider("Neighbours", 1, 10, 5, key=keys.SAMPLES_K))
limit = int(
    n[2].segmented_control(
        "Search the first ... training images", REFERENCE_LIMITS, default=REFERENCE_LIMITS[0], required=True,
        format_func=lambda v: f"{v:,}", key=keys.SAMPLES_REFERENCE_LIMIT,
    )
)
try:
    with st.spinner(f"Preparing up to {limit:,} training images (once per data set) and searching them..."):
        near = samples.nearest_training_images(model.loaded, model.key, seed, count, k, limit)
except NoTrainingData as e:
    st.warning(f"No training data to compare with: {e}", icon=":material/warning:")
    st.stop()
except widgets.USER_ERRORS as e:
    st.error(f"Could not search the training images: {e}", icon=":material/error:")
    st.stop()

cols = st.columns(k + 1)
with cols[0]:
    widgets.show_picture(images[query], caption=f"sample #{query} (seed {seed})", min_px=192)
for j in range(k):
    with cols[j + 1]:
        i = int(near.indices[query, j])
        widgets.show_picture(near.refs.image(i), caption=f"training #{i} · RMS {near.rms[query, j]:.1f}", min_px=192)
base = near.baseline_median
st.markdown(
    f"Searched {near.refs.description}. The nearest training image of sample #{query} differs by **{near.rms[query, 0]:.1f}** "
    f"per pixel value (RMS, 0-255; a copy would be near 0). Over all {count} samples the nearest training image is "
    f"{near.nearest_min:.1f} to {near.nearest_max:.1f} away (median {near.nearest_median:.1f})"
    + (f"; for comparison, training images are a median {base:.1f} from their own nearest neighbour." if base is not None else ".")
)
