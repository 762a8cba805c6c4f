"""Do annotators agree? Several people's boxes of the same pool images compared, with each other and with the room
instrument: image level (both see the object, or both see none; Cohen's kappa) and box by box (matched at IoU >= 0.5;
F1, mean IoU), per image and in total.

Command line: `dcgan forget agree --model rooms --a alice --b bob` (or `--instrument`). Compute: `explorer.agreement`;
library: `dcgan_core.analysis.agreement` and `.annotations`.
"""

import streamlit as st

from dcgan_core.analysis.annotations import AnnotationStore
from dcgan_core.data.rooms import OBJECT_NAMES
from explorer import agreement, forget, widgets
from explorer import annotation_widgets as annotate
from explorer import app_state as keys
from explorer.charts.agreement import agreement_strip_figure
from explorer.model_picker import require_model

SHOWN = 24  # pool images drawn with both annotators' boxes

widgets.page_header(
    "Do annotators agree?",
    "Issue 24, item 3 · the boxes of paper section 6.3.1",
    "The window boxes the paper fitted on were one person's. Here the boxes several people drew on the same pool images "
    "(page *Forgetting to draw windows*, each under their own name) are compared with each other and with the room "
    "instrument: do they say the same images have the object, and do their boxes overlap (IoU at least 0.5)?",
)
model = require_model()
store = AnnotationStore()
c = st.columns([1.2, 3])
object_name = annotate.object_picker(c[0])
with widgets.user_errors("read the saved annotations"):
    identity = forget.model_identity(model.loaded, model.key, model.name)
    notes = store.load(identity, object_name)
names = notes.annotators
c[1].caption(f"{notes.n_boxes} boxes of {object_name} on {notes.n_images} images of {identity.describe()} by "
             f"{len(names)} annotators: {', '.join(names) or 'nobody yet'}. Read from `{store.path(identity, object_name)}`.")
annotate.page_link("6_forget_to_draw.py", "Annotate: draw the boxes under your name")
measurable = object_name in OBJECT_NAMES
if not names or (len(names) < 2 and not measurable):
    st.info(f"Agreement needs two annotators of {object_name}s" + (" (or one, and the room instrument)" if measurable else "")
            + ": annotate the same images under two names on the annotation page.", icon=":material/info:")
    st.stop()

s = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
if st.session_state.get(keys.AGREE_A, names[0]) not in names:
    st.session_state.pop(keys.AGREE_A)  # an annotator of another object or model
a = s[0].selectbox("Annotator A", names, key=keys.AGREE_A, help="The reference: recall is the share of A's boxes B matched.")
others = [n for n in names if n != a] + ([agreement.RUN_INSTRUMENT] if measurable else [])
if st.session_state.get(keys.AGREE_B, agreement.RUN_INSTRUMENT) not in others:
    st.session_state.pop(keys.AGREE_B, None)  # the previous B is A now, or gone with the object
b = s[1].selectbox("Annotator B", others, format_func=agreement.describe, key=keys.AGREE_B,
                   help="Another annotator, or the room instrument run now on A's images (from their saved z).")
iou = s[2].slider("Boxes match at IoU of at least", 0.1, 0.9, 0.5, step=0.05, key=keys.AGREE_IOU)
only_disagree = s[3].toggle("Only images where they differ", key=keys.AGREE_ONLY_DISAGREE)

with widgets.user_errors("compare the annotations"):
    result = agreement.agreement_of(model.loaded, model.key, notes.to_json(), a, b, iou)
a_name, b_name = a, agreement.describe(b)
if not result.images:
    st.info(f"{a_name} and {b_name} have no image in common ({result.only_a} by {a_name} only, {result.only_b} by "
            f"{b_name} only): annotate the same pool images to compare them.", icon=":material/info:")
    st.stop()

st.subheader("In total")
m = st.columns(5)
m[0].metric("Images compared", result.n_images, help=f"Annotated by both; {result.only_a} by {a_name} only, "
            f"{result.only_b} by {b_name} only.")
m[1].metric("Image-level agreement", agreement.pct(result.percent_agreement),
            help="Share of images where both say the object is there, or both say it is not.")
m[2].metric("Cohen's kappa", agreement.num(result.kappa),
            help="Image-level agreement beyond chance: 1 perfect, 0 what chance would give. Undefined (-) when both said "
            "the same thing of every image.")
m[3].metric("Box F1", agreement.num(result.f1), help=f"2 x matched boxes / all boxes: {result.n_matched} matched of "
            f"{result.n_a_boxes} ({a_name}) and {result.n_b_boxes} ({b_name}); recall {agreement.num(result.recall)}, "
            f"precision {agreement.num(result.precision)}.")
m[4].metric("Mean IoU, matched boxes", agreement.num(result.mean_iou))
t = result.table
st.caption(f"Images where both see a {object_name}: {t['both']}; neither: {t['neither']}; only {a_name}: {t['only_a']}; "
           f"only {b_name}: {t['only_b']}. Boxes are matched one to one (the most matches, then the largest total IoU) at IoU "
           f">= {iou:g}.")

st.subheader("Per image")
st.plotly_chart(agreement_strip_figure(result.images, a_name, b_name), width="stretch")
st.dataframe(agreement.table_rows(result.rows()), hide_index=True, width="stretch")
shown = agreement.shown_images(result, only_disagree, SHOWN)
if shown:
    with st.spinner("Generating..."), widgets.user_errors("draw the images"):
        grid = agreement.pictures(model.loaded, model.key, notes.to_json(), tuple((i.seed, i.index) for i in shown),
                                  tuple(i.a_boxes for i in shown), tuple(i.b_boxes for i in shown))
    widgets.show_grid(grid, nrow=min(8, len(shown)), min_px=1200, caption=(
        f"{len(shown)} of {result.n_images} compared pool images ("
        + ("where they differ" if only_disagree else "those where they differ first")
        + f"): {a_name}'s boxes in red, {b_name}'s in blue · " + ", ".join(f"{i.seed}#{i.index}" for i in shown)))
else:
    st.caption("They agree on every compared image.")

st.subheader("Every pair")
with widgets.user_errors("compare every pair"):
    pairs = agreement.every_pair(model.loaded, model.key, notes.to_json(), iou)
st.dataframe(agreement.table_rows(pairs), hide_index=True, width="stretch")
st.caption("Each pair of annotators on the images both annotated" + (", then each person against the room instrument "
           "run now on their images" if measurable else "") + f". Command line: `dcgan forget agree --model {model.name} "
           f"--object {object_name}` (add `--instrument` for the instrument).")
