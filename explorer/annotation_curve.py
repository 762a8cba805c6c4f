"""The fit page's "how many annotations are enough?" section: refits on growing subsets of the annotations,
computed once per (model, annotation set) and shared by every session."""

from __future__ import annotations

import streamlit as st

from dcgan_core.analysis.annotation_curve import DEFAULT_REFITS, DEFAULT_SIZES, PAPER_BOXES, AnnotationCurve, removal_curve
from dcgan_core.analysis.annotations import AnnotationSet
from dcgan_core.data.rooms import OBJECT_NAMES

from . import app_state as keys
from . import background_curve, widgets
from .charts.forget import annotation_curve_figure
from .forget import room_instrument


@st.cache_data(max_entries=4, show_spinner=False)
def curve(_model, model_key: tuple, annotations_json: str, n: int, refits: int) -> AnnotationCurve:
    annotations = AnnotationSet.from_json(annotations_json)
    bar = st.progress(0.0, text="Refitting on subsets of your annotations...")
    result = removal_curve(_model.generator, room_instrument(), annotations, DEFAULT_SIZES, refits, n,
                           progress=lambda done, total: bar.progress(done / total, text=f"Fit {done} of {total}..."))
    bar.empty()
    return result


def how_many_are_enough(model, annotations: AnnotationSet, asked_key: str) -> None:
    """An expander: on request, the removal rate against the number of annotated images (10, 20, 40, ...),
    mean ± std over draws, beside random maps, with the paper's 52 boxes marked. Only for objects the room
    instrument measures."""
    if annotations.object_name not in OBJECT_NAMES:
        return
    with st.expander("How many annotations are enough?", icon=":material/query_stats:"):
        usable = sum(1 for a in annotations.images if a.annotated)
        st.caption(f"Fits the regression on {', '.join(map(str, [s for s in DEFAULT_SIZES if s <= usable]))} of your {usable} "
                   f"annotated images ({DEFAULT_REFITS} random draws each; all of them once), drops each fit's maps and "
                   "measures on 300 fresh samples with the room instrument. About 20 s per fit on a 2-core CPU.")
        if st.button("Draw the curve", key=asked_key, disabled=usable < 2, icon=":material/show_chart:"):
            st.session_state[asked_key + "_done"] = annotations.to_json()
        if st.session_state.get(asked_key + "_done") != annotations.to_json():
            return
        with widgets.user_errors("refit on subsets"):
            result = curve(model.loaded, model.key, annotations.to_json(), 300, DEFAULT_REFITS)
            st.plotly_chart(annotation_curve_figure(result.points, PAPER_BOXES), width="stretch")
            st.caption(f"Share of the samples with a {result.object_name} that lose it when a fit's maps are dropped; error "
                       f"bars: std over the draws. Command line: `dcgan forget curve --model {model.name}`.")


def growing_curve(model, identity, notes: AnnotationSet) -> None:
    """On the annotation page: the removal curve refitted in the background each time the annotated images reach
    10, 20, 40, 80, 150 (`explorer.background_curve`); it polls while a fit runs."""
    if notes.object_name not in OBJECT_NAMES:
        return
    folder = background_curve.curve_folder(identity, notes.object_name)
    annotated = len(background_curve.by_hand(notes).images)
    with widgets.user_errors("start the background refit"):
        background_curve.start_due(model.loaded.path, notes, folder)
    running = background_curve.progress(folder, annotated).running is not None

    @st.fragment(run_every=3 if running else None)
    def panel() -> None:
        now = background_curve.progress(folder, annotated)
        if now.running is None and running:  # the job just ended: start the next one that is due
            background_curve.start_due(model.loaded.path, notes, folder)
            now = background_curve.progress(folder, annotated)
        if now.points:
            st.plotly_chart(annotation_curve_figure(now.points, PAPER_BOXES), width="stretch", key=keys.FORGET_GROWING_CURVE)
        state = [f"refitting on {now.running} images in the background..." if now.running else "",
                 f"the next point comes at {now.next_size} images annotated by hand (you have {annotated})" if now.next_size else ""]
        st.caption(
            f"Windows removed when the maps fitted on 10, 20, 40, ... of your annotated images are dropped "
            f"({background_curve.REFITS} draws each, {background_curve.N_MEASURED} fresh samples, room instrument), "
            f"against random maps; each point is fitted once, when you reach its size. "
            + "; ".join(s for s in state if s).capitalize()
        )
        for size, why in now.failed.items():
            st.warning(f"The refit on {size} images failed: {why}", icon=":material/warning:")

    with st.expander("How many annotations are enough? (refitted as you annotate)", icon=":material/query_stats:"):
        panel()
