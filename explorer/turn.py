"""What the turn-walk page computes (paper Fig. 8): the turn axis per model, one face walked along it and as a pixel blend.

Library: `dcgan_core.analysis.turn_walk` (from the command line: `dcgan turn --model faces --seed 0`).
The axis is found once per model weights (a few seconds: AXIS_POOL faces generated and read); a walk
is cached per (weights, seed, frames, span).
"""

from __future__ import annotations

import streamlit as st

from dcgan_core.analysis import turn_walk
from dcgan_core.analysis.instruments import FACE_ATTRIBUTES
from explorer.arithmetic import face_instrument

KEEP_SHARE = turn_walk.KEEP_SHARE
SPACE_NAMES = {"z": "walk in z (the model)", "pixels": "pixel blend of the two end images"}


@st.cache_data(max_entries=8, show_spinner="Finding the turn axis: reading faces that look left and right...")
def axis(_model, model_key: tuple) -> turn_walk.TurnAxis:
    """The turn vector of these weights: mean z of faces read as looking right minus looking left."""
    return turn_walk.turn_axis(_model.generator, face_instrument())


@st.cache_data(max_entries=32, show_spinner=False)
def walk(_model, model_key: tuple, seed: int, frames: int, span: float) -> turn_walk.TurnWalk:
    """Face 0 of `seed` walked along the axis, and the pixel blend of the walk's ends, read by the instrument and D."""
    summary = turn_walk.turn_walks(_model.generator, face_instrument(), faces=1, seed=seed, frames=frames, span=span,
                                   axis=axis(_model, model_key), discriminator=_model.discriminator)
    return summary.walks[0]


def figures_table(w: turn_walk.TurnWalk) -> str:
    """Markdown: per walk, how the head turns, which attributes stay, and D's P(real) of the inner frames."""
    rows = ["| walk | moves right (steps) | Spearman | " + " | ".join(f"{k} kept" for k in FACE_ATTRIBUTES)
            + " | person kept | D's P(real), inner frames |",
            "|---|---:|---:|" + "---:|" * len(FACE_ATTRIBUTES) + "---|---:|"]
    for r in (w.latent, w.pixels):
        kept = " | ".join(f"{100 * share:.0f}%" for share in r.kept.values())
        d = f"{r.inner_d_real:.2f}" if r.d_real is not None else "n/a"
        rows.append(f"| {SPACE_NAMES[r.space]} | {100 * r.monotonic_share:.0f}% | {r.spearman:+.2f} | {kept} | "
                    f"{'yes' if r.person_kept else 'no'} | {d} |")
    return "\n".join(rows)


def turn_caption(w: turn_walk.TurnWalk) -> str:
    """The instrument's turn reading per frame of both walks."""
    return "  \n".join(f"Turn read along the {SPACE_NAMES[r.space]}: " + " · ".join(f"{t:+.2f}" for t in r.turn)
                       for r in (w.latent, w.pixels))
