"""Make the generator forget to draw windows (paper section 6.3.1, Fig. 6): draw window boxes on generated rooms with the mouse; the next page fits a logistic regression that finds the feature maps drawing windows, then drops those maps and measures how many windows disappear, against dropping random maps.

Annotations are saved automatically per model and object (JSON files in $DCGAN_ANNOTATIONS_DIR,
default ~/.local/share/dcgan-explorer/annotations) and can be exported and imported. The object
is a field: beds, lamps, doors, pictures and rugs work the same way. Widgets:
`explorer.annotation_widgets`; compute: `explorer.forget`; library: `dcgan_core.analysis.object_removal` and `.annotations`.
"""

import streamlit as st

from dcgan_core.analysis import object_removal as removal
from dcgan_core.analysis.annotations import MAX_IMPORT_BYTES, POOL_MAX, AnnotationStore
from dcgan_core.analysis.coco import to_coco_json
from dcgan_core.data.rooms import OBJECT_NAMES
from explorer import annotation_widgets as annotate
from explorer import app_state as keys
from explorer import annotation_curve, annotator_name, forget, widgets
from explorer.model_picker import require_model

widgets.page_header(
    "Forgetting to draw windows",
    "Paper section 6.3.1, Fig. 6",
    "Does the generator have feature maps that *draw windows*? Draw boxes around the windows of generated rooms "
    "(the paper drew 52 boxes on 150 samples), fit a logistic regression that predicts from the second-highest "
    "convolution layer whether an activation lies on a window, then zero the maps with positive weights everywhere: "
    "the rooms are drawn again without their windows. Dropping as many random maps is the control.",
)
model = require_model()  # any size: boxes are kept in the model's own pixels, the instrument resizes to its 64 px
store = AnnotationStore()

c = st.columns([1.2, 1, 1, 2])
object_name = annotate.object_picker(c[0])
annotator_name.annotator_name(c[0])  # every box is saved under it (read by the annotator below)
pool_seed = int(c[1].number_input("Pool seed", 0, 2**31 - 1, 0, key=keys.FORGET_POOL_SEED, persist_state="session"))
pool_size = int(c[2].number_input(
    "Pool size", 10, POOL_MAX, removal.PAPER_IMAGES, step=10, key=keys.FORGET_POOL_SIZE, persist_state="session",
    help=f"Generated images offered for annotation (the paper used {removal.PAPER_IMAGES}).",
))
measurable = object_name in OBJECT_NAMES
annotate.warn_unless_rooms(model)

with widgets.user_errors("read the saved annotations"):
    identity = forget.model_identity(model.loaded, model.key, model.name)
    notes = store.load(identity, object_name)
    images = forget.pool_images(model.loaded, model.key, pool_seed, pool_size)
c[3].caption(
    f"Annotations of {object_name} on {identity.describe()} are saved automatically in "
    f"`{store.path(identity, object_name)}`."
)

# ---------------------------------------------------------------------------- 1. annotate
st.subheader("1 · Annotate")
annotate.annotation_panel(model, store, identity, object_name, pool_seed, pool_size, images)  # reruns on its own
annotation_curve.growing_curve(model, identity, notes)

st.subheader("Share, import, auto-annotate")
t = st.columns(3)
with t[0]:
    st.download_button(
        "Export annotations (JSON)", lambda: store.load(identity, object_name).to_json(), mime="application/json",
        on_click="ignore",
        file_name=f"{widgets.file_stem('annotations', model.name, identity.fingerprint[:8], object_name)}.json",
        icon=":material/download:",
    )
    st.download_button(  # both read the store when clicked: step 1 reruns on its own, so `notes` may be older
        "Export as COCO JSON", lambda: to_coco_json(store.load(identity, object_name), model.name),
        mime="application/json", on_click="ignore",
        file_name=f"{widgets.file_stem('annotations', model.name, identity.fingerprint[:8], object_name)}.coco.json",
        icon=":material/download:", help="For other annotation tools (CVAT, Label Studio, ...)",
    )
    st.caption(f"Every annotated image: seed, index, z and boxes in {model.config.image_size}-px image pixels.")
with t[1]:
    st.file_uploader(
        "Import annotations (JSON exported here, or COCO)", type=["json"], key=keys.FORGET_IMPORT,
        on_change=annotate.import_annotations, args=(store, identity, object_name, model.config),
        max_upload_size=MAX_IMPORT_BYTES // 1_000_000,
        help="Only annotations drawn on this model's weights and for this object are accepted. COCO files from other tools "
        "import when their image names are the pool's (rooms_seed0_00012.png, as the COCO export names them).",
    )
with t[2]:
    st.button(
        "Auto-annotate with the instrument", icon=":material/smart_toy:", disabled=not measurable,
        on_click=annotate.auto_annotate, args=(model.loaded, store, identity, object_name, pool_seed, pool_size),
    )
    st.caption(
        "**For a demo without drawing.** The room instrument (a classifier, not a person) boxes the "
        f"{object_name}s of every pool image you have not annotated by hand; these are marked instrument-made."
        + forget.instrument_size_note(model.config.image_size)
        if measurable else f"The room instrument does not know {object_name}s: annotate them by hand."
    )
    st.button(
        "Remove instrument-made annotations", icon=":material/delete:", disabled=notes.n_instrument == 0,
        on_click=annotate.remove_instrument_made, args=(store, identity, object_name),
    )
older = store.others(identity, object_name)
if older:
    st.caption(
        f"{len(older)} annotation file(s) of {model.name} for other weights (e.g. an earlier training step) are in "
        f"`{store.root}`; they do not apply to these weights."
    )

# ---------------------------------------------------------------------------- 2, 3: the next page
st.subheader("2 · Fit, 3 · Drop and measure")
st.markdown(f"With your {object_name} boxes drawn, fit the logistic regression, drop the maps it finds and measure "
            "what disappears on the next page:")
annotate.page_link("9_forget_fit_and_drop.py", "Forgetting windows: fit, drop, measure")
