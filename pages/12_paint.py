"""Paint with G's units (GANPaint, Bau et al. 2019): pick a picture, paint a region with the mouse, and switch a class's top units on (insert a window) or off (remove it) there; before, after and their difference side by side, with the segmenter's reading of the class in the region.

The units are a class's top units of one layer from the model's dissection (the *Dissecting G*
page, or `dcgan dissect --model NAME --save models/NAME/dissection.json`). Inserted units are
set to strength x their mean value over the class's pixels inside the painted cells of the layer;
removed ones to 0.
Edits stack (each applies on top of the last, in one forward pass); Undo and Reset take them
back. Compute: `explorer.dissection`; widgets: `explorer.paint_widgets`; library:
`dcgan_core.analysis.interventions`.
"""

import streamlit as st

from explorer import app_state as keys
from explorer import dissection as dis
from explorer import paint_widgets as paint
from explorer import widgets
from explorer.model_picker import require_model

DEFAULT_K = {"insert": dis.DEFAULT_UNITS, "remove": dis.DEFAULT_UNITS}  # 20 window units of layer 1 at strength 3 paint windows
MODE_WORDS = {"insert": "insert (switch on)", "remove": "remove (switch off)"}

widgets.page_header(
    "Paint with units",
    "Beyond the paper: GANPaint (Bau et al. 2019), interventions on the units the dissection found",
    "Paint a region of a generated room with the mouse, pick a class, and G draws it again with that class's top units "
    "switched **on** inside the region (a window appears on the wall) or **off** (the window goes). Nothing but the "
    "units of one layer changes: what G draws around the edit is G's own doing.",
)
model = require_model(what="painting with units")
segmenter = dis.require_segmenter(model)
with widgets.user_errors("read the dissection"):
    report, note = dis.report_of(model, segmenter)
if report is None:
    st.info(f"Painting needs a dissection of {model.name}: press *Dissect* on the Dissecting G page, or run "
            f"`{dis.save_command(model)}`.{' ' + note if note else ''}", icon=":material/info:")
    st.stop()

z, picture_key, picture_words = paint.picture_picker(model)
classes = report.classes_present()
dis.keep_choice(keys.PAINT_CLASS, classes, report.default_class())
c = st.columns([1, 1.4, 1.6])
class_name = c[0].selectbox("Class", classes, key=keys.PAINT_CLASS)
mode = c[1].segmented_control("Mode", list(MODE_WORDS), default="insert", required=True, key=keys.PAINT_MODE,
                              format_func=MODE_WORDS.get)
with st.expander("Units, strength and brush", icon=":material/tune:"):
    s = st.columns(5)
    layer_key = keys.PAINT_LAYER_PREFIX + class_name
    dis.keep_choice(layer_key, report.layers(), report.trained.best_layer(class_name))
    layer = int(s[0].selectbox("Layer", report.layers(), key=layer_key,
                               format_func=lambda i: f"layer {i} ({report.trained.layer(i).size} px)",
                               help=f"default: the layer whose best {class_name} unit scores highest"))
    n_units = report.trained.layer(layer).n_units
    k = int(s[1].number_input(f"Top {class_name} units", 1, n_units, min(DEFAULT_K[mode], n_units),
                              key=f"{keys.PAINT_K_PREFIX}{mode}_{layer}"))
    strength = float(s[2].slider("Strength", 0.5, 8.0, dis.DEFAULT_STRENGTH, step=0.5, key=keys.PAINT_STRENGTH,
                                 disabled=mode == "remove",
                                 help=f"inserted units are set to this times their mean value over {class_name} pixels"))
    tool = s[3].segmented_control("Draw", list(paint.TOOLS), default="freedraw", required=True, key=keys.PAINT_TOOL,
                                  format_func=paint.TOOLS.get)
    brush = int(s[4].slider("Brush (image px)", 1, 16, 6, key=keys.PAINT_BRUSH))

edits = paint.edits_of(model, picture_key)
with widgets.user_errors("paint"):
    shown = dis.painted(model, segmenter, z, edits, report)
left, right = st.columns([paint.CANVAS_PX + 40, 420])
with left:
    st.caption(f"{picture_words} · {model.describe()}")
    paint.canvas(shown.after, picture_key, tool, brush)
with right:
    paint.show_message()
    region = paint.painted_region()
    st.markdown(f"**{int(region.sum())} px painted**" if region is not None else "Paint the region to edit on the picture.")
    args = (model, picture_key)
    st.button(f"Apply: {mode} {class_name}", type="primary", icon=":material/brush:", key=keys.PAINT_APPLY,
              on_click=paint.apply_edit, args=(*args, report, class_name, layer, k, mode, strength))
    b = st.columns(2)
    b[0].button("Undo", icon=":material/undo:", key=keys.PAINT_UNDO, on_click=paint.undo, args=args, disabled=not edits)
    b[1].button("Reset", icon=":material/restart_alt:", key=keys.PAINT_RESET, on_click=paint.reset, args=args,
                disabled=not edits)
    for i, edit in enumerate(edits):
        st.caption(f"Edit {i + 1}: {edit.describe()}")
    st.caption("Hover over the picture for the canvas toolbar (undo a stroke, clear). Each Apply stacks an edit on the "
               "picture shown; the canvas then starts empty on the edited picture.")

st.subheader("Before | after | difference")
if edits:
    last = edits[-1]
    st.markdown(f"**{paint.share_text(last.class_name, shown.share_before, shown.share_after)}** (the last edit's region, "
                f"read by the segmenter) · change inside the region {shown.change_inside:.1f}, outside "
                f"{shown.change_outside or 0:.1f} (of 255, mean per pixel)")
else:
    st.caption("No edit yet: after is before.")
p = st.columns(3)
for col, picture, caption in zip(p, (shown.before, shown.after, shown.difference),
                                 ("before", f"after {len(edits)} edit{'s' * (len(edits) != 1)}", f"|after - before| x{dis.DIFF_GAIN}")):
    with col:
        widgets.show_picture(picture, caption=caption, min_px=384)
