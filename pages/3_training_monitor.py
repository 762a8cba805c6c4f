"""Follow a training run: loss curves and D's outputs from its log, and its sample grids over time (as in the paper's Figs. 2-3, samples after one and five epochs). Refreshes itself while the run is training.

Reads a run folder as `dcgan train --out RUN` writes it: metrics.jsonl and samples/step_NNNNNN.png,
or a shipped model's training log (models/NAME/training/, the same without checkpoints). Typed paths
must lie inside $DCGAN_RUNS_ROOTS (explorer/roots.py).
"""

from pathlib import Path

import streamlit as st

from explorer import app_state as keys
from explorer import charts, roots, runs, widgets
from explorer.model_picker import sidebar_model_picker

REFRESH_S = 5

widgets.page_header(
    "Training monitor",
    "Paper section 4 (training) and Figs. 2-3 (samples during training)",
    "Losses of both players, D's mean outputs on real and generated images, and the fixed-z sample grid "
    "the trainer writes every few hundred steps. A collapsing run shows D(G(z)) stuck near 0 and repeating samples.",
)
sidebar_model_picker()  # keeps the sidebar the same on every page

found = runs.find_runs()
c = st.columns([2, 2, 1])
typed = c[1].text_input("... or a run folder path", key=keys.MONITOR_PATH, placeholder="runs/rooms64")
if typed.strip():
    try:
        run = roots.confine_run(typed.strip())
    except roots.OutsideRoots as e:
        st.error(str(e), icon=":material/block:")
        st.stop()
    if not runs.is_run_dir(run):
        st.error(f"{run} is not a run folder: it has neither metrics.jsonl nor samples/. Give the folder passed to `dcgan train --out`.",
                 icon=":material/error:")
        st.stop()
elif found:
    run = c[0].selectbox("Run", found, format_func=runs.run_label, key=keys.MONITOR_RUN)
else:
    st.info("No run folders found (in $DCGAN_MODELS_DIR, runs/ or models/). Start one with "
            "`dcgan train --dataset rooms --image-size 64 --out runs/rooms64`, or type a run folder's path.",
            icon=":material/info:")
    st.stop()

if runs.is_training_log(run):
    st.caption(f"The training log shipped with model **{run.parent.name}** (`{run}`): its metrics and a few of its sample "
               "grids, no checkpoints.")
live = c[2].toggle("Live", value=runs.is_active(run), key=keys.MONITOR_LIVE,
                   help=f"Refresh every {REFRESH_S} s; on by default while the run is writing")


@st.fragment(run_every=REFRESH_S if live else None)
def monitor(run: Path) -> None:
    info = runs.read_run(run)
    last = info.records[-1] if info.records else None
    m = st.columns(5)
    m[0].metric("Step", f"{last['step']:,}" if last else "-")
    m[1].metric("Images seen", f"{last['images_seen']:,}" if last and "images_seen" in last else "-")
    m[2].metric("Images / s", f"{last['img_per_s']:.0f}" if last and "img_per_s" in last else "-")
    m[3].metric("D loss", f"{last['loss_d']:.3f}" if last else "-")
    m[4].metric("G loss", f"{last['loss_g']:.3f}" if last else "-")
    if info.records:
        g = st.columns(2)
        g[0].plotly_chart(charts.loss_figure(info.records), width="stretch", key="monitor_losses")
        g[1].plotly_chart(charts.d_output_figure(info.records), width="stretch", key="monitor_d")
    else:
        st.info(f"{run / 'metrics.jsonl'} has no records yet.", icon=":material/hourglass:")

    if not info.samples:
        st.info(f"No sample grids in {run / 'samples'} yet.", icon=":material/hourglass:")
        return
    steps = [s for s, _ in info.samples]
    newest = steps[-1]
    # follow the newest grid while the user has not moved the slider away from it
    if st.session_state.get(keys.MONITOR_STEP) not in steps or st.session_state.get(keys.MONITOR_STEP) == st.session_state.get(
        keys.MONITOR_FOLLOW
    ):
        st.session_state[keys.MONITOR_STEP] = newest
    st.session_state[keys.MONITOR_FOLLOW] = newest
    if len(steps) > 1:
        step = st.select_slider("Sample grid at step", steps, key=keys.MONITOR_STEP)
    else:
        step = steps[0]
    path = dict(info.samples)[step]
    try:
        grid = runs.read_grid(path)
    except (OSError, ValueError) as e:  # a grid being written right now
        st.warning(f"Could not read {path} ({e}); it will show on the next refresh.", icon=":material/warning:")
        return
    name = runs.run_label(run) if runs.is_training_log(run) else run.name
    widgets.show_picture(grid, caption=f"{name}: fixed-z samples at step {step:,} ({path})", width=768)


monitor(run)
with st.expander("Filter collapse (the paper's stated limit)", icon=":material/monitoring:"):
    collapse = runs.read_collapse(run)
    if collapse:
        st.plotly_chart(charts.collapse_figure(collapse), width="stretch", key="monitor_collapse")
        st.caption("Share of G's units, per layer and checkpoint, that draw the same for every z (collapsed) or are never on "
                   f"(dead), read on a fixed batch of codes. From `{run / runs.COLLAPSE_FILE}`.")
    else:
        st.caption(f"Not measured for this run. `dcgan collapse {run} --save {run / runs.COLLAPSE_FILE}` reads G's units at "
                   "every checkpoint it kept (snapshots/ or checkpoints/) and this chart draws the result.")
config = runs.read_run(run).config
if config:
    with st.expander("Run configuration (config.json)"):
        st.json(config)
