"""The Latent walk page's widgets outside its fragment: the pin picker (samples and your saved codes as waypoints)."""

from __future__ import annotations

import streamlit as st

from . import app_state as keys
from . import renderer, saved_codes, widgets


def pin_picker(model) -> None:
    """Samples to pin as the walk's first waypoints, and saved codes to start at. Drawn below the walk and outside
    its fragment, so a seed change does not redraw them; a change here reruns the page, and the walk reads
    the choices with `walk.pinned_samples` and `walk.saved_waypoints`."""
    with st.expander("Pin samples or your images as waypoints", icon=":material/push_pin:"):
        saved_codes.saved_codes_picker(
            model, "Start at saved codes", keys.WALK_SAVED,
            help="Codes saved on the Your images page (or any concept set of this model) become the first waypoints.",
        )
        pick_seed = st.number_input("Seed of the samples to pick from", 0, 2**31 - 1, 0, key=keys.WALK_PICK_SEED)
        with widgets.user_errors("generate samples to pick from"):
            pick = renderer.sample_images(model.loaded, model.key, int(pick_seed), renderer.PICK_GRID_SIZE)
        cols = st.columns(8)
        for i in range(renderer.PICK_GRID_SIZE):
            with cols[i % 8]:
                widgets.show_picture(pick[i], caption=f"#{i}", min_px=128)
        st.pills(
            "Pin these samples (the walk starts at them, in the order you pin them)",
            list(range(renderer.PICK_GRID_SIZE)), selection_mode="multi", format_func=lambda i: f"#{i}",
            key=f"{keys.WALK_PINS_PREFIX}{int(pick_seed)}",
        )
