"""Which of G's units draw which objects (GAN Dissection, Bau et al. 2019): detectors per layer against a random G, the units of a class ranked by IoU, and what one unit draws: its top activations with its region outlined, its IoU per class, the pictures without it.

Every unit's upsampled map is thresholded at a top quantile and scored by its IoU with the class
masks the room segmenter reads off G's own pictures; a randomly initialised G scored against
the same masks is the baseline. The report comes from `dcgan dissect --model NAME --save
models/NAME/dissection.json`, or is computed here. Compute: `explorer.dissection`; charts:
`explorer.charts.dissection`; library: `dcgan_core.analysis.dissection`.
"""

import streamlit as st

from explorer import app_state as keys
from explorer import dissection as dis
from explorer import widgets
from explorer.charts.dissection import class_layers_figure, detectors_figure, unit_iou_figure
from explorer.model_picker import require_model

widgets.page_header(
    "Dissecting G",
    "Beyond the paper: GAN Dissection (Bau et al. 2019), the paper's \"filters learnt\" question asked of G (section 6.2)",
    "Does G have units that draw *windows*, *beds*, *lamps*? For every unit (feature map) of every layer of G, where it is "
    "strongly on is compared with where the room segmenter finds each class in G's own pictures (IoU over many samples). "
    "A unit whose on-region matches a class is a *detector* of it; a randomly initialised G, scored against the same "
    "masks, shows how much of that chance alone gives.",
)
model = require_model(what="dissection")
segmenter = dis.require_segmenter(model)

with widgets.user_errors("read the dissection"):
    report, note = dis.report_of(model, segmenter)
if note:
    st.caption(note)
if report is None:
    st.info(f"No dissection of {model.name} yet: dissect it here, or run `{dis.save_command(model)}` and reload.",
            icon=":material/info:")
    c = st.columns([1, 1, 3], vertical_alignment="bottom")
    n = int(c[0].selectbox("Samples", dis.N_CHOICES, index=dis.N_CHOICES.index(dis.DEFAULT_N), key=keys.DISSECT_N,
                           help="pictures dissected, for the trained G and for a random G (about 0.1 s each on 2 CPU cores)"))
    if not c[1].button("Dissect", type="primary", icon=":material/biotech:", key=keys.DISSECT_RUN):
        st.stop()
    dis.ask_for_dissection(model, n)
    with widgets.user_errors("dissect the model"):
        report, _ = dis.report_of(model, segmenter)

trained, random = report.trained, report.random
st.subheader("Detectors per layer")
st.caption(f"Dissection: {report.source}, z seed {trained.seed} · {model.describe()}. A unit counts as a detector of its "
           f"best class when their IoU is at least {trained.detector_iou}.")
st.plotly_chart(detectors_figure(trained, random), width="stretch", key="dissect_detectors")

st.subheader("Each class: its best units against a random G's")
st.dataframe(report.contrast_rows(), hide_index=True, width="stretch")
classes = report.classes_present()
dis.keep_choice(keys.DISSECT_CLASS, classes, report.default_class())
c = st.columns([1, 1, 3])
class_name = c[0].selectbox("Class", classes, key=keys.DISSECT_CLASS)
layer_key = keys.DISSECT_LAYER_PREFIX + class_name
dis.keep_choice(layer_key, report.layers(), trained.best_layer(class_name))
layer = int(c[1].selectbox("Layer", report.layers(), key=layer_key, format_func=lambda i: f"layer {i} ({trained.layer(i).size} px)"))
x = report.contrast(class_name)
m = c[2].columns(4)
m[0].metric("Best layer", x.best_layer)
m[1].metric("Best IoU", f"{x.best_iou:.3f}")
if random is not None:
    m[2].metric("Random G's best", f"{x.random_best_iou:.3f}", help="the best unit of a random G, any layer, same masks")
    m[3].metric("Ratio", f"{x.ratio:.1f}x")

t = st.columns([3, 2])
with t[0]:
    st.caption(f"The {dis.TABLE_UNITS} units of layer {layer} whose on-region best matches {class_name}.")
    st.dataframe(report.unit_rows(class_name, layer), hide_index=True, width="stretch", height=300)
with t[1]:
    st.plotly_chart(class_layers_figure(trained, random, class_name), width="stretch", key="dissect_class_layers")

st.subheader("What one unit draws")
ranked = [int(u) for u in trained.top_units(class_name, layer)]
unit_key = f"{keys.DISSECT_UNIT_PREFIX}{class_name}_{layer}"
dis.keep_choice(unit_key, ranked, ranked[0])
iou = trained.layer(layer).iou[:, trained.class_index(class_name)]
unit = int(st.selectbox("Unit (ranked by IoU with the class)", ranked, key=unit_key,
                        format_func=lambda u: f"unit {u} · {class_name} IoU {iou[u]:.3f}"))
with widgets.user_errors("show the unit"):
    view = dis.unit_view(model.loaded, model.key, report, report.key, layer, unit)
st.caption(
    f"Unit {unit} of layer {layer}: best class **{view.best_class}** (IoU {view.best_iou:.3f}); its on-region (yellow) is its "
    f"top {view.top_fraction:.1%} of values. Its {len(view.indices)} strongest samples of {dis.UNIT_VIEW_N} (seed {trained.seed}), "
    f"then the same z with the unit removed everywhere (mean change {view.change:.1f} of 255), then where they differ (x{dis.DIFF_GAIN})."
)
g = st.columns(3)
for col, pictures, caption in zip(g, (view.outlined, view.dropped, view.differences),
                                  ("top activations, on-region outlined", f"unit {unit} removed", "difference")):
    with col:
        widgets.show_grid(pictures, nrow=4, caption=caption, min_px=512)
random_best = {name: random.best_iou(name) for name in classes} if random is not None else None
st.plotly_chart(unit_iou_figure(trained, layer, unit, random_best), width="stretch", key="dissect_unit_iou")
st.caption("Paint with these units (switch them on or off in a region of a picture) on the *Paint with units* page.")
