"""Add and subtract concepts in z (paper section 6.3.2, Fig. 7): pick three samples each of "smiling woman", "neutral woman" and "neutral man" and their averages make a smiling man, which the face instrument measures, while the same sum of pixels gives ghostly overlays.

The paper averages 3 exemplars per concept (single samples were unstable) and shows
Y = mean(A) - mean(B) + mean(C) in the centre of 8 samples of Y plus uniform noise in
[-0.25, 0.25]. Concept sets are saved per model in $DCGAN_CONCEPTS_DIR (default
~/.local/share/dcgan-explorer/concepts), with a fingerprint of the weights they belong to.
Axes, learned directions and the benchmark: the "Concept axes and directions" page.
Compute: `explorer.arithmetic`; slots and their widgets: `explorer.arithmetic_widgets`.
Library: `dcgan_core.analysis.arithmetic` and `.concept_sets`.
"""

import streamlit as st

from dcgan_core.analysis.arithmetic import MIN_PER_CONCEPT, NOISE_SCALE
from explorer import app_state as keys
from explorer import arithmetic as arith
from explorer import arithmetic_widgets as aw
from explorer import renderer, widgets
from explorer.arithmetic import LETTERS, SLOTS

page = aw.open_page(
    "Vector arithmetic",
    "Paper section 6.3.2, Figs. 7 and 8; learned directions after InterFaceGAN (Shen et al. 2020)",
    "Average the codes of three exemplars per concept and add and subtract the averages: "
    "*man with glasses - man without glasses + woman without glasses* gives a **woman with glasses**. The result Y sits "
    "in the centre, surrounded by 8 samples of Y plus uniform noise (the paper's Fig. 7), and the face instrument says "
    "what it sees. Beside it, the same arithmetic on the averaged *images* only overlays them.",
)
model, readable = page.model, page.readable
slots = aw.slots_of(model)
revision = aw.revision()


def slot_name(i: int) -> str:
    return aw.slot_name(model, i, page.default_names)


# ---- 1. exemplars
st.subheader("1. Pick three exemplars per concept")
aw.show_message()
for i, col in zip(SLOTS, st.columns(3)):
    with col, st.container(border=True):
        aw.slot_card(page, i, slots[i])

c = st.columns([1, 1, 2.5])
seed = int(c[0].number_input("Seed of the samples", 0, 2**31 - 1, 0, key=keys.ARITH_SEED, persist_state="session"))
badges = c[1].toggle(
    # one toggle per model: on by default where the instrument's labels mean something, and a model picked
    # later gets its own default rather than the last model's choice (off on rooms, say)
    "Instrument labels", value=readable and page.problem is None, key=f"{keys.ARITH_BADGES_PREFIX}{model.name}",
    disabled=not readable, help="What the face instrument reads on each sample, to help you choose",
)
active = c[2].segmented_control(
    "Clicks add to", list(SLOTS), default=0, required=True, key=keys.ARITH_ACTIVE,
    format_func=lambda i: f"{LETTERS[i]}: {slot_name(i)}", persist_state="session",
)
with widgets.user_errors("generate samples to pick from"):
    grid = renderer.sample_images(model.loaded, model.key, seed, arith.GRID_SIZE)
grid_labels = arith.read(grid) if badges and readable else None
in_slot = {(p["seed"], p["index"]): LETTERS[i] for i in SLOTS for p in slots[i]}
cols = st.columns(arith.GRID_COLUMNS)
for k in range(arith.GRID_SIZE):
    with cols[k % arith.GRID_COLUMNS]:
        tag = f"#{k}" + (f" [{in_slot[(seed, k)]}]" if (seed, k) in in_slot else "")
        widgets.show_picture(grid[k], caption=tag + (f" · {arith.badge(grid_labels, k)}" if grid_labels else ""), min_px=128)
if grid_labels:
    st.caption(arith.BADGE_LEGEND)
