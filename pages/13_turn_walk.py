"""The turn vector (paper Fig. 8): one face walked along the learned turn axis, against the same walk as a pixel blend.

The axis is mean z of faces the instrument reads as looking right minus those looking left; the face is walked from
z - span/2 x axis to z + span/2 x axis. Every frame is read by the face instrument: does the head turn one way
(share of steps turning right, Spearman), and does the person stay (glasses, smiling, masculine read as the face's
own in >= 90% of frames)? The model's D says which frames look like its faces. Compute: `explorer.turn`;
library: `dcgan_core.analysis.turn_walk`; command line: `dcgan turn --model faces --seed 0`.
"""

import streamlit as st

from explorer import arithmetic_widgets as aw
from explorer import app_state as keys
from explorer import turn, widgets

page = aw.open_page(
    "Turn vector",
    "Paper section 6.3.2, Fig. 8 (a turn vector from faces looking left and right)",
    "Average the z of faces looking left and of faces looking right: the difference turns heads. Walk one face along it "
    "and the instrument reads every frame; the same walk done in pixel space (a blend of the two end images) is the "
    "baseline a model has to beat.",
)
model = page.model
if not page.readable or page.problem:
    st.info("The walk is measured with the face instrument: pick a 64-px faces model "
            f"({page.problem or 'the face instrument or an RGB model is missing'}).", icon=":material/info:")
    st.stop()

c = st.columns(3)
seed = int(c[0].number_input("Seed of the face", 0, 2**31 - 1, 0, key=keys.TURN_SEED,
                             help="the face is sample 0 of this seed (`dcgan turn --seed`)"))
frames = int(c[1].slider("Frames", 5, 15, 9, 2, key=keys.TURN_FRAMES))
span = float(c[2].slider("Span (turn vectors)", 0.5, 2.0, 1.0, 0.25, key=keys.TURN_SPAN,
                         help="the walk goes from the face minus half this many turn vectors to the face plus half"))
with widgets.user_errors("walk along the turn axis"):
    axis = turn.axis(model.loaded, model.key)
    walk = turn.walk(model.loaded, model.key, seed, frames, span)

widgets.show_grid(walk.latent_images, nrow=frames, min_px=1024,
                  caption=f"In z: face 0 of seed {seed} plus t x turn vector, t from {-span / 2:g} to {span / 2:g} · {model.describe()}")
widgets.show_grid(walk.pixel_images, nrow=frames, min_px=1024,
                  caption="In pixels: a linear blend of the first and last image above")
st.markdown(turn.figures_table(walk))
st.caption(turn.turn_caption(walk))
st.caption(
    f"Turn vector: mean z of {axis.n_right} faces read as looking right minus {axis.n_left} looking left, among "
    f"{axis.pool:,} samples of seed {axis.seed} (length {axis.length:.2f}). An attribute is kept when at least "
    f"{100 * turn.KEEP_SHARE:.0f}% of the frames read as the face itself; the instrument does not read skin or hair. "
    f"The same figures: `dcgan turn --model {model.name} --seed {seed} --frames {frames} --span {span:g}`."
)
