"""Walk through a series of points in z and watch the pictures change (paper section 6.1, Fig. 4). Smooth transitions mean the model learned a structured space; a sudden jump would look like memorisation, and the page measures it.

Waypoints are k random points of a seed (default 9), with n steps between each pair,
linear or spherical interpolation. Pin samples you like as waypoints; see the path in a
2-D PCA projection of z; export the walk as a GIF or a PNG grid.
"""

import streamlit as st

from dcgan_core.generate import walk_grid
from explorer import app_state as keys
from explorer import charts, renderer, widgets
from explorer.model_picker import ActiveModel, require_model
from explorer.walk_widgets import pin_picker
from explorer.walk import clamp_state, pinned_samples, saved_waypoints, select_frame_from_plot, walk_animation_gif

METHODS = {"slerp": "spherical", "lerp": "linear"}
LAYOUTS = {"rows": "row per segment", "strip": "one strip"}

widgets.page_header(
    "Walking in the latent space",
    "Paper section 6.1, Fig. 4",
    "Interpolating between points in z shows whether the model has learned *relevant and interesting "
    "representations*: in a good model the room changes gradually (a lamp fades in, a window grows), "
    "with no sudden jumps. Jumps would suggest the model has memorised training images.",
)


@st.fragment
def walk_section(model: ActiveModel) -> None:
    """Everything that depends on the walk's settings: changing one reruns only this, not the page."""
    c = st.columns([1, 1, 1, 1.2, 1.6])
    seed = c[0].number_input("Seed of the points", 0, 2**31 - 1, 0, key=keys.WALK_SEED, persist_state="session")
    points = c[1].slider("Points", 2, 16, 9, key=keys.WALK_POINTS, persist_state="session")
    steps = c[2].slider("Steps between points", 1, 16, 8, key=keys.WALK_STEPS, persist_state="session")
    method = c[3].segmented_control(
        "Interpolation", list(METHODS), default="slerp", format_func=METHODS.get, required=True, key=keys.WALK_METHOD,
        persist_state="session",
    )
    layout = c[4].segmented_control(
        "Grid layout", list(LAYOUTS), default="rows", format_func=LAYOUTS.get, required=True, key=keys.WALK_LAYOUT,
        persist_state="session",
    )

    pick_seed, pins = pinned_samples()
    saved = saved_waypoints(model, st.session_state.get(keys.WALK_SAVED))

    with st.spinner("Rendering the walk..."), widgets.user_errors("render the walk"):
        walk = renderer.render_walk(
            model.loaded, model.key, int(seed), int(points), int(steps), method, int(pick_seed), pins, saved
        )
    n_frames, k = len(walk.frames), len(walk.waypoint_frames)
    settings = (
        f"{n_frames} frames: {k} waypoints ({len(pins)} pinned from seed {pick_seed}"
        f"{f', {len(saved.z)} saved codes of {saved.name!r}' if saved else ''}), {steps} steps between each pair, "
        f"{METHODS[method]} interpolation · seed {seed} · {model.describe()}"
    )
    pinned = f"pins{'-'.join(map(str, pins))}" if pins else ""
    stem = widgets.file_stem("walk", model.name, f"seed{seed}", f"{k}x{steps}", method, pinned, saved.name if saved else "")

    s = walk.smoothness
    m = st.columns(4)
    m[0].metric("Frames", n_frames)
    m[1].metric("Waypoints", k, help="\n".join(f"P{i + 1}: {label}" for i, label in enumerate(walk.waypoint_labels)))
    m[2].metric(
        "Smoothness", f"{s.ratio:.2f}",
        help="Largest / median change: the largest frame-to-frame pixel change divided by the median one. "
        "About 1-3 is a smooth walk; one step far above the rest is a jump.",
    )
    m[3].metric("Rendered in", f"{walk.seconds * 1000:.0f} ms")
    st.caption(
        f"Smoothness {s.ratio:.2f}: the largest change ({s.largest:.1f} / 255 per pixel) is from frame {s.largest_at} to "
        f"{s.largest_at + 1} (segment {walk.segment[s.largest_at] + 1}); the median change is {s.median:.1f}."
    )

    tab_grid, tab_anim, tab_path, tab_smooth = st.tabs(["Grid", "Animation", "Path in z", "Frame changes"])
    with tab_grid:
        grid = walk_grid(walk.frames, int(steps), layout)
        if layout == "strip":
            widgets.scrolling_strip(grid, caption=settings)
        else:
            widgets.show_picture(grid, caption=settings, min_px=1024)
        widgets.download_png("Frames as a PNG grid", grid, f"{stem}_{layout}.png", key="walk_png")

    with tab_path:
        clamp_state(keys.WALK_FRAME, 0, n_frames - 1)
        st.session_state.setdefault(keys.WALK_FRAME, 0)
        p = st.columns([2, 1])
        with p[1]:
            frame = st.slider("Frame", 0, n_frames - 1, key=keys.WALK_FRAME, help="or click a point of the path")
            widgets.show_picture(
                walk.frames[frame], min_px=256,
                caption=f"frame {frame}: segment {walk.segment[frame] + 1}, t = {walk.t[frame]:.2f} · seed {seed}",
            )
        with p[0]:
            st.plotly_chart(
                charts.walk_path_figure(walk, frame), key=keys.WALK_PATH_PLOT, on_select=select_frame_from_plot,
                selection_mode="points", width="stretch",
            )
            st.caption(
                f"The walk's {n_frames} codes projected on their two principal axes ({walk.explained.sum():.0%} of the "
                "path's variance; numpy SVD). Waypoints P1..Pk are drawn as their pictures."
            )

    with tab_smooth:
        st.plotly_chart(charts.frame_change_figure(walk), width="stretch")
        st.caption("Mean absolute pixel change (0-255 scale) between consecutive frames; dotted lines mark the waypoints, the "
                   "dashed line the median.")

    with tab_anim:  # filled last: the GIF is the slowest part, and the grid should not wait for it
        a = st.columns([2, 1])
        with a[1]:
            fps = st.slider("Frames per second", 2, 30, 12, key=keys.WALK_FPS)
            bounce = st.toggle(
                "Play back and forth", value=True, key=keys.WALK_BOUNCE, help="No jump from the last frame back to the first"
            )
        with st.spinner("Encoding the GIF..."):
            gif = renderer.walk_gif(
                model.loaded, model.key, int(seed), int(points), int(steps), method, int(pick_seed), pins, float(fps),
                bool(bounce), 1, saved,
            )
        with a[0]:
            widgets.show_animation(gif, caption=f"{settings} · {fps} fps", width=384)
        scale = max(1, 256 // model.config.image_size)  # the file: enlarged, encoded only when downloaded
        a[1].download_button(
            "Animation as GIF", lambda: walk_animation_gif(walk.frames, float(fps), scale, bool(bounce)),
            file_name=f"{stem}.gif", mime="image/gif", icon=":material/download:",
        )


active = require_model()
walk_section(active)
pin_picker(active)