pills_key = f"{keys.ARITH_PICK_PREFIX}{model.name}_{active}_{seed}_{revision}"
st.pills(
    f"Click samples to add them to {LETTERS[active]}: {slot_name(active)} (click again to take them out)",
    list(range(arith.GRID_SIZE)), selection_mode="multi", format_func=lambda k: f"#{k}", key=pills_key,
    default=list(dict.fromkeys(p["index"] for p in slots[active] if aw.on_this_grid(p, seed))),
    on_change=aw.sync_picks, args=(model, active, seed, pills_key),
)

e = st.columns(2)
with e[0].expander("Let the instrument pick the exemplars", icon=":material/auto_awesome:"):
    aw.fill_expander(page, seed)
with e[1].expander("Save and load concept sets", icon=":material/save:"):
    aw.save_load_expander(page, active, slots[active])

# ---- 2. the result
names = [slot_name(i) for i in SLOTS]
equation = f"{names[0]} − {names[1]} + {names[2]}"
st.subheader(f"2. {equation}")
short = [f"{LETTERS[i]} {len(slots[i])}/{MIN_PER_CONCEPT}" for i in SLOTS if len(slots[i]) < MIN_PER_CONCEPT]
if short:
    st.info(f"Pick at least {MIN_PER_CONCEPT} exemplars for each concept (the paper averages 3); still missing: "
            f"{', '.join(short)}.", icon=":material/info:")
    st.stop()
c = st.columns(3)
scale = c[0].slider("Noise around Y", 0.0, 1.0, NOISE_SCALE, 0.05, key=keys.ARITH_SCALE,
                    help="The 8 neighbours are Y plus uniform noise in [-scale, scale] per dimension (paper: 0.25)")
noise_seed = int(c[1].number_input("Noise seed", 0, 2**31 - 1, 0, key=keys.ARITH_NOISE_SEED))
clip = c[2].toggle("Clip to [-1, 1]", value=False, key=keys.ARITH_CLIP,
                   help="Keep the neighbours inside the uniform prior's box. The paper does not clip.")
with widgets.user_errors("compute the arithmetic"):
    out = arith.arithmetic_images(model, [arith.slot_codes(slots[i]) for i in SLOTS], scale, noise_seed, clip)
left, right = st.columns(2)
with left:
    st.markdown("**In z** (the paper's way): average the codes, then generate")
    widgets.show_grid(out.means, nrow=3, min_px=384, caption="G(mean z) of " + ", ".join(f"{LETTERS[i]} {names[i]}" for i in SLOTS))
    if readable:
        mean_labels = arith.read(out.means)
        st.caption(
            "Instrument on each G(mean z): " + ", ".join(f"{LETTERS[i]} {arith.badge(mean_labels, i)}" for i in SLOTS)
            + ". The arithmetic assumes each mean still shows its concept; where it does not, that concept's region of z "
            "is not convex (`dcgan latent-geometry` measures it per attribute)."
        )
    grid_picture = widgets.show_grid(
        out.result, nrow=3, min_px=384,
        caption=f"Y = {equation} in the centre; around it Y + uniform noise ±{scale:g} (noise seed {noise_seed}"
        f"{', clipped' if clip else ''}) · {model.describe()}",
    )
    if readable:
        st.markdown(f"**Instrument, 9 images:** {arith.verdict(out.result)}")
    widgets.download_png("Result as PNG", grid_picture, f"{widgets.file_stem('arithmetic', model.name, f'noise{noise_seed}')}.png",
                         key="arith_png")
with right:
    st.markdown("**In pixel space**: average the images, then add and subtract them")
    widgets.show_grid(out.pixel_means, nrow=3, min_px=384, caption="mean image of " + ", ".join(f"{LETTERS[i]}" for i in SLOTS))
    widgets.show_picture(out.pixel_result, min_px=256, width=256, caption="mean image A − B + C, clipped to 0..255")
    if readable:
        st.markdown(f"**Instrument, 1 image:** {arith.verdict(out.pixel_result[None])}")
